"""The board client against the simulated firmware over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from custom_components.konnected_aws.board import (
    BoardClient,
    BoardConnectionError,
    BoardResponseError,
    BoardTimeoutError,
    is_supported,
)
from custom_components.konnected_aws.board.models import BoardStatus, board_id_from_mac
from devtools.board_simulator import SimulatedBoard

from ..conftest import BoardFactory

MAC = "88:40:f5:20:99:48"


def provision_body(board: SimulatedBoard) -> dict[str, object]:
    return {
        "endpoint": "ws://127.0.0.1:1/mqtt",
        "authorizer": "konnected-aws",
        "token": "token",
        "token_signature": "c2ln",
        "topics": {"sensor": "a", "heartbeat": "b", "switch": "c"},
        "sensors": [{"zone": "1"}, {"zone": "2"}],
        "actuators": [{"zone": "out", "trigger": 1}],
        "dht_sensors": [{"zone": "4", "poll_interval": 5}],
        "ds18b20_sensors": [],
    }


async def test_status_provision_and_outputs(make_board: BoardFactory) -> None:
    """Status, a provisioning round trip with the reboot, local output control and levels."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", board.http_port, session, retry_delay=0.05)
        status = await client.get_status()
        assert status.board_id == "8840f5209948"
        assert status.sw_version == "3.1.5"
        assert status.sensors == ()

        boots = board.boots
        await client.provision(**provision_body(board))  # type: ignore[arg-type]
        assert board.settings["endpoint_type"] == "aws_iot"
        assert board.settings["aws"]["topics"] == {"sensor": "a", "heartbeat": "b", "switch": "c"}
        async with asyncio.timeout(5):
            while board.boots == boots:
                await asyncio.sleep(0.02)
        # The board is back after its reboot and reports what it was given.
        status = await client.get_status()
        assert status.sensors == ("1", "2")
        assert status.actuators == ("out",)
        assert status.dht_sensors == ("4",)

        board.set_zone("2", 1)
        await asyncio.sleep(0.3)  # the firmware sees input changes at its 200 ms poll
        assert await client.set_output("out", 1) == 1
        assert board.level("out") == 1
        assert await client.get_levels(["out"]) == {"1": 0, "2": 1, "out": 1}
        # A pulse: on now, off after the (scaled) momentary time.
        assert await client.set_output("out", 1, momentary=500, times=1) == 1
        async with asyncio.timeout(5):
            while board.level("out") != 0:
                await asyncio.sleep(0.02)


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
    """Cut-short JSON and a failing handler are response errors."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", board.http_port, session)
        board.garble_http = True
        with pytest.raises(BoardResponseError):
            await client.get_status()
        with pytest.raises(BoardResponseError):
            await client.set_output("9", 1)  # no such zone: the firmware's switch fails


async def test_reboot_during_provisioning(make_board: BoardFactory) -> None:
    """A board that restarts mid-way refuses the connection; nothing is half-applied."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", board.http_port, session, retry_delay=0.01)
        await board.stop()
        reboot = asyncio.get_running_loop().create_task(board.start())
        with pytest.raises(BoardConnectionError):
            await client.provision(**provision_body(board))  # type: ignore[arg-type]
        await reboot
        assert board.settings == {}
        await client.provision(**provision_body(board))  # type: ignore[arg-type]
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
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{board.http_port}/Device.xml") as response:
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
