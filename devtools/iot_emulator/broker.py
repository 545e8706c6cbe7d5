"""An amqtt broker behind AWS IoT Core's front door.

Each WebSocket connection goes through what AWS IoT does before any MQTT is exchanged
(sources in docs/emulation.md):
1. the upgrade request: path `/mqtt`; custom authentication when it carries credentials
   (HTTP 401 when refused);
2. the CONNECT, read here and not by amqtt: MQTT 3.1.1 only; an empty client id only with a clean
   session (AWS then assigns one); custom authentication from the username when the upgrade
   carried none (CONNACK 5 when refused); `iot:Connect` on `client/<clientId>`; a connection
   already holding the client id is disconnected (DUPLICATE_CLIENTID) before the new one is
   accepted; keep-alive 0 means 1,200 s, other values are held within 30-1,200 s, and 1.5 times
   that without a packet from the client disconnects it;
3. then amqtt runs the MQTT session with a plugin enforcing the policy on PUBLISH, SUBSCRIBE and
   delivery, and lifecycle events are published on `$aws/events/presence/...`.
Every packet the broker sends is its own WebSocket binary message (the firmware's NodeMCU client
parses one packet per message); text messages and unmasked client frames close the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
import contextlib
from dataclasses import dataclass, field
from http import HTTPStatus
import json
import logging
import ssl
import sys
import time
from typing import TYPE_CHECKING, Any, Final
import uuid

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerType
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
import websockets
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.http11 import Request, Response

from . import wire
from .auth import (
    Authorization,
    AuthorizationRefused,
    ConnectionFacts,
    HttpRequest,
    MqttConnect,
)
from .policy import RequestContext
from .tls import ENDPOINT_HOST

if TYPE_CHECKING:
    from . import IotEmulator

_LOGGER = logging.getLogger(__name__)

PLAIN_LISTENER: Final = "default"
TLS_LISTENER: Final = "tls"
MAX_CLIENT_ID_BYTES: Final = 128
DEFAULT_KEEP_ALIVE, MIN_KEEP_ALIVE, MAX_KEEP_ALIVE = 1200, 30, 1200
# AWS does not say how long it waits for the CONNECT after the upgrade; the emulator gives 10 s.
CONNECT_TIMEOUT_SECONDS: Final = 10.0
TAKEOVER_TIMEOUT_SECONDS: Final = 2.0


def effective_keep_alive(requested: int) -> int:
    """AWS IoT's keep-alive for a CONNECT's value: 0 is the 1,200 s default, else 30-1,200 s."""
    if requested == 0:
        return DEFAULT_KEEP_ALIVE
    return min(max(requested, MIN_KEEP_ALIVE), MAX_KEEP_ALIVE)


@dataclass(eq=False)
class ClientConnection:
    """One WebSocket connection, from its upgrade request to its close."""

    websocket: ServerConnection
    facts: ConnectionFacts
    authorization: Authorization | None = None
    client_id: str | None = None
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 0
    accepted: bool = False
    disconnect_reason: str | None = None
    client_disconnected: bool = False
    pongs: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    handles: list[asyncio.TimerHandle] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def principal_id(self) -> str:
        """The authorizer's principalId ("" before authorization)."""
        return self.authorization.principal_id if self.authorization else ""

    @property
    def source_ip(self) -> str:
        """The client's address."""
        return str(self.websocket.remote_address[0])

    def request_context(self) -> RequestContext:
        """Policy variables and condition keys of this connection."""
        return RequestContext.of(
            **{"iot:ClientId": self.client_id or "", "aws:SourceIp": self.source_ip}
        )

    def allows(self, action: str, resource: str) -> bool:
        """Whether the connection's policy allows the action on the resource."""
        return self.authorization is not None and self.authorization.policy.allows(
            action, resource, self.request_context()
        )

    def spawn(self, coroutine: Awaitable[None]) -> None:
        """Start a task that ends with the connection."""
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def stop_timers(self) -> None:
        """Cancel everything scheduled for this connection."""
        for handle in self.handles:
            handle.cancel()
        self.handles.clear()
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()


