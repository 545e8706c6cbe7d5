"""NodeMCU's WebSocket client as the firmware's `mqtt_ws.lua` drives it.

The client is app/websocket/websocketclient.c and app/modules/websocket.c. Frames are built and parsed with the `websockets`
library's frame codec; the connection states, timers and quirks are the C client's:

- states: 0 new, 1 resolving, 2 connecting (TCP/TLS), 3 connected (from TCP connect, before
  the upgrade answer), 4 closing/closed; `ws:connect` only from 0 or 4, `ws:send` only in 3
  (else a Lua error: "Websocket isn't connected.");
- the upgrade request: `GET <path> HTTP/1.1`, `Host: <host>:<port>` (always with the port),
  Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version, the configured headers, then
  `User-Agent: ESP8266` (the default `Sec-WebSocket-Protocol: chat` is dropped because a
  configured header has that name); the answer must contain `HTTP/1.1 101` and the accept key;
- one timer: 10 s connect timeout, then the 30 s ping timer (reset by any received data; a
  ping each time it fires; the connection is dropped when it fires with two pings unanswered),
  or the 5 s force-close after `ws:close()`; arming one disarms the others;
- `ws:close()`: nothing in state 0 or 4; in state 1 closed at once; otherwise a close frame
  (sent only in state 3) and the force-close timer;
- a close frame from the server is echoed and the TCP connection dropped once it is sent;
- every received frame is one message for the `receive` callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
import ipaddress
import re
import ssl
from typing import Final

from websockets.exceptions import ProtocolError
from websockets.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    Frame,
    Opcode,
)
from websockets.streams import StreamReader
from websockets.utils import accept_key, generate_key

from .lua import LuaError
from .runtime import Boot

USER_AGENT: Final = "ESP8266"  # websocketclient.c DEFAULT_HEADERS
UNHEALTHY_THRESHOLD: Final = 2

# knownFailureCode values reported to the `close` callback (websocketclient.c).
BAD_PROTOCOL, HOST_TOO_LONG, BAD_PORT, NO_HOST = -1, -2, -3, -4
DNS_FAILED, CLOSED_BY_SERVER, BAD_ACCEPT_KEY, NOT_SWITCHING = -5, -6, -7, -17
CONNECT_TIMEOUT, PING_TIMEOUT, UNKNOWN = -18, -19, -99
TCP_RESET = -109  # error_callback: errType (ESPCONN_RST -9) - 100


class NodeWebSocket:
    """`websocket.createClient()`."""

    def __init__(self, boot: Boot, *, connect_timeout: float, ping_interval: float, close_timeout: float, latency: float) -> None:
        """Set the timings in seconds: connect timeout, ping interval, force-close, TCP/TLS set-up time."""
        self.boot = boot
        self.state = 0
        self.headers: list[tuple[str, str]] = []
        self.on_connection: Callable[[], None] | None = None
        self.on_receive: Callable[[bytes, int], None] | None = None
        self.on_close: Callable[[int], None] | None = None
        self.upgrade_request: bytes = b""  # the last one sent, for tests
        self.pings_sent = 0
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._close_timeout = close_timeout
        self._latency = latency
        self._failure = 0
        self._unhealthy = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_function: Callable[[], None] = self._ping
        self._task: asyncio.Task[None] | None = None
        self._stream: _Stream | None = None
        self._fragments: list[bytes] = []
        self._fragment_opcode = int(OP_BINARY)

    # --- Lua API (ws:config, ws:connect, ws:send, ws:close) ---------------------------------

    def config(self, headers: list[tuple[str, str]]) -> None:
        """ws:config({headers = {...}})."""
        self.headers = list(headers)

    def connect(self, url: object) -> None:
        """ws:connect(url)."""
        if self.state not in (0, 4):
            raise LuaError("Websocket already connecting or connected.")
        if not isinstance(url, str):
            raise LuaError("bad argument #2 to 'connect' (string expected)")
        self.state = 0
        target = _parse_url(url)
        if isinstance(target, int):
            self._report_close(target)  # onFailure straight from ws_connect, state unchanged
            return
        self.state = 1
        self._failure = 0
        self._unhealthy = 0
        self._fragments = []
        self._task = self.boot.spawn(self._open(*target))

    def send(self, data: bytes, opcode: int = 2) -> None:
        """ws:send(data, opcode)."""
        if self.state != 3:
            raise LuaError("Websocket isn't connected.")
        self._send_frame(Opcode(opcode), data)

    def close(self) -> None:
        """ws:close() (ws_close)."""
        if self.state in (0, 4):
            return
        self._failure = 0
        if self.state == 1:
            self._disconnected()
            return
        self._send_frame(OP_CLOSE, b"")
        self._arm(self._close_timeout, self._force_close)

    # --- the C client -------------------------------------------------------------------

    def _send_frame(self, opcode: Opcode, data: bytes) -> None:
        """ws_sendFrame: silently nothing unless connected (state 3)."""
        stream = self._stream
        if self.state != 3 or stream is None:
            return
        stream.write(Frame(opcode, data).serialize(mask=True))

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        """os_timer_setfn + os_timer_arm on the client's only timer."""
        self.boot.cancel(self._timer)
        self._timer_function = callback
        self._timer = self.boot.call_later(delay, callback, protected=True)

    async def _open(self, secure: bool, host: str, port: int, path: str) -> None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            try:
                await self.boot.loop.getaddrinfo(host, port)
            except OSError:
                self._failure = DNS_FAILED
                self._disconnected()
                return
        self.state = 2
        self._arm(self._connect_timeout, self._connect_timed_out)
        await asyncio.sleep(self._latency)  # the ESP8266's TCP (and TLS) set-up
        stream = _Stream(self)
        try:
            await self.boot.loop.create_connection(lambda: stream, host, port, ssl=_unverified_tls() if secure else None)
        except OSError:
            self._failure = TCP_RESET
            self._disconnected()
            return
        self._task = None
        self._stream = stream
        self.state = 3
        stream.send_upgrade(host, port, path)

    def _connect_timed_out(self) -> None:
        """ws_connectTimeout: the attempt is deleted, no FIN."""
        self._failure = CONNECT_TIMEOUT
        self._disconnected()

    def _force_close(self) -> None:
        """ws_forceCloseTimeout."""
        if self.state in (0, 4):
            return
        self._drop()

    def _ping(self) -> None:
        """ws_sendPingTimeout (a repeating timer)."""
        self._arm(self._ping_interval, self._ping)
        if self._unhealthy == UNHEALTHY_THRESHOLD:
            self._failure = PING_TIMEOUT
            self._drop()
            return
        self._send_frame(OP_PING, b"")
        self.pings_sent += 1
        self._unhealthy += 1

    def upgraded(self) -> None:
        """ws_initReceiveCallback after a valid answer: the ping timer replaces the others."""
        self._arm(self._ping_interval, self._ping)
        if self.on_connection is not None:
            self.boot.call(self.on_connection, protected=True)

    def handshake_failed(self, code: int) -> None:
        """Fail the handshake: the answer was not `101` or had another accept key."""
        self._failure = code
        self._drop()

    def received(self) -> None:
        """Take received data as ws_receiveCallback does.

        Any data makes the connection healthy again and re-arms the
        timer for 30 s with whatever function it has (after ws:close(): the force-close).
        """
        self._unhealthy = 0
        self._arm(self._ping_interval, self._timer_function)

    def frame(self, frame: Frame) -> None:
        """One parsed frame."""
        if frame.opcode == OP_CLOSE:
            self._send_frame(OP_CLOSE, bytes(frame.data))
            self.state = 4
            self._failure = CLOSED_BY_SERVER
            self._drop()
        elif frame.opcode == OP_PING:
            self._send_frame(OP_PONG, bytes(frame.data))
        elif frame.opcode == OP_PONG:
            pass
        elif not frame.fin:
            if frame.opcode != OP_CONT:
                self._fragment_opcode = int(frame.opcode)
            self._fragments.append(bytes(frame.data))
        else:
            data, opcode = bytes(frame.data), int(frame.opcode)
            if opcode == OP_CONT:
                if not self._fragments:
                    self._failure = -15
                    self._drop()
                    return
                data, opcode = b"".join([*self._fragments, data]), self._fragment_opcode
                self._fragments = []
            if self.on_receive is not None:
                self.boot.call(self.on_receive, data, opcode, protected=True)

    def _drop(self) -> None:
        """espconn_disconnect: the TCP connection closes (FIN), then disconnect_callback runs."""
        stream = self._stream
        if stream is not None:
            stream.close()
        else:
            self._disconnected()

    def lost(self, stream: _Stream) -> None:
        """Handle the loss of the TCP connection of `stream`."""
        if stream is self._stream:
            self._disconnected()

    def _disconnected(self) -> None:
        """disconnect_callback: state 4, then the `close` callback with the failure code."""
        self.state = 4
        self.boot.cancel(self._timer)
        self._timer = None
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._report_close(self._failure or UNKNOWN)

    def _report_close(self, code: int) -> None:
        if self.on_close is not None:
            self.boot.call(self.on_close, code, protected=True)


