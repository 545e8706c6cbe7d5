"""Fixtures of the browser test: the processes, Chromium, and where evidence goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import shutil

from playwright.async_api import Page
import pytest

from .browser import StepRecorder, chromium_page
from .stack import PROJECT_DIR, Stack, running_stack

# Known place for screenshots, page HTML and logs of a failing run (ignored by git).
ARTIFACTS = PROJECT_DIR / ".test-artifacts" / "browser"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Home Assistant runs as its own process here: no in-process test instance is started."""


@pytest.fixture
def artifacts() -> Path:
    """An empty artifacts folder for this run."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    (ARTIFACTS.parent / ".gitignore").write_text("# test evidence, never committed\n*\n")
    return ARTIFACTS


@pytest.fixture
async def stack(socket_enabled: None, tmp_path: Path, artifacts: Path) -> AsyncIterator[Stack]:
    """Emulator, simulated boards and Home Assistant on 127.0.0.1."""
    async with running_stack(tmp_path, artifacts / "logs") as running:
        yield running
    # Home Assistant's own log, complete now that it has stopped, beside the others.
    if running.ha_log.exists():
        shutil.copy(running.ha_log, running.log_dir / running.ha_log.name)


@pytest.fixture
async def page(stack: Stack, tmp_path: Path) -> AsyncIterator[Page]:
    """A Chromium tab with a fresh profile."""
    async with chromium_page(tmp_path / "chromium-profile", stack.ha_url) as tab:
        yield tab


@pytest.fixture
def steps(page: Page, stack: Stack, artifacts: Path) -> StepRecorder:
    """Named steps that keep evidence when they fail."""
    return StepRecorder(page, artifacts, [stack.ha_log])
