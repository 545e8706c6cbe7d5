"""Helpers for the emulator's own tests: accounts, test authorizers, raw firmware-like clients.

Every test here runs the emulator the way AWS IoT is used: authorizers and Lambda functions
are deployed through the AWS APIs (moto), clients connect over real WebSockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
import contextlib
from dataclasses import dataclass
import io
import json
from pathlib import Path
import socket
import struct
from typing import Any
from urllib.parse import quote
import zipfile

import aiomqtt
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from custom_components.konnected_aws.cloud.signing import generate_key_pair, sign_token
from devtools.iot_emulator import IotEmulator

BOARD = "8840f5209948"
BRIDGE = "hassbridge1"
BRIDGE_CLIENT_ID = f"konnected-bridge-{BRIDGE}-0001"
# The CONNECT the firmware sends (konnected-io/konnected-security src/lfs/mqtt_ws.lua, on
# `connection`): MQTT 3.1.1, clean session, keep-alive 0, empty client id, no username.
FIRMWARE_CONNECT = bytes(
    [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]
)

# A test authorizer function: records its event (EVENT_LOG), answers RESPONSE, raises or sleeps.
TEST_LAMBDA = """
import json, os, time

def handler(event, context):
    log = os.environ.get("EVENT_LOG")
    if log:
        with open(log, "a") as stream:
            stream.write(json.dumps(event) + "\\n")
    if os.environ.get("MODE") == "raise":
        raise RuntimeError("the authorizer failed")
    if os.environ.get("MODE") == "sleep":
        time.sleep(float(os.environ["SLEEP"]))
    return json.loads(os.environ["RESPONSE"])
"""

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
}


def response(*documents: Any, principal: str = "tester", **overrides: Any) -> dict[str, Any]:
    """An authorizer response (valid unless overridden)."""
    body: dict[str, Any] = {
        "isAuthenticated": True,
        "principalId": principal,
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 3600,
        "policyDocuments": list(documents) if documents else [json.dumps(ALLOW_ALL)],
    }
    body.update(overrides)
    return body


@dataclass
class DeployedAuthorizer:
    """A deployed test authorizer and how to sign for it."""

    name: str
    arn: str
    private_pem: bytes
    event_log: Path

    def sign(self, token: str) -> str:
        """The token's signature by the authorizer's key."""
        return sign_token(self.private_pem, token)

    def events(self) -> list[dict[str, Any]]:
        """The events the function received so far."""
        if not self.event_log.exists():
            return []
        return [json.loads(line) for line in self.event_log.read_text().splitlines()]

    def headers(self, token: str = "test-token", *, name: str | None = None) -> dict[str, str]:
        """Upgrade headers naming this authorizer (or `name`)."""
        return IotEmulator.authorizer_headers(token, self.sign(token), name or self.name)

    def query(self, token: str = "test-token") -> str:
        """The same as query-string parameters."""
        return (
            f"x-amz-customauthorizer-name={quote(self.name, safe='')}"
            f"&x-amz-customauthorizer-signature={quote(self.sign(token), safe='')}"
            f"&Token={quote(token, safe='')}"
        )

    def username(self, token: str = "test-token", prefix: str = "device") -> str:
        """The MQTT username AWS's device SDK builder sends for a custom authorizer."""
        return f"{prefix}?{self.query(token)}"


def _package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("index.py", source)
    return buffer.getvalue()


