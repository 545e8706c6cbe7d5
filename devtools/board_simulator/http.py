"""The board's HTTP server: NodeMCU `net.createServer(net.TCP, 10)` (server.lua).

With the firmware's own request parsing (httpd_req.lua) and answers (httpd_res.lua).

A raw asyncio server, because the firmware's framing is not HTTP as a library writes it:
the status line has no reason phrase (`HTTP/1.1 200`), an empty answer carries no
Content-Length on v3.x, every answer is followed by closing the connection, a request the
router does not know is never answered (the connection is dropped after 10 s idle), and the
request is parsed with Lua patterns from whatever arrived in one TCP segment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import gzip
import re
from typing import Any, Final

from .lua import LuaError, is_number, sjson_decode
from .runtime import Boot

# httpd_req.lua: '([A-Z]+) (.+)?(.+) HTTP' (the `?` after a capture is a literal in Lua
# patterns), then '([A-Z]+) (.+) HTTP'; `.` matches newlines too.
_WITH_QUERY: Final = re.compile(r"([A-Z]+) (.+)\?(.+) HTTP", re.DOTALL)
_WITHOUT_QUERY: Final = re.compile(r"([A-Z]+) (.+) HTTP", re.DOTALL)
_QUERY_PAIR: Final = re.compile(r"([^&]+)=([^&]*)&*")
_CONTENT_TYPE: Final = re.compile(r"[Cc]ontent-[Tt]ype: ([A-Za-z0-9/-]+)")
_CONTENT_LENGTH: Final = re.compile(r"[Cc]ontent-[Ll]ength:")
_DIGITS: Final = re.compile(r"\d+")
# Not the firmware's page (that is Konnected's): a stand-in so `/` answers like a file does.
INDEX_PAGE: Final = gzip.compress(b"<!doctype html><title>Konnected</title><p>simulated board</p>")


@dataclass
class Request:
    """httpd_req.lua's table: method, path, query (never URL-decoded), contentType, body."""

    method: str | None = None
    path: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    body: Any = None


def parse_request(data: str) -> Request:
    """Parse a request as httpd_req.lua does.

    `body` is the decoded JSON for `application/json` (nil if it does not
    decode), else the raw text after the headers.
    """
    request = Request()
    match = _WITH_QUERY.search(data)
    query: str | None = None
    if match is not None:
        request.method, request.path, query = match.group(1), match.group(2), match.group(3)
    else:
        match = _WITHOUT_QUERY.search(data)
        if match is not None:
            request.method, request.path = match.group(1), match.group(2)
    if query is not None:
        # The %XX decoding is a gsub whose function returns nothing: the query stays as sent.
        for pair in _QUERY_PAIR.finditer(query):
            request.query[pair.group(1)] = pair.group(2)
    content_type = _CONTENT_TYPE.search(data)
    request.content_type = content_type.group(1) if content_type else None
    body_at = data.find("\r\n\r\n")
    if body_at >= 0:
        text = data[body_at + 4 :]
        request.body = text
        if request.content_type == "application/json":
            try:
                request.body = sjson_decode(text.encode("latin-1"))
            except LuaError:
                request.body = None  # "Discarding malformed JSON"
    return request


def has_content_length(payload: str) -> bool:
    """payload:find("[Cc]ontent%-[Ll]ength:")."""
    return _CONTENT_LENGTH.search(payload) is not None


def body_complete(payload: str) -> bool:
    """Tell whether the Content-Length'd body is all here, as server_receiver.lua does.

    (Lua errors as the firmware's
    arithmetic on a missing Content-Length number or header end would raise.)
    """
    header = _CONTENT_LENGTH.search(payload)
    if header is None:
        raise LuaError("attempt to perform arithmetic on a nil value")
    digits = _DIGITS.search(payload, header.start() + 15)  # string.match(s, "%d+", find() + 16)
    end = payload.find("\r\n\r\n")
    if digits is None:
        raise LuaError("attempt to compare nil with number")
    if end < 0:
        raise LuaError("attempt to perform arithmetic on a nil value")
    return int(digits.group(0)) <= len(payload) - (end + 4)


def status_line(status: Any) -> str:
    """'HTTP/1.1 ' .. st: no reason phrase."""
    if not (is_number(status) or isinstance(status, str)):
        raise LuaError("invalid value in table for 'concat'")
    return f"HTTP/1.1 {status}\r\n"


class Connection(asyncio.Protocol):
    """One accepted TCP connection (a NodeMCU `net.socket`)."""

    def __init__(self, server: HttpServer) -> None:
        """Set up a connection accepted by `server`."""
        self.server = server
        self.boot = server.boot
        self.transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Own the transport for this boot and start the idle timeout."""
        self.transport = transport  # type: ignore[assignment]
        self.boot.own(transport)
        self._touch()

    def data_received(self, data: bytes) -> None:
        """Pass a TCP segment to the firmware's `receive` callback."""
        if not self.boot.running:
            return
        self._touch()
        # net.c calls the `receive` callback with lua_call: an error there is a PANIC.
        self.boot.call(self.server.on_receive, self, data.decode("latin-1"), protected=False)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the idle timeout and release the transport."""
        self.boot.cancel(self._idle)
        if self.transport is not None:
            self.boot.disown(self.transport)

    @property
    def open(self) -> bool:
        """Not closed by either side."""
        return self.transport is not None and not self.transport.is_closing()

    def _touch(self) -> None:
        """Restart the server's inactivity timeout (10 s), as every segment does."""
        self.boot.cancel(self._idle)
        self._idle = self.boot.call_later(self.server.idle_timeout, self.close, protected=True)

    def send_and_close(self, data: bytes) -> None:
        """Send as httpd_res doSend: the answer in 512-byte pieces, then `close`.

        `close` is pcall'd on v3.x: a
        socket the client already closed is silently skipped).
        """
        self.answered = True
        if self.open and self.transport is not None:
            self.transport.write(data)
            self._touch()
            self.transport.close()

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()


class HttpServer:
    """The listening socket and its connections (one per boot)."""

    def __init__(self, boot: Boot, on_receive: Callable[[Connection, str], None], idle_timeout: float) -> None:
        """Set up the server of one boot; `listen` opens its socket."""
        self.boot = boot
        self.on_receive = on_receive
        self.idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None

    async def listen(self, port: int) -> int:
        """Bind 127.0.0.1:port (0: any), return the port."""
        self._server = await self.boot.loop.create_server(
            lambda: Connection(self), "127.0.0.1", port, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        """Stop listening (connections are the boot's to drop)."""
        if self._server is not None:
            self._server.close()
            self._server = None
