"""The board client against the simulated firmware over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import socket
from typing import Any

import aiohttp
import pytest

from custom_components.konnected_aws.board import (
    BoardClient,
    BoardConnectionError,
    BoardLockedError,
    BoardResponseError,
    BoardTimeoutError,
    is_supported,
)
from custom_components.konnected_aws.board.models import BoardStatus, board_id_from_mac
from custom_components.konnected_aws.zones import (
    ZoneConfig,
    ZoneType,
    firmware_zone_settings,
)
from devtools.board_simulator import SimulatedBoard
from tests.conftest import BoardFactory, SimulatedBoardFactory

MAC = "88:40:f5:20:99:48"
RELEASES = ("2.3.2", "3.0.1", "3.1.5")
UNREACHABLE_AWS = "ws://127.0.0.1:1/mqtt"

type ReleaseFactory = Callable[[str], Awaitable[SimulatedBoard]]


@pytest.fixture
def make_release(make_simulated_board: SimulatedBoardFactory) -> ReleaseFactory:
    """Simulated boards of a given firmware release (delays shortened)."""

    async def make(sw_version: str) -> SimulatedBoard:
        return await make_simulated_board(MAC, sw_version=sw_version)

    return make


def fast_client(board: SimulatedBoard, session: aiohttp.ClientSession, **kwargs: Any) -> BoardClient:
    options: dict[str, Any] = {"retry_delay": 0.02, "settings_retry_interval": 0.02, "settings_retry_for": 5}
    return BoardClient("127.0.0.1", board.http_port, session, **(options | kwargs))


ZONES = {
    "1": ZoneConfig(type=ZoneType.BINARY_SENSOR),
    "2": ZoneConfig(type=ZoneType.BINARY_SENSOR),
    "4": ZoneConfig(type=ZoneType.DHT, poll_interval=5),
    "out": ZoneConfig(type=ZoneType.SWITCH, momentary_ms=500),
}


def provision_body(endpoint: str = UNREACHABLE_AWS) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "authorizer": "konnected-aws",
        "token": "token",
        "token_signature": "c2ln",
        "topics": {"sensor": "a", "heartbeat": "b", "switch": "c"},
        **firmware_zone_settings(ZONES),
    }


async def wait_for_boot(board: SimulatedBoard, boots: int) -> None:
    async with asyncio.timeout(5):
        while board.boots == boots or board.http_port == 0:
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("release", RELEASES)
async def test_provision_with_pins_status_and_outputs(make_release: ReleaseFactory, release: str) -> None:
    """Every release: pin-keyed settings, confirmed in /status, local output control and levels."""
    board = await make_release(release)
    async with aiohttp.ClientSession() as session:
        client = fast_client(board, session)
        status = await client.get_status()
        assert status.board_id == "8840f5209948"
        assert status.sw_version == release
        assert status.firmware.supported
        assert status.sensors == ()

        boots = board.boots
        confirmed = await client.provision(**provision_body())
        assert confirmed.endpoint_type == "aws_iot"
        assert board.settings["endpoint_type"] == "aws_iot"
        assert board.settings["aws"]["topics"] == {"sensor": "a", "heartbeat": "b", "switch": "c"}
        # Pins only: what application.lua reads on every release (zone keys only from 3.1.0).
        assert board.sensors == [{"pin": 1}, {"pin": 2}]
        assert board.actuators == [{"pin": 8, "trigger": 1}]
        assert board.dht_sensors == [{"pin": 6, "poll_interval": 5}]
        await wait_for_boot(board, boots)
        status = await client.get_status()
        assert status.sensors == ("1", "2")
        assert status.actuators == ("out",)
        assert status.dht_sensors == ("4",)

        board.set_zone("2", 1)
        await asyncio.sleep(0.3)  # the firmware sees input changes at its 200 ms poll
        assert await client.set_output("out", 1) == 1
        assert board.level("out") == 1
        assert await client.get_levels(["out"]) == {"1": 0, "2": 1, "out": 1}
        # A pulse: on now, off after the (scaled) momentary time; the body is complete and pin-keyed.
        assert await client.set_output("out", 1, momentary=500) == 1
        async with asyncio.timeout(5):
            while board.level("out") != 0:
                await asyncio.sleep(0.02)


@pytest.mark.parametrize("release", RELEASES)
async def test_provision_through_reboot_windows(make_release: ReleaseFactory, release: str) -> None:
    """A board in AWS mode that cannot connect, restarting as PUT /settings arrives: provisioned anyway.

    The restart is scripted from outside the simulator (aws_iot.lua v3.0.0+ restarts 10 s after
    boot without an AWS IoT connection); the silent PUT of server_receiver.lua v3.1.1+ is covered
    in test_settings.py.
    """
    board = await make_release(release)
    retries: list[float] = []

    async def sleep(seconds: float) -> None:
        retries.append(seconds)
        await asyncio.sleep(seconds)

    async with aiohttp.ClientSession() as session:
        client = fast_client(board, session, timeout=0.3, sleep=sleep)
        await client.provision(**provision_body())
        await wait_for_boot(board, 1)
        await asyncio.sleep(0.2)  # the simulator's own reboot is over
        retries.clear()

        async def firmware_restart() -> None:
            await board.stop()
            await asyncio.sleep(0.5)
            await board.start()

        restart = asyncio.get_running_loop().create_task(firmware_restart())
        await asyncio.sleep(0)
        changed = provision_body() | {"sensors": [{"pin": 1}]}
        status = await client.provision(**changed)
        await restart
        assert len(retries) >= 5  # refused for the 0.5 s the board was down
        assert status.sensors == ("1",)
        assert board.sensors == [{"pin": 1}]


@pytest.mark.parametrize("release", RELEASES)
async def test_unprovision_returns_to_rest_without_endpoint(make_release: ReleaseFactory, release: str) -> None:
    """A board that cannot reach AWS, removed: no endpoint, no zones, and it stops connecting."""
    board = await make_release(release)
    async with aiohttp.ClientSession() as session:
        client = fast_client(board, session)
        await client.provision(**provision_body())
        await wait_for_boot(board, 1)
        boots = board.boots
        status = await client.unprovision()
        assert (status.endpoint, status.endpoint_type) == (None, "rest")
        assert (status.sensors, status.actuators, status.dht_sensors) == ((), (), ())
        await wait_for_boot(board, boots)
        assert board.settings.get("endpoint_type") in (None, "rest")
        assert not board.settings.get("aws")
        assert not board.mqtt_connected.is_set()


async def test_locked_simulated_board(make_release: ReleaseFactory) -> None:
    """A 3.1.5 board locked through PUT /lock refuses new settings with the firmware's 409."""
    board = await make_release("3.1.5")
    async with aiohttp.ClientSession() as session:
        async with session.put(f"http://127.0.0.1:{board.http_port}/lock", json={"pwd": "secret"}) as response:
            assert response.status == 200
        with pytest.raises(BoardLockedError):
            await fast_client(board, session).provision(**provision_body())