class _QuietHandshakeLogger(logging.LoggerAdapter[logging.Logger]):
    """Log failed opening handshakes at debug level.

    websockets logs a peer that goes away or misbehaves during the opening handshake as an
    ERROR with a traceback; for a server that is an ordinary event, logged here at debug level.
    (websockets wraps this adapter in its own, so every call arrives through `log`.)
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        error = sys.exception()
        ordinary = (EOFError, ConnectionError, TimeoutError, InvalidHandshake)
        if (
            level >= logging.ERROR
            and msg == "opening handshake failed"
            and isinstance(error, ordinary)
        ):
            kwargs.pop("exc_info", None)
            super().log(logging.DEBUG, "%s: %r", msg, error, **kwargs)
            return
        super().log(level, msg, *args, **kwargs)


class _PacketReader(ReaderAdapter):  # type: ignore[misc]  # amqtt ships no types
    """The client's side for amqtt.

    The accepted CONNECT first, then the WebSocket's binary messages, split into packets to note activity and DISCONNECT.
    """

    def __init__(
        self, websocket: ServerConnection, connect: bytes, connection: ClientConnection
    ) -> None:
        self._websocket = websocket
        self._connection = connection
        self._buffer = bytearray(connect)
        self._framing = bytearray()

    async def read(self, n: int = -1) -> bytes:
        while len(self._buffer) < max(n, 1):
            if not await self._receive():
                break
        count = len(self._buffer) if n < 0 else min(n, len(self._buffer))
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def _receive(self) -> bool:
        try:
            message = await self._websocket.recv()
        except ConnectionClosed:
            return False
        if isinstance(message, str):
            # MQTT over WebSocket is binary; a text message is a protocol error.
            await self._websocket.close(websockets.CloseCode.UNSUPPORTED_DATA, "binary frames only")
            return False
        self._buffer.extend(message)
        self._framing.extend(message)
        self._note_packets()
        return True

    def _note_packets(self) -> None:
        while self._framing:
            try:
                length = wire.packet_length(self._framing)
            except wire.MalformedPacket:
                self._framing.clear()  # amqtt reports the malformed packet itself
                return
            if length is None or length > len(self._framing):
                return
            if self._framing[0] >> 4 == wire.DISCONNECT:
                self._connection.client_disconnected = True
            del self._framing[:length]
            self._connection.last_activity = time.monotonic()

    def feed_eof(self) -> None:
        return None


class PacketWriter(WriterAdapter):  # type: ignore[misc]
    """The broker's side: each packet amqtt writes is sent as its own binary WebSocket message."""

    def __init__(self, websocket: ServerConnection) -> None:
        """Packets are queued by `write` and sent by `drain`."""
        self._websocket = websocket
        self._queued: list[bytes] = []
        self._lock = asyncio.Lock()

    def write(self, data: bytes) -> None:
        """Queue one MQTT packet; `drain` sends it."""
        if not wire.is_single_packet(data):
            raise ValueError("The broker wrote something that is not exactly one MQTT packet")
        self._queued.append(bytes(data))

    async def drain(self) -> None:
        """Send the queued packets, each as its own binary message."""
        async with self._lock:
            queued, self._queued = self._queued, []
            for packet in queued:
                try:
                    await self._websocket.send(packet)
                except ConnectionClosed as err:
                    # amqtt handles a closed connection as these errors, anything else as a bug.
                    raise ConnectionResetError("WebSocket closed") from err

    def get_peer_info(self) -> tuple[str, int] | None:
        """Return the client's address."""
        address = self._websocket.remote_address
        return (str(address[0]), int(address[1])) if address else None

    def get_ssl_info(self) -> ssl.SSLObject | None:
        """Return the TLS object of a wss:// connection."""
        ssl_object = self._websocket.transport.get_extra_info("ssl_object")
        return ssl_object if isinstance(ssl_object, ssl.SSLObject) else None

    async def close(self) -> None:
        """Close the WebSocket."""
        await self._websocket.close()


class _SubscriptionTable(dict[str, list[tuple[Session, int]]]):
    """A subscription table that survives subscribing during a broadcast.

    amqtt (0.12.1, Broker._run_broadcast) awaits the RECEIVE check while iterating its
    subscription table, so a client subscribing during a broadcast raised "dictionary changed
    size during iteration" and the message was dropped. Iterating a snapshot avoids that.
    """

    def items(self) -> list[tuple[str, list[tuple[Session, int]]]]:  # type: ignore[override]
        return [(topic_filter, list(sessions)) for topic_filter, sessions in super().items()]


