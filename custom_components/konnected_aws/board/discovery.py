"""Finding a legacy board's HTTP port from its address alone (for adding a board by hand).

The port depends on the chip (device.lua: chip id / 1000 + 8000, so 8000–24777), which owners rarely
know. The board answers an SSDP `M-SEARCH` sent straight to it (server.lua listens on UDP 1900 on
every interface while `discovery` is not false), by unicast to the sender, with
`LOCATION: http://<ip>:<port>/Device.xml` (ssdp_response.lua). That works across subnets where
multicast does not, as long as UDP to port 1900 is routed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Final
from urllib.parse import urlsplit

_LOGGER = logging.getLogger(__name__)

SSDP_PORT: Final = 1900
URN: Final = "urn:schemas-konnected-io:device:Security:1"
# ssdp_response.lua before v3.1.x matches `ST: (urn:[%w%p]*)` (one space) and compares it to the
# whole URN; later releases also take a prefix. This form satisfies every release.
M_SEARCH: Final = (
    "M-SEARCH * HTTP/1.1\r\n"
    f"HOST: 239.255.255.250:{SSDP_PORT}\r\n"
    'MAN: "ssdp:discover"\r\n'
    "MX: 1\r\n"
    f"ST: {URN}\r\n\r\n"
).encode()
# The firmware's answer is about 300 bytes; a longer datagram is not from a board.
MAX_ANSWER_BYTES: Final = 2048


def location_port(answer: bytes, address: str) -> int | None:
    """Return the port in an SSDP answer's `LOCATION`, when the answer is a Konnected board's at `address`."""
    if len(answer) > MAX_ANSWER_BYTES:
        return None
    try:
        text = answer.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200"):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().upper()] = value.strip()
    if headers.get("ST") != URN:
        return None
    try:
        location = urlsplit(headers.get("LOCATION", ""))
        port = location.port
    except ValueError:
        return None
    if location.scheme != "http" or location.hostname != address or port is None:
        return None
    return port


class _Searcher(asyncio.DatagramProtocol):
    def __init__(self, address: str) -> None:
        self.address = address
        self.found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr[0] != self.address or self.found.done():
            return
        port = location_port(data, self.address)
        if port is not None:
            self.found.set_result(port)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("SSDP search to %s: %s", self.address, exc)


async def find_board_port(
    host: str, *, ssdp_port: int = SSDP_PORT, timeout: float = 3.0, attempts: int = 3
) -> int | None:
    """Ask the board at `host` for its HTTP port by unicast SSDP; None when nothing answers.

    Only an answer from that address, for the Konnected URN, pointing at that address counts.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, ssdp_port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    except OSError as err:
        _LOGGER.debug("Cannot resolve %s: %s", host, err)
        return None
    address = str(ipaddress.ip_address(infos[0][4][0]))
    transport, searcher = await loop.create_datagram_endpoint(
        lambda: _Searcher(address), local_addr=("0.0.0.0", 0), family=socket.AF_INET
    )
    try:
        for _ in range(attempts):
            transport.sendto(M_SEARCH, (address, ssdp_port))
            try:
                return await asyncio.wait_for(asyncio.shield(searcher.found), timeout / attempts)
            except TimeoutError:
                continue
        return None
    finally:
        transport.close()
