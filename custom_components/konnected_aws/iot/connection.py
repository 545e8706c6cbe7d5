"""The bridge's single MQTT-over-WebSocket connection to AWS IoT Core.

It authenticates with the account's custom authorizer as the `bridge` principal (see
docs/architecture.md), subscribes to every board's reports and publishes actuator
commands. The MQTT protocol itself is aiomqtt/paho's; this module only keeps the
connection alive, with exponential backoff, and turns messages into typed reports, and
masks paho's WebSocket control frames (`mask_paho_websocket_frames`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import functools
import inspect
import logging
import random
import secrets
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt import client as paho_client

from .messages import (
    BRIDGE_SUBSCRIPTIONS,
    ActuatorCommand,
    BoardMessage,
    board_topics,
    parse_message,
)

_LOGGER = logging.getLogger(__name__)

AUTHORIZER_NAME_HEADER: Final = "x-amz-customauthorizer-name"
AUTHORIZER_SIGNATURE_HEADER: Final = "x-amz-customauthorizer-signature"
TOKEN_HEADER: Final = "Token"
KEEPALIVE_SECONDS: Final = 60
CONNECT_TIMEOUT_SECONDS: Final = 15.0


class BridgeError(Exception):
    """Base class for the bridge's errors."""


class BridgeNotConnectedError(BridgeError):
    """A command could not be sent because the connection is down."""


@dataclass(frozen=True, slots=True)
class BridgeCredentials:
    """Where and how the bridge connects; `token` and `signature` are secrets."""

    url: str
    authorizer_name: str
    token: str
    signature: str
    client_id: str

    def __repr__(self) -> str:
        """Show the URL and client id only."""
        # Keeps the token and its signature out of logs and tracebacks.
        return f"BridgeCredentials(url={self.url!r}, client_id={self.client_id!r})"


def bridge_client_id(bridge_id: str) -> str:
    """Return a client id for this run of the bridge: the principal's prefix, a random suffix.

    AWS IoT disconnects a client when another connects with the same id. Two Home Assistant
    installations holding the same bridge principal (a backup restored on a second machine)
    would otherwise knock each other off forever; with a suffix per run both stay connected.
    """
    return f"konnected-bridge-{bridge_id}-{secrets.token_hex(4)}"


def iot_url(endpoint: str) -> str:
    """Return the WebSocket URL for an IoT data endpoint host (or an explicit ws/wss URL)."""
    if "://" in endpoint:
        return endpoint
    return f"wss://{endpoint}/mqtt"


def mask_paho_websocket_frames() -> None:
    """Make paho mask every WebSocket frame it sends (process-wide, idempotent).

    paho-mqtt 2.1.0 answers a server's WebSocket ping with an unmasked pong, and echoes a close
    frame unmasked (`_WebsocketWrapper._recv_impl` calls `_create_frame(..., 0)`). RFC 6455
    section 5.1: a client masks every frame, and a server closes the connection (1002) on an
    unmasked one - so any server that pings would drop the bridge. paho's wrapper only ever
    makes client frames, so always masking is correct. The patch is skipped if paho's private
    `_create_frame(self, opcode, data, do_masking)` changes shape.
    """
    wrapper: Any = getattr(paho_client, "_WebsocketWrapper", None)
    create_frame = getattr(wrapper, "_create_frame", None)
    if create_frame is None or getattr(create_frame, "konnected_masked", False):
        return
    if list(inspect.signature(create_frame).parameters) != ["self", "opcode", "data", "do_masking"]:
        _LOGGER.warning(
            "paho-mqtt's WebSocket framing changed; its control frames stay as they are"
        )
        return

    @functools.wraps(create_frame)
    def masked(self: Any, opcode: int, data: bytearray, do_masking: int = 1) -> Any:
        return create_frame(self, opcode, data, 1)

    setattr(masked, "konnected_masked", True)  # noqa: B010 - marks the patch as applied
    wrapper._create_frame = masked  # noqa: SLF001 - patching paho's frame builder is the point (see above)


type MessageCallback = Callable[[BoardMessage], None]
type ConnectionCallback = Callable[[bool], None]


