"""The manifest's requirements resolve under Home Assistant's package_constraints.txt.

Home Assistant installs a custom integration's requirements one by one with
`uv pip install --upgrade <requirement> --constraint homeassistant/package_constraints.txt`
(home-assistant/core 2026.10.4, homeassistant/requirements.py `pip_kwargs`,
homeassistant/util/package.py `install_package`); a requirement that contradicts a constraint is
unsatisfiable and the integration does not load. That happened with `aiomqtt==2.4.0` against
2026.10's `aiomqtt>=2.5.0`. These checks are offline; tests/test_install.py runs Home Assistant's
own installer against PyPI.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
import importlib.metadata
import importlib.util
from pathlib import Path
import subprocess
import sys
import tempfile
from typing import cast

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
import pytest

from devtools.user_ha import COMPONENTS, manifest_requirements, suite_ha_version

INTEGRATION = COMPONENTS["konnected_aws"]


def ha_constraints_file() -> Path:
    """The installed Home Assistant's constraints (the file its installer passes to uv)."""
    spec = importlib.util.find_spec("homeassistant")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "package_constraints.txt"


def parse_constraints(text: str) -> dict[NormalizedName, list[Requirement]]:
    """Constraint lines by distribution name (markers evaluated for this interpreter)."""
    constraints: dict[NormalizedName, list[Requirement]] = {}
    environment = cast("dict[str, str]", default_environment())
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            constraints.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return constraints


def _requirements() -> list[Requirement]:
    return [Requirement(text) for text in manifest_requirements()]


@dataclass
class _Range:
    """The versions a specifier set allows, as one interval plus exact pins and exclusions."""

    lower: Version | None = None
    lower_inclusive: bool = True
    upper: Version | None = None
    upper_inclusive: bool = True
    pins: list[str] = field(default_factory=list)

    def raise_lower(self, version: Version, inclusive: bool) -> None:
        if self.lower is None or version > self.lower or (version == self.lower and not inclusive):
            self.lower, self.lower_inclusive = version, inclusive

    def cut_upper(self, version: Version, inclusive: bool) -> None:
        if self.upper is None or version < self.upper or (version == self.upper and not inclusive):
            self.upper, self.upper_inclusive = version, inclusive

    def add(self, spec: Specifier) -> None:
        operator, version = spec.operator, spec.version
        if operator in ("==", "===") and not version.endswith(".*"):
            self.pins.append(version)
        elif operator == "==":  # a prefix match: X.Y.* is [X.Y.dev0, X.(Y+1).dev0)
            self._prefix(version.removesuffix(".*"))
        elif operator == "~=":  # ~=X.Y.Z is >=X.Y.Z together with ==X.Y.*
            self.raise_lower(Version(version), inclusive=True)
            self._prefix(".".join(version.split(".")[:-1]))
        elif operator in (">=", ">"):
            self.raise_lower(Version(version), inclusive=operator == ">=")
        elif operator in ("<=", "<"):
            self.cut_upper(Version(version), inclusive=operator == "<=")
        # "!=" only removes single points (or prefixes) from a range: checked below on pins

    def _prefix(self, prefix: str) -> None:
        *head, last = prefix.split(".")
        self.raise_lower(Version(f"{prefix}.dev0"), inclusive=True)
        self.cut_upper(Version(".".join([*head, str(int(last) + 1)]) + ".dev0"), inclusive=False)


def satisfiable(specifiers: SpecifierSet) -> bool:
    """Whether any version meets every specifier (pre-releases count, as in uv with constraints)."""
    allowed = _Range()
    for spec in specifiers:
        allowed.add(spec)
    if allowed.pins:
        return any(specifiers.contains(pin, prereleases=True) for pin in allowed.pins)
    if allowed.lower is None or allowed.upper is None:
        return True
    if allowed.lower < allowed.upper:
        return True
    single = allowed.lower == allowed.upper and allowed.lower_inclusive and allowed.upper_inclusive
    return single and specifiers.contains(allowed.lower, prereleases=True)


@pytest.mark.parametrize(
    ("specifiers", "expected"),
    [
        ("==2.4.0,>=2.5.0", False),  # the manifest of 0.1.0 against HA 2026.10
        (">=2.5.0,<3", True),
        (">=2.5.0,<3,>=2.5.0", True),
        (">=1.43,==1.42.97", False),
        ("==1.42.97", True),
        ("", True),
        (">=3,<3", False),
        (">3,<=3", False),
        (">=3,<=3", True),
        (">=3,<=3,!=3", False),
        ("~=2.4.0,>=2.5.0", False),
        ("~=2.4,>=2.5.0", True),
        ("==2.4.*,>=2.5", False),
        ("==2.*,>=2.5,<3", True),
        ("!=1.0,==1.0", False),
        ("<5.0,>=4.16.0", True),
    ],
)
def test_satisfiable_refuses_contradictions(specifiers: str, expected: bool) -> None:
    """The intersection check itself: a lenient one would let the 0.1.0 conflict through."""
    assert satisfiable(SpecifierSet(specifiers)) is expected


