"""Reuse the test fixtures: the AWS IoT emulation, simulated boards, a real HA test instance."""

import asyncio

import pytest

from tests.conftest import auto_enable_custom_integrations, iot_emulator, make_board  # noqa: F401


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Measure with the event loop as Home Assistant runs it: without asyncio debug mode.

    The test plugin switches debug mode on for every test; it records a traceback for every
    callback scheduled, which cost more CPU than everything measured here together.
    """
    asyncio.get_running_loop().set_debug(False)
