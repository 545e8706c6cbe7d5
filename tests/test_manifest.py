"""The manifest, hacs.json, CHANGELOG and brand assets are what HA 2026.10+ and HACS expect."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
import re
import struct
import tomllib
from typing import Any

from packaging.version import Version

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / "konnected_aws"


def _manifest() -> dict[str, Any]:
    return dict(json.loads((INTEGRATION / "manifest.json").read_text()))


def test_manifest_keys_sorted_and_complete() -> None:
    """hassfest's order: domain, name, then the rest alphabetically."""
    manifest = _manifest()
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for required in (
        "codeowners",
        "config_flow",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "loggers",
        "requirements",
        "ssdp",
        "version",
    ):
        assert required in manifest, required
    assert manifest["domain"] == INTEGRATION.name
    assert manifest["config_flow"] is True
    assert manifest["integration_type"] == "hub"
    assert manifest["iot_class"] == "cloud_push"


def test_manifest_declares_aws_sdk_without_pinning_it() -> None:
    """We import boto3, so we declare it; HA pins boto3/botocore itself, so no version of ours."""
    requirements = _manifest()["requirements"]
    assert isinstance(requirements, list)
    assert "boto3" in requirements
    assert not [req for req in requirements if re.match(r"(boto3|botocore)\W", req, re.IGNORECASE)]


def test_ssdp_matcher_matches_the_firmware() -> None:
    """The firmware answers with this search target and manufacturer (docs/protocol.md)."""
    matchers = _manifest()["ssdp"]
    assert {"st": "urn:schemas-konnected-io:device:Security:1"} in matchers
    assert {"manufacturer": "konnected.io"} in matchers


def test_hacs_json() -> None:
    """HACS (the Marketplace) needs a name and a minimum HA version."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == _manifest()["name"]
    year, month, *_ = (int(part) for part in hacs["homeassistant"].split("."))
    assert (year, month) >= (2026, 3)  # brand folder and subentry flows


def test_minimum_home_assistant_is_the_one_the_suite_runs_on() -> None:
    """hacs.json claims no Home Assistant older than the one every test here runs against."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["homeassistant"] == importlib.metadata.version("homeassistant")


def _changelog_versions() -> list[tuple[str, str]]:
    """(version, date or "Unreleased") of each `## [x.y.z] - ...` heading, newest first."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return re.findall(r"^## \[([^\]]+)\] - (\d{4}-\d{2}-\d{2}|Unreleased)$", text, re.MULTILINE)


def test_changelog_newest_entry_is_the_manifest_version() -> None:
    """The version users see in HACS has its changelog entry (the release tag equals it too)."""
    versions = _changelog_versions()
    assert versions, "no '## [x.y.z] - YYYY-MM-DD|Unreleased' heading in CHANGELOG.md"
    assert versions[0][0] == _manifest()["version"]
    parsed = [Version(version) for version, _ in versions]
    assert parsed == sorted(parsed, reverse=True), "CHANGELOG entries are not newest first"
    assert all(date != "Unreleased" for _, date in versions[1:]), "only the newest is unreleased"


def test_project_version_is_the_manifest_version() -> None:
    """pyproject.toml describes the same release."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == _manifest()["version"]


def test_manifest_version_is_semantic() -> None:
    """hassfest needs a version AwesomeVersion reads; tags are exactly this string."""
    version = _manifest()["version"]
    assert isinstance(version, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version


def test_brand_icon_is_256_png() -> None:
    """Custom integrations ship brand/icon.png (256x256)."""
    data = (INTEGRATION / "brand" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (256, 256)


def test_translations_cover_the_flows() -> None:
    """Every step id used by the flows has a translation."""
    strings = json.loads((INTEGRATION / "translations" / "en.json").read_text())
    flow_steps = set(strings["config"]["step"])
    assert {"user", "reconfigure", "reauth_confirm", "discovery_confirm", "adopt", "legacy_confirm", "legacy_account"} <= flow_steps
    assert {"user", "zones", "zone_settings"} <= set(strings["config_subentries"]["board"]["step"])


async def test_integration_loads_in_home_assistant(hass: HomeAssistant) -> None:
    """HA's loader finds the custom integration and its config flow."""
    integration = await async_get_integration(hass, "konnected_aws")
    assert integration.name == "Konnected (AWS IoT)"
    assert integration.config_flow is True
    assert integration.version is not None
    await integration.async_get_component()