async def test_unreachable_board(socket_enabled: None) -> None:
    """A closed port is a connection error (after the read retries)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(BoardConnectionError):
            await BoardClient("127.0.0.1", port, session, retry_delay=0.01).get_status()


async def test_stalled_board_times_out(make_board: BoardFactory) -> None:
    """A board that accepts but never answers is a timeout, not a hang."""
    board = await make_board(MAC)
    board.stall_http = True
    async with aiohttp.ClientSession() as session:
        with pytest.raises(BoardTimeoutError):
            await BoardClient("127.0.0.1", board.http_port, session, timeout=0.2, retry_delay=0.01).get_status()


async def test_malformed_answers(make_board: BoardFactory) -> None:
    """Cut-short JSON and a failing handler are response errors; nonsense pulses never leave."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", board.http_port, session)
        board.garble_http = True
        with pytest.raises(BoardResponseError):
            await client.get_status()
        with pytest.raises(ValueError):
            await client.set_output("9", 1)  # no such zone on the board
        with pytest.raises(ValueError):
            await client.set_output("out", 1, times=3)  # a repeat without a pulse
        with pytest.raises(ValueError):
            await client.set_output("out", 1, momentary=100, pause=100)  # a pause without a repeat
    assert board.commands == []


async def test_reboot_during_provisioning(make_board: BoardFactory) -> None:
    """A board that is down when provisioning starts is waited for within the retry window."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session:
        client = BoardClient(
            "127.0.0.1", board.http_port, session, retry_delay=0.01, settings_retry_for=0.2,
            settings_retry_interval=0.05,
        )
        await board.stop()
        with pytest.raises(BoardConnectionError):
            await client.provision(**provision_body())
        assert board.settings == {}
        reboot = asyncio.get_running_loop().create_task(board.start())
        client = fast_client(board, session)
        await client.provision(**provision_body())
        await reboot
        assert board.settings["endpoint_type"] == "aws_iot"


async def test_ssdp_answer(make_board: BoardFactory) -> None:
    """An M-SEARCH for the firmware's URN gets a unicast answer pointing at Device.xml."""
    board = await make_board(MAC)
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Listener(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Listener, local_addr=("127.0.0.1", 0))
    try:
        for target in ("ssdp:all", "urn:schemas-konnected-io:device:Security:1", "urn:other:device:1"):
            search = f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nST: {target}\r\n\r\n'
            transport.sendto(search.encode(), ("127.0.0.1", board.ssdp_port))
        first = (await asyncio.wait_for(answers.get(), 2)).decode()
        second = (await asyncio.wait_for(answers.get(), 2)).decode()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(answers.get(), 0.3)  # nothing for a foreign URN
    finally:
        transport.close()
    for answer in (first, second):
        assert f"LOCATION: http://127.0.0.1:{board.http_port}/Device.xml" in answer
        assert "ST: urn:schemas-konnected-io:device:Security:1" in answer
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{board.http_port}/Device.xml") as response,
    ):
        description = await response.text()
    assert "<manufacturer>konnected.io</manufacturer>" in description
    assert is_supported("konnected.io", "Konnected")
    assert not is_supported("konnected.io", "Konnected Pro")
    assert not is_supported("acme", "Konnected")


def test_models() -> None:
    """MACs become board ids; bad status documents are refused."""
    assert board_id_from_mac("88:40:F5:20:99:48") == "8840f5209948"
    with pytest.raises(ValueError):
        board_id_from_mac("nope")
    with pytest.raises(ValueError):
        BoardStatus.from_json({"swVersion": "3"})
    status = BoardStatus.from_json(
        {"mac": "88:40:f5:20:99:48", "sensors": [{"pin": 5}, {"zone": "alarm"}], "port": True}
    )
    assert status.sensors == ("3", "out")
    assert status.port is None
