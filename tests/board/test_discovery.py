"""Finding a board's HTTP port from its address by unicast SSDP (manual add)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from custom_components.konnected_aws.board import find_board_port
from custom_components.konnected_aws.board.discovery import M_SEARCH, URN, location_port
from tests.conftest import BoardFactory

MAC = "88:40:f5:20:99:48"


def answer(location: str, st: str = URN, status: str = "HTTP/1.1 200 OK") -> bytes:
    """ssdp_response.lua's answer."""
    return (
        f"{status}\r\nCACHE-CONTROL: max-age=1800\r\nST: {st}\r\nUSN: uuid:x::{URN}\r\nEXT:\r\n"
        f"SERVER: NodeMCU/3.0.0 UPnP/1.1 Konnected/3.1.5\r\nLOCATION: {location}\r\n\r\n"
    ).encode()


def test_location_port_accepts_only_a_konnected_answer_for_that_address() -> None:
    """The URN, an http LOCATION on the asked address, and a port."""
    assert location_port(answer("http://192.168.1.20:10136/Device.xml"), "192.168.1.20") == 10136
    assert location_port(answer("http://192.168.1.21:10136/Device.xml"), "192.168.1.20") is None
    assert location_port(answer("http://192.168.1.20/Device.xml"), "192.168.1.20") is None
    assert location_port(answer("https://192.168.1.20:1/Device.xml"), "192.168.1.20") is None
    assert location_port(answer("http://192.168.1.20:99999/Device.xml"), "192.168.1.20") is None
    assert location_port(answer("http://192.168.1.20:1/x", st="upnp:rootdevice"), "192.168.1.20") is None
    assert location_port(answer("http://192.168.1.20:1/x", status="NOTIFY * HTTP/1.1"), "192.168.1.20") is None
    assert location_port(b"\xff" + answer("http://192.168.1.20:1/x"), "192.168.1.20") is None
    assert location_port(answer("http://192.168.1.20:1/x") + b" " * 4096, "192.168.1.20") is None


def test_search_matches_every_release() -> None:
    """v2.3.2 needs `ST: ` with one space and the whole URN (`ST: (urn:[%w%p]*)`, `urn == device.urn`)."""
    assert f"\r\nST: {URN}\r\n".encode() in M_SEARCH
    assert M_SEARCH.startswith(b"M-SEARCH * HTTP/1.1\r\n")


async def test_finds_the_simulated_board(make_board: BoardFactory) -> None:
    """The simulator answers like ssdp_response.lua; its LOCATION port is the HTTP port."""
    board = await make_board(MAC)
    assert await find_board_port("127.0.0.1", ssdp_port=board.ssdp_port, timeout=2) == board.http_port
    assert await find_board_port("localhost", ssdp_port=board.ssdp_port, timeout=2) == board.http_port


async def test_nothing_answers(socket_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A silent address or an unresolvable name is None, within the timeout."""
    started = time.monotonic()
    assert await find_board_port("127.0.0.1", ssdp_port=9, timeout=0.3) is None
    assert time.monotonic() - started < 1

    async def no_such_host(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_host)
    assert await find_board_port("no-such-host.invalid", timeout=0.3) is None


async def test_answer_pointing_elsewhere_is_ignored(socket_enabled: None) -> None:
    """A responder naming another host in LOCATION does not make that the port."""
    loop = asyncio.get_running_loop()

    class Liar(asyncio.DatagramProtocol):
        transport: asyncio.DatagramTransport

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(answer("http://10.9.9.9:8123/Device.xml"), addr)

    transport, _ = await loop.create_datagram_endpoint(Liar, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        assert await find_board_port("127.0.0.1", ssdp_port=port, timeout=0.3) is None
    finally:
        transport.close()


@pytest.mark.parametrize("attempts", [1, 3])
async def test_search_is_repeated_for_lost_datagrams(socket_enabled: None, attempts: int) -> None:
    """UDP may drop the search; it is sent `attempts` times before giving up."""
    loop = asyncio.get_running_loop()
    received: list[bytes] = []

    class Counter(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            received.append(data)

    transport, _ = await loop.create_datagram_endpoint(Counter, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        assert await find_board_port("127.0.0.1", ssdp_port=port, timeout=0.3, attempts=attempts) is None
    finally:
        transport.close()
    assert received == [M_SEARCH] * attempts
