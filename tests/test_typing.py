"""The integration is fully typed: mypy --strict passes (the quality scale's strict-typing)."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).parent.parent


def test_mypy_strict() -> None:
    """No type errors anywhere in custom_components/konnected_aws."""
    result = subprocess.run(
        # No --ignore-missing-imports: every import is checked (boto3 through boto3-stubs).
        [sys.executable, "-m", "mypy", "--strict", "custom_components/konnected_aws"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
