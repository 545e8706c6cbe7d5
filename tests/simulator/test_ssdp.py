"""SSDP: which M-SEARCH each release answers, and the NOTIFY 15 s after boot."""

from __future__ import annotations

import asyncio

import pytest

from devtools.board_simulator import SimulatedBoard

from .conftest import IDLE, MakeBoard

URN = "urn:schemas-konnected-io:device:Security:1"


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.datagrams.put_nowait(data)


async def answered(board: SimulatedBoard, st_line: str) -> bool:
    """Send one M-SEARCH with this ST line; was it answered?"""
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(_Inbox, local_addr=("127.0.0.1", 0))
    try:
        search = f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\n{st_line}\r\n\r\n'
        transport.sendto(search.encode(), ("127.0.0.1", board.ssdp_port))
        try:
            answer = (await asyncio.wait_for(inbox.datagrams.get(), 0.3)).decode()
        except TimeoutError:
            return False
        assert f"LOCATION: http://127.0.0.1:{board.http_port}/Device.xml" in answer
        assert f"ST: {URN}" in answer and f"USN: {board.udn}::{URN}" in answer
        assert f"UPnP/1.1 Konnected/{board.sw_version}" in answer
        return True
    finally:
        transport.close()


CASES = [
    (f"ST: {URN}", True, True),
    ("ST: ssdp:all", True, True),
    ("ST:ssdp:all", False, True),  # v3.1.5 `ST:%s*ssdp:all`
    ("ST: urn:schemas-konnected-io:device", False, True),  # v3.1.5: any prefix of the URN
    ("ST: urn:", False, True),
    ("ST: urn:schemas-upnp-org:device:MediaRenderer:1", False, False),
    (f"st: {URN}", False, False),  # Lua patterns are case sensitive
    (f"ST:{URN}", False, False),  # the URN capture needs "ST: " with one space
    ("ST: upnp:rootdevice", False, False),
]


@pytest.mark.parametrize(("st_line", "before_315", "on_315"), CASES)
async def test_m_search_targets(make_sim: MakeBoard, st_line: str, before_315: bool, on_315: bool) -> None:
    old = await make_sim("3.0.1", mac="5c:cf:7f:00:00:01")
    new = await make_sim("3.1.5", mac="5c:cf:7f:00:00:02")
    assert await answered(old, st_line) is before_315
    assert await answered(new, st_line) is on_315


@pytest.mark.parametrize(("sw_version", "nodemcu"), [("2.3.2", "2.2.0"), ("3.1.5", "3.0.0")])
async def test_notify_15_s_after_boot(make_sim: MakeBoard, sw_version: str, nodemcu: str) -> None:
    """server.lua: three NOTIFY ssdp:alive, once, 15 s after boot (root device, UDN, URN)."""
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(_Inbox, local_addr=("127.0.0.1", 0))
    try:
        board = SimulatedBoard("5c:cf:7f:00:00:03", sw_version=sw_version)
        board.timing.ssdp_notify_delay = 0.4
        board.notify_address = transport.get_extra_info("sockname")
        await board.start()
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(inbox.datagrams.get(), 0.25)
            datagrams = [(await asyncio.wait_for(inbox.datagrams.get(), 1)).decode() for _ in range(3)]
            assert [line.split("\r\n")[2] for line in datagrams] == ["NT: upnp:rootdevice", f"NT: {board.udn}", f"NT: {URN}"]
            assert [line.split("\r\n")[3] for line in datagrams] == [f"USN: {board.udn}::upnp:rootdevice", f"USN: {board.udn}", f"USN: {board.udn}::{URN}"]
            assert all(f"SERVER: NodeMCU/{nodemcu} UPnP/1.1 Konnected/{sw_version}" in line for line in datagrams)
            assert all(f"CONFIGID.UPNP.ORG: {board.http_port}" in line for line in datagrams)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(inbox.datagrams.get(), 0.5)
        finally:
            await board.close()
    finally:
        transport.close()


async def test_discovery_false_means_no_ssdp(make_sim: MakeBoard) -> None:
    """server.lua joins the multicast group only when `discovery` is not false."""
    board = await make_sim("3.1.5", files={"settings": {**IDLE, "discovery": False}}, ssdp_notify_delay=0.1)
    await asyncio.sleep(0.2)
    assert board.ssdp_port == 0  # no UDP socket was opened
    assert board.notifications == []