class AwsIotBroker(Broker):  # type: ignore[misc]
    """amqtt behind AWS IoT's connection handling (upgrade, CONNECT, takeover, keep-alive)."""

    def __init__(self, config: dict[str, Any], emulator: IotEmulator) -> None:
        """Set up a broker where the emulator decides and the broker enforces."""
        super().__init__(config)
        self.emulator = emulator
        self._subscriptions = _SubscriptionTable()
        self._upgrades: dict[ServerConnection, ClientConnection] = {}
        self._websocket_logger = _QuietHandshakeLogger(logging.getLogger(f"{__name__}.websocket"))

    async def _create_server_instance(
        self,
        listener_name: str,
        listener_type: ListenerType,
        address: str | None,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> Any:
        if listener_type is not ListenerType.WS:
            return await super()._create_server_instance(
                listener_name, listener_type, address, port, ssl_context
            )
        tls = listener_name == TLS_LISTENER

        async def upgrade(websocket: ServerConnection, request: Request) -> Response | None:
            return await self._upgrade(websocket, request, tls=tls)

        async def handler(websocket: ServerConnection) -> None:
            await self._serve(websocket, listener_name)

        return await websockets.serve(
            handler,
            address,
            port,
            ssl=self.emulator.tls_server_context if tls else None,
            subprotocols=[websockets.Subprotocol("mqtt")],
            process_request=upgrade,
            # AWS drops a connection at once; paho does not answer close frames, so don't wait long.
            close_timeout=0.2,
            # WebSocket pings only when asked for (IotEmulator(ws_ping_interval=...)): sent by
            # `_ping` so tests can count the answers.
            ping_interval=None,
            logger=self._websocket_logger,
        )

    # --- upgrade ---------------------------------------------------------------------------

    async def _upgrade(
        self, websocket: ServerConnection, request: Request, *, tls: bool
    ) -> Response | None:
        path, _, query = request.path.partition("?")
        if path != "/mqtt":
            return websocket.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        http = HttpRequest(headers=dict(request.headers.raw_items()), query_string=query)
        connection = ClientConnection(
            websocket, ConnectionFacts(http, ENDPOINT_HOST if tls else None, tls)
        )
        authenticator = self.emulator.authenticator
        if authenticator.wants_upgrade_authorization(http):
            try:
                connection.authorization = await authenticator.authorize_upgrade(connection.facts)
            except AuthorizationRefused as err:
                self.emulator.refused("upgrade", str(err))
                return websocket.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        self._upgrades[websocket] = connection
        return None

    # --- connection ------------------------------------------------------------------------

    async def _serve(self, websocket: ServerConnection, listener_name: str) -> None:
        connection = self._upgrades.pop(websocket, None)
        if connection is None:
            return
        try:
            connect = await self._read_connect(websocket)
            if connect is None or not await self._accept(connection, connect):
                return
            assert connection.client_id is not None
            if self.emulator.ws_ping_interval:
                connection.spawn(self._ping(connection, self.emulator.ws_ping_interval))
            reader = _PacketReader(
                websocket, connect.for_broker(connection.client_id).to_bytes(), connection
            )
            await self.external_connected(reader, PacketWriter(websocket), listener_name)
        except ConnectionClosed:
            pass
        finally:
            await self._closed(connection)

    async def _read_connect(self, websocket: ServerConnection) -> wire.ConnectPacket | None:
        """Read the first packet, which must be a CONNECT on its own; None closes the connection."""
        buffer = bytearray()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                while (length := wire.packet_length(buffer)) is None or length > len(buffer):
                    message = await websocket.recv()
                    if isinstance(message, str):
                        await websocket.close(
                            websockets.CloseCode.UNSUPPORTED_DATA, "binary frames only"
                        )
                        return None
                    buffer.extend(message)
            if length != len(buffer):
                # AWS: the client must wait for the CONNACK before sending other packets.
                raise wire.MalformedPacket("Packets sent before the CONNACK")  # noqa: TRY301 - closed by the except below like any malformed CONNECT
            return wire.ConnectPacket.parse(bytes(buffer))
        except TimeoutError, ConnectionClosed:
            return None
        except wire.MalformedPacket as err:
            _LOGGER.info("Closing %s: %s", websocket.remote_address, err)
            await websocket.close()
            return None

    async def _refuse(self, connection: ClientConnection, return_code: int, why: str) -> bool:
        _LOGGER.info("Refusing CONNECT from %s: %s", connection.websocket.remote_address, why)
        with contextlib.suppress(ConnectionClosed):
            await connection.websocket.send(wire.connack(return_code))
        await connection.websocket.close()
        return False

    async def _accept(self, connection: ClientConnection, connect: wire.ConnectPacket) -> bool:
        """AWS IoT's decisions on a CONNECT; True when amqtt may take the session over."""
        if (
            connect.protocol_name != wire.PROTOCOL_NAME
            or connect.protocol_level != wire.PROTOCOL_LEVEL_311
        ):
            return await self._refuse(
                connection, wire.CONNACK_UNACCEPTABLE_PROTOCOL, "not MQTT 3.1.1"
            )
        client_id = connect.client_id
        if len(client_id.encode()) > MAX_CLIENT_ID_BYTES:
            return await self._refuse(
                connection, wire.CONNACK_IDENTIFIER_REJECTED, "client id over 128 bytes"
            )
        if not client_id:
            if not connect.clean_session:
                return await self._refuse(
                    connection, wire.CONNACK_IDENTIFIER_REJECTED, "[MQTT-3.1.3-8] empty client id"
                )
            client_id = self.emulator.assign_client_id()
        if connection.authorization is None:
            facts = ConnectionFacts(
                connection.facts.http,
                connection.facts.tls_server_name,
                connection.facts.tls,
                MqttConnect(connect.client_id, connect.username, connect.password),
            )
            connection.facts = facts
            try:
                connection.authorization = await self.emulator.authenticator.authorize_connect(
                    facts
                )
            except AuthorizationRefused as err:
                self.emulator.refused("connect", str(err))
                return await self._refuse(connection, wire.CONNACK_NOT_AUTHORIZED, str(err))
        connection.client_id = client_id
        resource = f"{self.emulator.arn}:client/{client_id}"
        if not connection.allows("iot:Connect", resource):
            self.emulator.denials.append(("connect", connection.principal_id, client_id))
            return await self._refuse(connection, wire.CONNACK_NOT_AUTHORIZED, "iot:Connect denied")
        await self._take_over(client_id)
        self._register(connection, effective_keep_alive(connect.keep_alive))
        return True

    async def _take_over(self, client_id: str) -> None:
        """AWS: the new connection is accepted and the one using the client id is disconnected."""
        previous = self.emulator.by_client.get(client_id)
        if previous is None:
            return
        previous.disconnect_reason = "DUPLICATE_CLIENTID"
        await previous.websocket.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TAKEOVER_TIMEOUT_SECONDS):
                await previous.closed.wait()

    def _register(self, connection: ClientConnection, keep_alive: int) -> None:
        assert connection.client_id is not None and connection.authorization is not None
        emulator = self.emulator
        emulator.by_client[connection.client_id] = connection
        connection.version = emulator.next_version(connection.client_id)
        connection.last_activity = time.monotonic()
        loop = asyncio.get_running_loop()
        connection.handles.append(
            loop.call_later(
                connection.authorization.disconnect_after * emulator.time_scale,
                self.schedule_disconnect,
                connection,
                "CUSTOMAUTH_TTL_EXPIRATION",
            )
        )
        connection.spawn(self._refresh(connection))
        connection.spawn(self._watch_keep_alive(connection, 1.5 * keep_alive * emulator.time_scale))

    async def _watch_keep_alive(self, connection: ClientConnection, timeout: float) -> None:
        """AWS disconnects a client it has not heard from for 1.5 times the keep-alive."""
        while True:
            idle = time.monotonic() - connection.last_activity
            if idle >= timeout:
                await self.disconnect(connection, "MQTT_KEEP_ALIVE_TIMEOUT")
                return
            await asyncio.sleep(timeout - idle)

    async def _refresh(self, connection: ClientConnection) -> None:
        """AWS invokes the authorizer again every refreshAfterInSeconds; a refusal disconnects."""
        while connection.authorization is not None:
            await asyncio.sleep(connection.authorization.refresh_after * self.emulator.time_scale)
            try:
                connection.authorization = await connection.authorization.refresh()
            except AuthorizationRefused as err:
                self.emulator.refused("refresh", str(err))
                await self.disconnect(connection, "AUTH_ERROR")
                return

    async def _ping(self, connection: ClientConnection, interval: float) -> None:
        """Send WebSocket pings; a missing pong closes the connection.

        (websockets closes it itself with 1002 when the client's pong is not masked).
        """
        websocket = connection.websocket
        try:
            while True:
                await asyncio.sleep(interval)
                pong = await websocket.ping()
                async with asyncio.timeout(max(interval, 1.0)):
                    await pong
                connection.pongs += 1
        except TimeoutError:
            await websocket.close(websockets.CloseCode.INTERNAL_ERROR, "ping timeout")
        except ConnectionClosed:
            return

    async def _closed(self, connection: ClientConnection) -> None:
        """Forget the connection; publish its disconnected event if it had been accepted."""
        connection.stop_timers()
        client_id = connection.client_id
        if client_id is not None:
            sent = connection.websocket.protocol.close_sent
            self.emulator.close_codes[client_id] = sent.code if sent is not None else None
        if client_id is not None and self.emulator.by_client.get(client_id) is connection:
            del self.emulator.by_client[client_id]
        if connection.accepted:
            if connection.disconnect_reason is None:
                connection.disconnect_reason = (
                    "CLIENT_INITIATED_DISCONNECT"
                    if connection.client_disconnected
                    else "CONNECTION_LOST"
                )
            await self.emulator.publish_presence("disconnected", connection)
        connection.closed.set()

    def schedule_disconnect(self, connection: ClientConnection, reason: str) -> None:
        """Drop a connection soon (from a timer)."""
        connection.spawn(self.disconnect(connection, reason))

    async def disconnect(self, connection: ClientConnection, reason: str) -> None:
        """Drop a connection the way AWS does (close the WebSocket)."""
        if connection.disconnect_reason is None:
            connection.disconnect_reason = reason
        await connection.websocket.close()


