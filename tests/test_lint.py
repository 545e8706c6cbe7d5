"""The repository is clean under Home Assistant core's ruff rules (pyproject.toml [tool.ruff])."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).parent.parent


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the venv's ruff (requirements_test.txt pins it) from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_check_is_clean() -> None:
    """`ruff check .` finds nothing, and the configuration draws no warning (e.g. removed rules)."""
    result = _ruff("check", "--output-format", "concise", ".")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in result.stderr.lower(), output


def test_ruff_applies_the_project_rules() -> None:
    """The check above runs with this project's rules: a non-imperative docstring is refused.

    Guards against a clean result that only means the configuration was not read.
    """
    source = '"""A module."""\n\n\ndef answer() -> int:\n    """The answer."""\n    return 42\n'
    result = _ruff(
        "check",
        "--output-format",
        "concise",
        "--stdin-filename",
        "custom_components/konnected_aws/lint_probe.py",
        stdin=source,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "D401" in result.stdout, result.stdout + result.stderr