class BridgeConnection:
    """Keeps one MQTT connection up and routes the boards' reports to a callback."""

    def __init__(
        self,
        credentials: BridgeCredentials,
        on_message: MessageCallback,
        on_connection_change: ConnectionCallback,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 120.0,
    ) -> None:
        """Prepare the connection; `ssl_context` is required for wss URLs."""
        parts = urlsplit(credentials.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"Not a WebSocket URL: {credentials.url}")
        if parts.scheme == "wss" and ssl_context is None:
            raise ValueError("A TLS context is needed for wss URLs")
        mask_paho_websocket_frames()
        self._credentials = credentials
        self._hostname = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "wss" else 80)
        self._path = parts.path or "/mqtt"
        if parts.query:
            self._path += f"?{parts.query}"
        self._ssl_context = ssl_context if parts.scheme == "wss" else None
        self._on_message = on_message
        self._on_connection_change = on_connection_change
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.last_error: str | None = None

    @property
    def client_id(self) -> str:
        """The MQTT client id this connection uses (unique per run)."""
        return self._credentials.client_id

    @property
    def connected(self) -> bool:
        """True while the broker has accepted us and our subscriptions."""
        return self._connected.is_set()

    def start(self) -> None:
        """Start connecting in the background; reconnects until `stop`."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"konnected_aws bridge {self._credentials.client_id}"
            )

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_connected(False)

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until connected, at most `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def send_command(self, device_id: str, command: ActuatorCommand) -> None:
        """Publish an actuator command to one board's switch topic (QoS 1)."""
        client = self._client
        if client is None or not self.connected:
            raise BridgeNotConnectedError("Not connected to AWS IoT")
        try:
            await client.publish(board_topics(device_id).switch, command.payload(), qos=1)
        except aiomqtt.MqttError as err:
            raise BridgeNotConnectedError(f"Publishing failed: {err}") from err

    def _set_connected(self, connected: bool) -> None:
        if connected == self.connected:
            return
        if connected:
            self._connected.set()
        else:
            self._connected.clear()
        self._on_connection_change(connected)

    def _headers(self) -> dict[str, str]:
        return {
            AUTHORIZER_NAME_HEADER: self._credentials.authorizer_name,
            AUTHORIZER_SIGNATURE_HEADER: self._credentials.signature,
            TOKEN_HEADER: self._credentials.token,
        }

    async def _run(self) -> None:
        delay = self._backoff_initial
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as err:
                self.last_error = str(err)
            finally:
                self._client = None
                was_connected = self.connected
                self._set_connected(False)
            if was_connected:
                _LOGGER.info("Disconnected from AWS IoT (%s); reconnecting", self.last_error)
                delay = self._backoff_initial
            else:
                _LOGGER.debug("Connecting to AWS IoT failed: %s", self.last_error)
            # Jitter keeps many installations from reconnecting in lockstep after an outage.
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._backoff_max)

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self._hostname,
            self._port,
            identifier=self._credentials.client_id,
            transport="websockets",
            websocket_path=self._path,
            websocket_headers=self._headers(),
            tls_context=self._ssl_context,
            keepalive=KEEPALIVE_SECONDS,
            timeout=CONNECT_TIMEOUT_SECONDS,
            clean_session=True,
        )
        try:
            await self._serve(client)
        finally:
            _retrieve_disconnect_error(client)

    async def _serve(self, client: aiomqtt.Client) -> None:
        async with client:
            for topic_filter in BRIDGE_SUBSCRIPTIONS:
                # QoS 0 delivery: no PUBACK per report from our side. paho's WebSocket writer
                # corrupts frames when many small writes queue up (docs/benchmarks.md), and a
                # report lost with the connection is recovered by the refresh after reconnecting.
                await client.subscribe(topic_filter, qos=0)
            self._client = client
            self.last_error = None
            _LOGGER.info("Connected to AWS IoT as %s", self._credentials.client_id)
            self._set_connected(True)
            async for message in client.messages:
                report = parse_message(str(message.topic), _payload_bytes(message.payload))
                if report is None:
                    continue
                try:
                    self._on_message(report)
                except Exception:
                    # One bad consumer must not take the connection down for every board.
                    _LOGGER.exception("Error handling a report from %s", report.device_id)


def _retrieve_disconnect_error(client: aiomqtt.Client) -> None:
    """Mark the client's disconnect error as seen.

    aiomqtt 2.5 no longer raises it when the context is left; a broker dropping the bridge during
    a subscribe (AWS does on a policy refusal) then left asyncio logging "Future exception was
    never retrieved" at ERROR. The error itself already ended `_session` and is in `last_error`.
    """
    disconnected = getattr(client, "_disconnected", None)
    if isinstance(disconnected, asyncio.Future) and disconnected.done() and not disconnected.cancelled():
        disconnected.exception()


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b""
