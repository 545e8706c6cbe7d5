"""The real install path: Home Assistant installs our requirements itself, then a board is adopted.

A new venv holds only `homeassistant` (as Home Assistant's own images install it: under its
package_constraints.txt), the config dir a copy of the custom component (as HACS copies it), and
`hass` starts WITHOUT --skip-pip, so its requirement installer (homeassistant/requirements.py,
util/package.py: `uv pip install --constraint package_constraints.txt`) must install the manifest's
requirements from PyPI. Then devtools/develop_smoke.py walks the frontend's REST/WebSocket calls:
onboarding, the account flow against the local AWS IoT emulation, adoption of a simulated board
and a zone change reaching Home Assistant. The Home Assistant log must show the installs and no
error. Network: 127.0.0.1, plus PyPI for Home Assistant's installer (and once per version to
resolve the venv into KONNECTED_AWS_CACHE).

KONNECTED_AWS_INSTALL_HA=<version>|latest runs it on another Home Assistant release (CI does
`latest`); default: the version the suite runs on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import signal
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

from devtools.user_ha import (
    HA_LOG,
    ROOT,
    Ports,
    ha_constraints,
    installed_version,
    make_ha_venv,
    manifest_requirements,
    resolve_ha_version,
    suite_ha_version,
    wait_until_serving,
)
from tests.test_requirements import parse_constraints

LOG_PROBLEM = re.compile(r"^\S+ \S+ (?:ERROR|CRITICAL) \([^)]*\) \[([^\]]+)\].*$", re.MULTILINE)
# Loggers whose errors only say the machine lacks a system program or library that Home Assistant's
# Core install instructions list (ffmpeg, libturbojpeg); Home Assistant's images ship them.
MACHINE_ONLY = {"haffmpeg.core", "homeassistant.components.camera.img_util"}
INSTALLING = "Attempting install of {}"  # homeassistant/util/package.py install_package


@pytest.fixture(scope="module")
def ha_version() -> str:
    return resolve_ha_version(os.environ.get("KONNECTED_AWS_INSTALL_HA") or suite_ha_version())


def test_home_assistant_installs_our_requirements_and_adopts_a_board(
    socket_enabled: None, tmp_path: Path, ha_version: str
) -> None:
    """From a venv with nothing of ours to an adopted board, through Home Assistant's installer;
    run by scripts/develop's own entry point, which must then stop everything on Ctrl-C."""
    venv, config_dir = tmp_path / "venv", tmp_path / "config"
    make_ha_venv(venv, ha_version)
    requirements = {text: Requirement(text) for text in manifest_requirements()}
    missing = [
        text for text, requirement in requirements.items() if not _satisfied(venv, requirement)
    ]
    # aiomqtt is in no Home Assistant dependency: Home Assistant has to install it itself.
    assert "aiomqtt" in {canonicalize_name(requirements[text].name) for text in missing}, (
        "venv is not fresh"
    )

    ports = Ports.free(boards=1)
    develop_log = tmp_path / "develop.log"
    with develop_log.open("wb") as output:
        develop = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.user_ha",
                "--dir",
                str(tmp_path),
                "--ha-version",
                ha_version,
                "--copy",
                "--boards",
                "1",
                "--http-port",
                str(ports.http),
                "--iot-port",
                str(ports.iot),
                "--moto-port",
                str(ports.moto),
                "--board-http-port",
                str(ports.board_http),
                "--board-ssdp-port",
                str(ports.board_ssdp),
                "--board-control-port",
                str(ports.board_control),
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_serving(ports.url, develop, timeout=600)
            started = _children(develop.pid)
            smoke = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "devtools.develop_smoke",
                    "--url",
                    ports.url,
                    "--moto-url",
                    ports.moto_url,
                    "--iot-url",
                    ports.iot_url,
                    "--board-http-port",
                    str(ports.board_http),
                    "--board-control-port",
                    str(ports.board_control),
                    "--boards",
                    "1",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert smoke.returncode == 0, (
                f"{smoke.stdout}\n{smoke.stderr}\n{_tail(config_dir / HA_LOG)}"
            )
        finally:
            develop.send_signal(signal.SIGINT)  # what Ctrl-C in scripts/develop's terminal sends
            try:
                develop.wait(timeout=120)
            finally:
                develop.kill()
    assert develop.returncode == 0, _tail(develop_log)
    assert len(started) == 3 and not [pid for pid in started if Path(f"/proc/{pid}").exists()], (
        started
    )
    log = (config_dir / HA_LOG).read_text()

    for text in missing:
        assert INSTALLING.format(text) in log, f"Home Assistant did not install {text}"
    assert "Unable to install package" not in log
    problems = [
        match.group(0) for match in LOG_PROBLEM.finditer(log) if match.group(1) not in MACHINE_ONLY
    ]
    assert not problems, "\n".join(problems)
    constraints = parse_constraints(ha_constraints(ha_version).read_text())
    for text, requirement in requirements.items():
        version = installed_version(venv, requirement.name)
        assert version is not None and requirement.specifier.contains(version, prereleases=True), (
            text
        )
        for constraint in constraints.get(canonicalize_name(requirement.name), []):
            assert constraint.specifier.contains(version, prereleases=True), (
                text,
                version,
                str(constraint),
            )
    _assert_loopback_http_settings_confirmed(config_dir, ports.http)


def _children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc): emulator, boards, Home Assistant."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def _tail(path: Path, lines: int = 80) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


def _satisfied(venv: Path, requirement: Requirement) -> bool:
    """Home Assistant's own check (util/package.py is_installed): installed and in range."""
    version = installed_version(venv, requirement.name)
    return version is not None and requirement.specifier.contains(version, prereleases=True)


def _assert_loopback_http_settings_confirmed(config_dir: Path, port: int) -> None:
    """The seeded HTTP settings became the confirmed ones: no trial, no YAML repair."""
    stored = json.loads((config_dir / ".storage" / "http").read_text())["data"]
    assert stored["stable"]["server_host"] == ["127.0.0.1"]
    assert stored["stable"]["server_port"] == port
    assert stored["pending"] is None
    issues_file = config_dir / ".storage" / "repairs.issue_registry"
    issues = json.loads(issues_file.read_text())["data"]["issues"] if issues_file.exists() else []
    assert not [issue for issue in issues if issue["domain"] == "http"]
