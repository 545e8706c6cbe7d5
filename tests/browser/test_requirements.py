"""The browser test's packages are the ones Home Assistant itself pins, and they are enough.

HA runs with --skip-pip in the browser test (no installs from the network at test time), so
what its frontend needs must be in requirements_test.txt, at the versions HA's manifests pin.
"""

from __future__ import annotations

import json
from pathlib import Path
import re

import homeassistant.components
from homeassistant.helpers import service

from .stack import PROJECT_DIR

# Integrations the frontend's first load depends on and that have requirements: the frontend
# itself, and what `get_services` imports (service._base_components: ai_task and
# assist_satellite pull in conversation, assist_pipeline, tts and ffmpeg; camera).
FRONTEND_NEEDS = (
    "frontend",
    "conversation",
    "assist_pipeline",
    "assist_satellite",
    "tts",
    "ffmpeg",
    "camera",
)
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    return {_normalized(m[1]): m[2] for line in lines if (m := _PIN.match(line))}


def _manifest_requirements(domain: str) -> dict[str, str]:
    manifest = Path(homeassistant.components.__path__[0]) / domain / "manifest.json"
    return _pins(json.loads(manifest.read_text()).get("requirements", []))


def test_frontend_requirements_are_pinned_as_home_assistant_pins_them() -> None:
    """Every requirement of those integrations is in requirements_test.txt, same version."""
    ours = _pins((PROJECT_DIR / "requirements_test.txt").read_text().splitlines())
    wanted = {
        name: version
        for domain in FRONTEND_NEEDS
        for name, version in _manifest_requirements(domain).items()
    }
    assert wanted, "no requirements found in HA's manifests"
    mismatched = {
        name: (ours.get(name), version)
        for name, version in wanted.items()
        if ours.get(name) != version
    }
    assert not mismatched, f"requirements_test.txt vs HA's manifests (ours, HA's): {mismatched}"


def test_base_components_import() -> None:
    """What `get_services` imports for the frontend imports here (else the UI never loads)."""
    assert service._base_components()
