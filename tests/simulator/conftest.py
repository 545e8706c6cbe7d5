"""Helpers for the simulator's own tests: raw HTTP (the firmware's framing is the point), an
emulated AWS account with a registered board, boards of each release with fast timings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass, replace
import json
from typing import Any

import pytest
from websockets.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, Frame, Opcode
from websockets.streams import StreamReader
from websockets.utils import accept_key

from custom_components.konnected_aws.cloud.signing import sign_token
from devtools.board_simulator import SimulatedBoard, Timing
from devtools.iot_emulator import IotEmulator
from tests.conftest import SimulatedBoardFactory

FAST = Timing(reboot_delay=0.05, boot_time=0.1, heartbeat_interval=300.0, reconnect_delay=0.05, scale=0.01)
MAC = "5c:cf:7f:12:34:56"
RELEASES = ("2.3.2", "3.0.1", "3.1.5")
# An endpoint type application.lua knows neither as `rest` nor `aws_iot`: no upstream loop. A
# factory (REST) board with inputs but no endpoint crash-loops (rest_endpoint.lua concatenates
# the nil endpoint), so HTTP-only tests use this.
IDLE = {"endpoint_type": "none"}


@dataclass
class Answer:
    """What came back on one TCP connection, until the board closed it (or we gave up)."""

    raw: bytes
    closed: bool

    @property
    def status_line(self) -> str:
        return self.raw.split(b"\r\n", 1)[0].decode()

    @property
    def status(self) -> int:
        return int(self.status_line.split(" ")[1])

    @property
    def headers(self) -> dict[str, str]:
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode()
        return {
            line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip()
            for line in head.split("\r\n")[1:]
            if ":" in line
        }

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.raw else b""

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(port: int, request: bytes, *, timeout: float = 2.0) -> Answer:
    """Send bytes in one write, read until the board closes the connection (or timeout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = b""
    closed = False
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(4096):
                data += chunk
            closed = True
    except TimeoutError:
        pass
    except ConnectionResetError:
        closed = True
    writer.close()
    return Answer(data, closed)


def http_request(method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> bytes:
    """A request as a typical client writes it (headers and body in one segment)."""
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    head = f"{method} {path} HTTP/1.1\r\nHost: board\r\nUser-Agent: test\r\n"
    if body is not None:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


async def call(board: SimulatedBoard, method: str, path: str, body: Any = None, *, timeout: float = 2.0) -> Answer:
    """One request to the board."""
    return await raw_request(board.http_port, http_request(method, path, body), timeout=timeout)


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until true."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


type MakeBoard = Callable[..., Awaitable[SimulatedBoard]]


@pytest.fixture
def make_sim(make_simulated_board: SimulatedBoardFactory) -> MakeBoard:
    """Boards of any release with fast timings (override fields with keyword arguments)."""

    async def make(
        sw_version: str = "3.1.5", *, mac: str = MAC, files: dict[str, Any] | None = None, **timing: float
    ) -> SimulatedBoard:
        return await make_simulated_board(mac, sw_version=sw_version, timing=replace(FAST, **timing), files=files)

    return make


@dataclass
class Account:
    """The emulated AWS account, ready for boards (authorizer, table, key)."""

    emulator: IotEmulator
    authorizer: str

    def credentials(self, device_id: str) -> tuple[str, str]:
        """Register the board (blocking: boto3) and return its token and signature."""
        cloud = self.emulator.cloud_account()
        token = cloud.registry.register(device_id, "user").token
        return token, sign_token(cloud.load_private_key(), token)

    async def aws_files(self, device_id: str, *, zones: bool = True, endpoint: str | None = None, actuator_trigger: int = 1) -> dict[str, Any]:
        """Stored settings of a board provisioned for this account (as PUT /settings leaves them)."""
        token, signature = await asyncio.get_running_loop().run_in_executor(None, self.credentials, device_id)
        key = "zone" if zones else "pin"
        return {
            "settings": {
                "endpoint": endpoint or self.emulator.ws_url,
                "endpoint_type": "aws_iot",
                "blink": True,
                "discovery": True,
                "aws": {
                    "authorizer": self.authorizer,
                    "token": token,
                    "token_signature": signature,
                    "topics": topics(device_id),
                },
            },
            "sensors": [{key: "1" if zones else 1}, {key: "2" if zones else 2}],
            "actuators": [{key: "out" if zones else 8, "trigger": actuator_trigger}],
            "dht_sensors": [],
            "ds18b20_sensors": [],
        }


def topics(device_id: str) -> dict[str, str]:
    return {
        "sensor": f"konnected/{device_id}/sensor",
        "heartbeat": f"konnected/{device_id}/heartbeat",
        "switch": f"konnected/{device_id}/switch",
    }


@pytest.fixture
async def account(iot_emulator: IotEmulator) -> Account:
    """The emulator with the integration's AWS resources created."""
    resources = await asyncio.get_running_loop().run_in_executor(None, lambda: iot_emulator.cloud_account().ensure())
    return Account(iot_emulator, resources.authorizer_name)


@dataclass
class Peer:
    """One WebSocket connection the fake endpoint accepted."""

    request: bytes
    writer: asyncio.StreamWriter
    received: list[tuple[int, bytes]]  # (opcode, payload) of every frame from the board
    closed: asyncio.Event

    @property
    def mqtt(self) -> list[bytes]:
        """The board's binary messages (one MQTT packet each)."""
        return [data for opcode, data in self.received if opcode == OP_BINARY]

    def send(self, data: bytes, opcode: int = OP_BINARY) -> None:
        """One unmasked frame to the board."""
        self.writer.write(Frame(Opcode(opcode), data).serialize(mask=False))

    def drop(self) -> None:
        """Close the TCP connection without a close frame."""
        self.writer.close()


class FakeAws:
    """A raw WebSocket endpoint the test controls: what it answers, and when it stays silent."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.connected = asyncio.Event()
        self.upgrade_status = 101
        self.connack = True
        self.puback = True
        self.answer_pings = True
        self.answer_close = True
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/mqtt"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for peer in self.peers:
            peer.writer.close()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
        if self.upgrade_status != 101:
            writer.write(f"HTTP/1.1 {self.upgrade_status} Unauthorized\r\nContent-Length: 0\r\n\r\n".encode())
            writer.close()
            self.peers.append(Peer(request, writer, [], asyncio.Event()))
            return
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n"
        )
        peer = Peer(request, writer, [], asyncio.Event())
        self.peers.append(peer)
        stream = StreamReader()
        parser: Generator[None, None, Frame] | None = None
        try:
            while data := await reader.read(65536):
                stream.feed_data(data)
                while True:
                    if parser is None:
                        parser = Frame.parse(stream.read_exact, mask=True)
                    try:
                        next(parser)
                    except StopIteration as done:
                        parser = None
                        self._frame(peer, done.value)
                        continue
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            peer.closed.set()

    def _frame(self, peer: Peer, frame: Frame) -> None:
        peer.received.append((int(frame.opcode), bytes(frame.data)))
        if frame.opcode == OP_PING and self.answer_pings:
            peer.send(bytes(frame.data), OP_PONG)
        elif frame.opcode == OP_CLOSE and self.answer_close:
            peer.send(bytes(frame.data), OP_CLOSE)
            peer.writer.close()
        elif frame.opcode == OP_BINARY:
            packet = bytes(frame.data)
            kind = packet[0] >> 4
            if kind == 1 and self.connack:
                peer.send(bytes([0x20, 0x02, 0x00, 0x00]))
                self.connected.set()
            elif kind == 8:
                peer.send(bytes([0x90, 0x03]) + packet[2:4] + b"\x00")
            elif kind == 3 and self.puback:
                peer.send(bytes([0x40, 0x02]) + puback_id(packet))


def puback_id(publish: bytes) -> bytes:
    """The packet id of a QoS 1 PUBLISH."""
    position = 1
    while publish[position] & 0x80:
        position += 1
    position += 1
    topic_length = int.from_bytes(publish[position : position + 2], "big")
    start = position + 2 + topic_length
    return publish[start : start + 2]


def publish_payload(publish: bytes) -> dict[str, Any]:
    """The JSON body of a QoS 1 PUBLISH from the board."""
    position = 1
    while publish[position] & 0x80:
        position += 1
    position += 1
    topic_length = int.from_bytes(publish[position : position + 2], "big")
    return json.loads(publish[position + 2 + topic_length + 2 :])  # type: ignore[no-any-return]


def command(topic: str, payload: dict[str, Any]) -> bytes:
    """A QoS 0 PUBLISH from the broker to the board."""
    body = topic.encode()
    data = json.dumps(payload).encode()
    remaining = 2 + len(body) + len(data)
    length = bytearray()
    while True:
        digit, remaining = remaining & 127, remaining >> 7
        length.append(digit | (128 if remaining else 0))
        if not remaining:
            break
    return bytes([0x30]) + bytes(length) + len(body).to_bytes(2, "big") + body + data


@pytest.fixture
async def fake_aws(socket_enabled: None) -> AsyncIterator[FakeAws]:
    """A controllable WebSocket endpoint."""
    fake = FakeAws()
    await fake.start()
    yield fake
    await fake.stop()


def fake_files(url: str, device_id: str = MAC.replace(":", ""), *, zones: bool = True, token: str | None = "tok", signature: str | None = "c2ln") -> dict[str, Any]:
    """A board provisioned for the fake endpoint."""
    aws: dict[str, Any] = {"authorizer": "konnected-aws", "topics": topics(device_id)}
    if token is not None:
        aws["token"] = token
    if signature is not None:
        aws["token_signature"] = signature
    key = "zone" if zones else "pin"
    return {
        "settings": {"endpoint": url, "endpoint_type": "aws_iot", "aws": aws},
        "sensors": [{key: "1" if zones else 1}],
        "actuators": [{key: "out" if zones else 8, "trigger": 1}],
    }