def presence_payload(event_type: str, connection: ClientConnection) -> bytes:
    """Return a lifecycle event as AWS IoT publishes it."""
    body: dict[str, Any] = {
        "clientId": connection.client_id,
        "timestamp": int(time.time() * 1000),
        "eventType": event_type,
        "sessionIdentifier": connection.session_id,
        "principalIdentifier": connection.principal_id,
        "versionNumber": connection.version,
    }
    if event_type == "connected":
        body["ipAddress"] = connection.source_ip
    else:
        reason = connection.disconnect_reason or "CONNECTION_LOST"
        body["clientInitiatedDisconnect"] = reason == "CLIENT_INITIATED_DISCONNECT"
        body["disconnectReason"] = reason
    return json.dumps(body).encode()


class AwsIotPlugin(BaseAuthPlugin, BaseTopicPlugin):  # type: ignore[misc]
    """Enforces the authorizer's policy inside amqtt and publishes the connected event."""

    @dataclass
    class Config:
        """The emulator whose decisions to enforce."""

        emulator: Any = None

    @property
    def _emulator(self) -> IotEmulator:
        return self.context.config.emulator  # type: ignore[no-any-return]

    def _connection(self, session: Session | None) -> ClientConnection | None:
        if session is None or not session.client_id:
            return None
        return self._emulator.by_client.get(session.client_id)

    async def authenticate(self, *, session: Session) -> bool | None:
        """Confirm the CONNECT that was accepted before amqtt read it (AwsIotBroker._accept)."""
        connection = self._connection(session)
        return connection is not None and connection.source_ip == session.remote_address

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        """PUBLISH/SUBSCRIBE outside the policy disconnect the client; RECEIVE is filtered."""
        emulator = self._emulator
        connection = self._connection(session)
        if connection is None or topic is None or action is None:
            return False
        if action is Action.SUBSCRIBE:
            allowed = connection.allows("iot:Subscribe", f"{emulator.arn}:topicfilter/{topic}")
        elif action is Action.PUBLISH:
            allowed = connection.allows("iot:Publish", f"{emulator.arn}:topic/{topic}")
        else:
            return connection.allows("iot:Receive", f"{emulator.arn}:topic/{topic}")
        if not allowed:
            emulator.denials.append((str(action), connection.principal_id, topic))
            broker = emulator.broker
            if broker is not None:
                broker.schedule_disconnect(connection, "AUTH_ERROR")
        return allowed

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        """Publish `$aws/events/presence/connected/<clientId>` once the CONNACK is out."""
        connection = self._emulator.by_client.get(client_id)
        if connection is not None:
            connection.accepted = True
            await self._emulator.publish_presence("connected", connection)
