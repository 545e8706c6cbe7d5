"""Shared fixtures: custom integrations enabled, the local AWS IoT emulation, simulated boards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from devtools.board_simulator import SimulatedBoard, Timing
from devtools.iot_emulator import IotEmulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let the test Home Assistant load custom_components/konnected_aws."""


@pytest.fixture
async def iot_emulator(socket_enabled: None) -> AsyncIterator[IotEmulator]:
    """moto server + the AWS-IoT-like broker on 127.0.0.1."""
    emulator = IotEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


FAST = Timing(reboot_delay=0.05, boot_time=0.1, heartbeat_interval=300.0, reconnect_delay=0.2, scale=0.01)

type BoardFactory = Callable[[str], Awaitable[SimulatedBoard]]


type SimulatedBoardFactory = Callable[..., Awaitable[SimulatedBoard]]


@pytest.fixture
async def make_simulated_board(socket_enabled: None) -> AsyncIterator[SimulatedBoardFactory]:
    """Power on simulated boards of any release (firmware delays shortened unless given);
    every board made is powered off afterwards."""
    boards: list[SimulatedBoard] = []

    async def make(
        mac: str, *, sw_version: str = "3.1.5", timing: Timing | None = None, files: dict[str, Any] | None = None
    ) -> SimulatedBoard:
        board = SimulatedBoard(mac, sw_version=sw_version, timing=timing or Timing(**vars(FAST)))
        if files:
            board.files.update(files)
        await board.start()
        boards.append(board)
        return board

    yield make
    for board in boards:
        await board.close()


@pytest.fixture
def make_board(make_simulated_board: SimulatedBoardFactory) -> BoardFactory:
    """Simulated boards of the newest release, by MAC."""

    async def make(mac: str) -> SimulatedBoard:
        return await make_simulated_board(mac)

    return make
