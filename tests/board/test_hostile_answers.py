"""Whatever answers on a board's address: bounded, typed, never an unhandled exception (issue 11).

Each test would fail against a client that reads the whole body (`response.text()`), parses with
`json.loads` alone, or decodes leniently.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc

import aiohttp
import pytest

from custom_components.konnected_aws.board import (
    BoardClient,
    BoardError,
    BoardResponseError,
)
from custom_components.konnected_aws.board.wire import MAX_ANSWER_BYTES, MAX_JSON_DEPTH

from .raw_http import Request, answer_with, firmware_answer, raw_server

HUGE = 120 * 1024 * 1024
CHUNK = b" " * (64 * 1024)  # valid JSON whitespace, so only the size can be refused

pytestmark = pytest.mark.usefixtures("socket_enabled")


def client(port: int, session: aiohttp.ClientSession) -> BoardClient:
    return BoardClient("127.0.0.1", port, session, timeout=5, retry_delay=0.01)


class EndlessBody:
    """Streams up to 120 MB of whitespace and counts what the socket accepted."""

    def __init__(self, *, declare_length: bool) -> None:
        self.declare_length = declare_length
        self.sent = 0
        self.stopped = asyncio.Event()

    async def __call__(self, request: Request, writer: asyncio.StreamWriter) -> None:
        length = f"Content-Length: {HUGE}\r\n" if self.declare_length else ""
        writer.write(f"HTTP/1.1 200\r\nContent-Type: application/json\r\n{length}\r\n".encode())
        try:
            while self.sent < HUGE:
                writer.write(CHUNK)
                await writer.drain()
                self.sent += len(CHUNK)
        except ConnectionError:
            pass
        finally:
            self.stopped.set()


@pytest.mark.parametrize("declare_length", [False, True], ids=["close-delimited", "declared"])
async def test_huge_answer_is_refused_early_without_the_memory(declare_length: bool) -> None:
    """120 MB offered: refused after at most the cap; the reading stops and memory stays flat."""
    endless = EndlessBody(declare_length=declare_length)
    async with raw_server(endless) as server, aiohttp.ClientSession() as session:
        tracemalloc.start()
        try:
            with pytest.raises(BoardResponseError, match="more than a board can send"):
                await client(server.port, session).get_status()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await asyncio.wait_for(endless.stopped.wait(), 5)
    # The connection was dropped: the server got only what the socket buffers took.
    print(f"sent {endless.sent} bytes, client peak {peak} bytes")  # noqa: T201 - docs/protocol.md quotes these
    assert endless.sent < HUGE // 8, endless.sent
    assert peak < 2 * 1024 * 1024, peak


async def test_answer_just_under_the_cap_is_read() -> None:
    """The cap is not a lower limit: a padded but valid status of almost 64 KiB parses."""
    status = json.dumps({"mac": "88:40:f5:20:99:48", "swVersion": "3.1.5"}).encode()
    body = status + b" " * (MAX_ANSWER_BYTES - len(status))
    async with raw_server(answer_with(body)) as server, aiohttp.ClientSession() as session:
        assert (await client(server.port, session).get_status()).sw_version == "3.1.5"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "nested deeper"),  # 60 KB: under the size cap
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), "nested deeper"),
        (b'{"mac": "88:40:f5:20:99:48", "name": "\xff\xfe"}', "not UTF-8"),
        (b'{"mac": "88:40:f5:20:99:48", "name": "\xc3\x28"}', "not UTF-8"),
        (b'{"mac": "88:40:f5', "not JSON"),
        (b'{"mac": ' + b"9" * 5000 + b"}", "not JSON"),  # Python's int digit limit
        ("{\"mac\": \"88:40:f5:20:99:48\"}".encode("utf-16"), "not UTF-8"),
    ],
    ids=["deep-array", "just-too-deep", "invalid-bytes", "bad-continuation", "cut-short", "huge-int", "utf-16"],
)
async def test_malformed_answers_are_response_errors(body: bytes, message: str) -> None:
    """Each is a BoardResponseError with a clear message, never RecursionError or UnicodeDecodeError."""
    async with raw_server(answer_with(body)) as server, aiohttp.ClientSession() as session:
        with pytest.raises(BoardResponseError, match=message):
            await client(server.port, session).get_status()


async def test_compressed_answer_is_not_inflated() -> None:
    """A gzip bomb (1 MB of zeros in ~1 KB) is refused from its header, never decompressed."""
    bomb = gzip.compress(b"0" * 1_000_000)

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        await writer.drain()

    async with raw_server(respond) as server, aiohttp.ClientSession() as session:
        with pytest.raises(BoardResponseError, match="compressed"):
            await client(server.port, session).get_status()


async def test_garbage_instead_of_http_is_an_error_not_a_crash() -> None:
    """Something that does not speak HTTP at all."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\xff garbage \r\n\r\n")
        await writer.drain()

    async with raw_server(respond) as server, aiohttp.ClientSession() as session:
        with pytest.raises(BoardError):
            await client(server.port, session).get_status()


async def test_firmware_framing_is_understood() -> None:
    """No reason phrase, no Content-Length on an empty answer, connection closed: as the board does."""
    status = json.dumps({"mac": "88:40:f5:20:99:48", "swVersion": "2.3.2", "settings": []}).encode()
    async with raw_server(answer_with(status)) as server, aiohttp.ClientSession() as session:
        parsed = await client(server.port, session).get_status()
    assert parsed.sw_version == "2.3.2"
    assert parsed.settings == {}
    assert firmware_answer(b"").startswith(b"HTTP/1.1 200\r\n")


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_error_statuses_are_response_errors(status: int) -> None:
    """A failing handler (a Lua error in the firmware closes with nothing; others answer a status)."""
    async with raw_server(answer_with(b"", status)) as server, aiohttp.ClientSession() as session:
        with pytest.raises(BoardResponseError, match=f"HTTP {status}"):
            await client(server.port, session).get_status()