def _parse_url(url: str) -> tuple[bool, str, int, str] | int:
    """ws_connect's URL parsing, or the failure code it reports."""
    lowered = url.lower()
    if lowered.startswith("wss://"):
        secure, rest = True, url[6:]
    elif lowered.startswith("ws://"):
        secure, rest = False, url[5:]
    else:
        return BAD_PROTOCOL
    slash = rest.find("/")
    hostname, path = (rest[:slash], rest[slash:]) if slash >= 0 else (rest, "/")
    if len(hostname) >= 256:
        return HOST_TOO_LONG
    port = 443 if secure else 80
    if ":" in hostname:
        hostname, _, port_text = hostname.partition(":")
        digits = re.match(r"\s*([+-]?\d+)", port_text)
        port = int(digits.group(1)) if digits else 0  # atoi
        if not 0 < port <= 65535:
            return BAD_PORT
    if not hostname:
        return NO_HOST
    return secure, hostname, port, path


def _unverified_tls() -> ssl.SSLContext:
    """Return a TLS context that skips the server certificate, as the firmware does (no tls.cert.verify call)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _Stream(asyncio.Protocol):
    """The TCP side of one connection attempt."""

    def __init__(self, client: NodeWebSocket) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self._upgraded = False
        self._buffer = b""
        self._expected_accept = ""
        self._reader = StreamReader()
        self._parser: Generator[None, None, Frame] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client.boot.own(transport)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.client.boot.disown(self.transport)
            if not self.transport.is_closing():
                self.transport.abort()

    def send_upgrade(self, host: str, port: int, path: str) -> None:
        """connect_callback: the upgrade request, header by header as sprintf_headers writes it."""
        key = generate_key()
        self._expected_accept = accept_key(key)
        fixed = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
        defaults = [("User-Agent", USER_AGENT), ("Sec-WebSocket-Protocol", "chat")]
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
        seen: set[str] = set()
        for name, value in [*fixed, *self.client.headers, *defaults]:
            if name.lower() in seen:
                continue  # the first header of a name wins
            seen.add(name.lower())
            lines.append(f"{name}: {value}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.client.upgrade_request = request
        self.write(request)

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client._stream is not self or not client.boot.running:  # noqa: SLF001
            return
        if not self._upgraded:
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._buffer[: end + 4], self._buffer[end + 4 :]
            self._buffer = b""
            if b"HTTP/1.1 101" not in head:
                client.handshake_failed(NOT_SWITCHING)
                return
            if self._expected_accept.encode() not in head:
                client.handshake_failed(BAD_ACCEPT_KEY)
                return
            self._upgraded = True
            client.upgraded()
            if not data:
                return
        client.received()
        self._reader.feed_data(data)
        while client._stream is self and client.boot.running:  # noqa: SLF001
            if self._parser is None:
                self._parser = Frame.parse(self._reader.read_exact, mask=False)
            try:
                next(self._parser)
            except StopIteration as done:
                self._parser = None
                client.frame(done.value)
                continue
            except ProtocolError:
                client.handshake_failed(UNKNOWN)
            break

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.client.boot.disown(self.transport)
        self.client.lost(self)
