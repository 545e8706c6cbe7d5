"""A raw HTTP server on 127.0.0.1 for answers no real board library would produce.

Two uses: answers framed exactly as the firmware frames them (httpd_res.lua `respondWithText`:
`HTTP/1.1 <status>` with no reason phrase, `Access-Control-Allow-Origin: *`, `Content-Type` and
`Content-Length` only when there is a body, the connection closed after the answer), and hostile
answers from something else on the LAN (endless bodies, deep JSON, invalid UTF-8).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

type Responder = Callable[["Request", asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawServer:
    """Reads each request fully, lets the responder write whatever it wants, then closes."""

    responder: Responder
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, target, headers, body)
            self.requests.append(request)
            await self.responder(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_server(responder: Responder) -> AsyncIterator[RawServer]:
    """Serve on an ephemeral port of 127.0.0.1 for the block."""
    state = RawServer(responder)
    server = await asyncio.start_server(state._serve, "127.0.0.1", 0)  # noqa: SLF001
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for handler in list(state.handlers):
            handler.cancel()
        await asyncio.gather(*state.handlers, return_exceptions=True)
        server.close_clients()
        await server.wait_closed()


def firmware_answer(body: bytes, status: int = 200) -> bytes:
    """An answer framed as httpd_res.lua `respondWithText` frames it (v2.3.2 … v3.1.5)."""
    headers = ""
    if body:
        headers = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return f"HTTP/1.1 {status}\r\nAccess-Control-Allow-Origin: *\r\n{headers}\r\n".encode() + body


def answer_with(body: bytes, status: int = 200) -> Responder:
    """A responder giving every request the same firmware-framed answer."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(firmware_answer(body, status))
        await writer.drain()

    return respond