def deploy_authorizer(
    emulator: IotEmulator,
    name: str,
    event_log: Path,
    *,
    answer: dict[str, Any] | list[Any] | None = None,
    mode: str = "respond",
    sleep: float = 0.0,
    timeout: int = 3,
    permission: str | None = "this",
    default: bool = False,
    status: str = "ACTIVE",
) -> DeployedAuthorizer:
    """Deploy TEST_LAMBDA as an authorizer, as a user would with the AWS APIs (blocking).

    `permission`: "this" lets iot.amazonaws.com invoke it for this authorizer's ARN, "other" for
    another authorizer's ARN, "service" for another service, None adds none.
    """
    iam, lambda_client, iot = (
        emulator.client("iam"),
        emulator.client("lambda"),
        emulator.client("iot"),
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role_arn = iam.get_role(RoleName="test-authorizer")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(
            RoleName="test-authorizer", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    function_arn = lambda_client.create_function(
        FunctionName=f"{name}-function",
        Runtime="python3.13",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": _package(TEST_LAMBDA)},
        Timeout=timeout,
        Environment={
            "Variables": {
                "EVENT_LOG": str(event_log),
                "MODE": mode,
                "SLEEP": str(sleep),
                "RESPONSE": json.dumps(answer if answer is not None else response()),
            }
        },
    )["FunctionArn"]
    arn = f"{emulator.arn}:authorizer/{name}"
    if permission is not None:
        lambda_client.add_permission(
            FunctionName=f"{name}-function",
            StatementId="iot-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com" if permission == "service" else "iot.amazonaws.com",
            SourceArn=arn
            if permission in ("this", "service")
            else f"{emulator.arn}:authorizer/someone-else",
        )
    keys = generate_key_pair()
    iot.create_authorizer(
        authorizerName=name,
        authorizerFunctionArn=function_arn,
        tokenKeyName="Token",
        tokenSigningPublicKeys={"key1": keys.public_pem.decode()},
        status=status,
        signingDisabled=False,
    )
    if default:
        iot.set_default_authorizer(authorizerName=name)
    return DeployedAuthorizer(name, arn, keys.private_pem, event_log)


type Deploy = Callable[..., Awaitable[DeployedAuthorizer]]


@pytest.fixture
def deploy(tmp_path: Path) -> Callable[[IotEmulator], Deploy]:
    """`await deploy(emulator)(name, **options)`: a test authorizer (see deploy_authorizer)."""

    def bind(emulator: IotEmulator) -> Deploy:
        async def run(name: str, **options: Any) -> DeployedAuthorizer:
            log = tmp_path / f"{name}.events"
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: deploy_authorizer(emulator, name, log, **options)
            )

        return run

    return bind


@dataclass
class KonnectedAccount:
    """The integration's own resources on the emulated account, with a board and a bridge."""

    board_token: str
    board_signature: str
    bridge_token: str
    bridge_signature: str


async def konnected_account(emulator: IotEmulator) -> KonnectedAccount:
    """`ensure` (the shipped authorizer Lambda), then a board and a bridge registered."""

    def setup() -> KonnectedAccount:
        cloud = emulator.cloud_account()
        cloud.ensure()
        cloud.registry.register(BOARD, "user", "board")
        cloud.registry.register(BRIDGE, "user", "bridge")
        return KonnectedAccount(*emulator.signed_token(BOARD), *emulator.signed_token(BRIDGE))

    return await asyncio.get_running_loop().run_in_executor(None, setup)


type EmulatorFactory = Callable[..., Awaitable[IotEmulator]]


@pytest.fixture(autouse=True)
def localhost_is_ipv4(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wss:// endpoint is `localhost` (clients must send SNI), but the test harness only allows
    connections to 127.0.0.1: resolve `localhost` to IPv4 only."""
    resolve = socket.getaddrinfo

    def ipv4_localhost(host: Any, *args: Any, **kwargs: Any) -> Any:
        results = resolve(host, *args, **kwargs)
        if host == "localhost":
            results = [result for result in results if result[0] == socket.AF_INET]
        return results

    monkeypatch.setattr(socket, "getaddrinfo", ipv4_localhost)


@pytest.fixture
async def make_emulator(socket_enabled: None) -> AsyncIterator[EmulatorFactory]:
    """Start emulators with options (`time_scale`, `ws_ping_interval`); all stopped afterwards."""
    started: list[IotEmulator] = []

    async def make(**options: Any) -> IotEmulator:
        emulator = IotEmulator(**options)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


def mqtt_client(emulator: IotEmulator, *, tls: bool = False, **options: Any) -> aiomqtt.Client:
    """An aiomqtt client over WebSocket to the ws:// or wss:// listener."""
    path = options.pop("websocket_path", "/mqtt")
    return aiomqtt.Client(
        "localhost" if tls else "127.0.0.1",
        emulator.tls_port if tls else emulator.port,
        transport="websockets",
        websocket_path=path,
        tls_context=emulator.client_ssl_context() if tls else None,
        timeout=5,
        **options,
    )


@contextlib.contextmanager
def refused_handshakes_expected() -> Iterator[None]:
    """A refused TLS handshake is reported to the loop's exception handler in asyncio's debug
    mode (the test harness's loop) as "Error on transport creation"; here it is the expected
    outcome, so such reports are dropped while the block runs."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get(
            "message"
        ) == "Error on transport creation for incoming connection" and isinstance(
            context.get("exception"), OSError
        ):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until `predicate()` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


# --- raw MQTT over WebSocket, byte for byte like the firmware ---------------------------------


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([first_byte]) + bytes(encoded) + body


def connect_packet(client_id: str = "", *, keep_alive: int = 0, clean: bool = True) -> bytes:
    """A CONNECT like the firmware's, with another client id, keep-alive or clean flag."""
    return _packet(
        0x10,
        _string("MQTT")
        + bytes([4, 0x02 if clean else 0])
        + struct.pack("!H", keep_alive)
        + _string(client_id),
    )


def subscribe_packet(topic: str, packet_id: int = 1) -> bytes:
    """SUBSCRIBE at QoS 0 (what the firmware subscribes with)."""
    return _packet(0x82, struct.pack("!H", packet_id) + _string(topic) + b"\x00")


def publish_packet(topic: str, payload: bytes, packet_id: int | None = 1) -> bytes:
    """PUBLISH at QoS 1 (what the firmware publishes with), at QoS 0 without a packet id."""
    if packet_id is None:
        return _packet(0x30, _string(topic) + payload)
    return _packet(0x32, _string(topic) + struct.pack("!H", packet_id) + payload)


PINGREQ = bytes([0xC0, 0x00])


def parse_publish(packet: bytes) -> tuple[str, bytes]:
    """Topic and payload of one PUBLISH packet."""
    assert packet[0] >> 4 == 3, packet
    position = 1
    while packet[position] & 0x80:
        position += 1
    position += 1
    (length,) = struct.unpack("!H", packet[position : position + 2])
    topic = packet[position + 2 : position + 2 + length].decode()
    position += 2 + length
    if (packet[0] >> 1) & 0x03:
        position += 2  # packet id
    return topic, packet[position:]


async def receive(websocket: ClientConnection, timeout: float = 5.0) -> bytes:
    """The next binary message."""
    message = await asyncio.wait_for(websocket.recv(), timeout)
    assert isinstance(message, bytes), message
    return message


async def raw_connect(
    url: str, headers: dict[str, str], connect: bytes = FIRMWARE_CONNECT, **options: Any
) -> tuple[ClientConnection, bytes]:
    """Open the WebSocket (subprotocol mqtt, as mqtt_ws.lua), send a CONNECT, return the CONNACK."""
    websocket = await websockets.connect(
        url, additional_headers=headers, subprotocols=[websockets.Subprotocol("mqtt")], **options
    )
    await websocket.send(connect)
    connack = await asyncio.wait_for(websocket.recv(), 5)
    assert isinstance(connack, bytes)
    return websocket, connack


def packet_types(messages: Sequence[bytes]) -> list[int]:
    """The MQTT packet type of each message."""
    return [message[0] >> 4 for message in messages]