def test_requirements_are_ranges_from_pypi() -> None:
    """No exact pins (they fight HA's constraints), no URLs, no markers that hide a requirement,
    no spaces (hassfest, script/hassfest/requirements.py `validate_requirements_format`)."""
    for text in manifest_requirements():
        assert " " not in text, text
    for requirement in _requirements():
        assert requirement.url is None, requirement
        assert requirement.marker is None, requirement
        assert not [spec for spec in requirement.specifier if spec.operator in ("==", "===")], (
            requirement
        )


def test_requirements_intersect_home_assistant_constraints() -> None:
    """Each requirement together with every constraint on the same distribution allows a version."""
    constraints = parse_constraints(ha_constraints_file().read_text())
    assert constraints, "no constraints read"
    for requirement in _requirements():
        combined = SpecifierSet(str(requirement.specifier))
        for constraint in constraints.get(canonicalize_name(requirement.name), []):
            combined &= constraint.specifier
        assert satisfiable(combined), f"{requirement} conflicts with Home Assistant's {combined}"


def _resolve(requirements: list[str]) -> subprocess.CompletedProcess[str]:
    """uv, the resolver Home Assistant uses, offline against this environment and constraints."""
    with (
        tempfile.TemporaryDirectory() as empty_cache,
        tempfile.NamedTemporaryFile("w", suffix=".txt") as listed,
    ):
        listed.write("\n".join(requirements) + "\n")
        listed.flush()
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "uv",
                "pip",
                "install",
                "--dry-run",
                "--offline",
                "--cache-dir",
                empty_cache,
                "--python",
                sys.executable,
                "-r",
                listed.name,
                "--constraint",
                str(ha_constraints_file()),
            ],
            capture_output=True,
            text=True,
            check=False,
        )


def test_uv_resolves_the_requirements_with_the_installed_home_assistant() -> None:
    """All of them at once, under HA's constraints, and this environment already has them."""
    result = _resolve(manifest_requirements())
    assert result.returncode == 0, result.stderr
    assert "Would make no changes" in result.stderr, result.stderr


def test_uv_refuses_the_old_pin() -> None:
    """The same resolver run fails on 0.1.0's pin, so the check above cannot pass vacuously."""
    result = _resolve(["aiomqtt==2.4.0"])
    assert result.returncode != 0
    assert "aiomqtt==2.4.0" in result.stderr and "unsatisfiable" in result.stderr


def test_test_environment_follows_home_assistant_constraints() -> None:
    """scripts/setup installs under HA's constraints: the suite tests the versions users run."""
    constraints = parse_constraints(ha_constraints_file().read_text())
    assert importlib.metadata.version("homeassistant") == suite_ha_version()
    off = []
    for distribution in importlib.metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        off.extend(
            f"{name} {distribution.version} (Home Assistant: {constraint})"
            for constraint in constraints.get(name, [])
            if not constraint.specifier.contains(distribution.version, prereleases=True)
        )
    assert not off, off
    for requirement in _requirements():
        assert requirement.specifier.contains(
            importlib.metadata.version(requirement.name), prereleases=True
        )


def _imported_top_level_modules(package: Path) -> set[str]:
    modules: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_every_import_is_declared_or_comes_with_home_assistant() -> None:
    """A third-party import is a manifest requirement, a dependency of one, or a direct
    dependency of Home Assistant (boto3 only came through hass-nabucasa before it was declared)."""
    declared = {canonicalize_name(req.name) for req in _requirements()}
    for name in list(declared):
        declared |= {
            canonicalize_name(Requirement(dep).name)
            for dep in importlib.metadata.requires(name) or []
        }
    home_assistant = {
        canonicalize_name(Requirement(dep).name)
        for dep in importlib.metadata.requires("homeassistant") or []
    }
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in _imported_top_level_modules(INTEGRATION) - set(sys.stdlib_module_names):
        if module in ("homeassistant", "custom_components", "__future__"):
            continue
        distributions = {canonicalize_name(name) for name in providers.get(module, [])}
        assert distributions, f"{module} is imported but not installed"
        if not distributions & (declared | home_assistant):
            undeclared[module] = distributions
    assert not undeclared, f"add to manifest.json requirements: {undeclared}"
