"""An amqtt broker that authenticates and authorizes like AWS IoT Core.

The WebSocket upgrade request is authorized before any MQTT byte is read (AWS answers a
refused custom authorization with HTTP 401). The decision is kept per connection and then
enforced by an amqtt plugin on CONNECT (client id), PUBLISH, SUBSCRIBE and delivery.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import websockets
from amqtt.broker import Broker
from amqtt.contexts import Action, ListenerType
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .policy import Policy

if TYPE_CHECKING:
    from . import IotEmulator


@dataclass
class Authorization:
    """What the authorizer decided for one WebSocket connection."""

    principal_id: str
    policy: Policy
    disconnect_after: int
    connection: ServerConnection
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str | None = None
    disconnect_reason: str | None = None
    timer: asyncio.TimerHandle | None = None


class _SubscriptionTable(dict[str, list[tuple[Session, int]]]):
    """amqtt (0.12.1, Broker._run_broadcast) awaits the RECEIVE check while iterating its
    subscription table, so a client subscribing during a broadcast raised "dictionary changed
    size during iteration" and the message was dropped. Iterating a snapshot avoids that.
    """

    def items(self) -> list[tuple[str, list[tuple[Session, int]]]]:  # type: ignore[override]
        return [(topic_filter, list(sessions)) for topic_filter, sessions in super().items()]


class AwsIotBroker(Broker):
    """amqtt with AWS IoT's custom authentication on its WebSocket listener."""

    def __init__(self, config: dict[str, Any], emulator: IotEmulator) -> None:
        """The emulator decides; the broker enforces."""
        super().__init__(config)
        self.emulator = emulator
        self._subscriptions = _SubscriptionTable()

    async def _create_server_instance(
        self,
        listener_name: str,
        listener_type: ListenerType,
        address: str | None,
        port: int,
        ssl_context: ssl.SSLContext | None,
    ) -> Any:
        if listener_type is not ListenerType.WS:
            return await super()._create_server_instance(listener_name, listener_type, address, port, ssl_context)
        broker = self

        async def handler(connection: ServerConnection) -> None:
            await broker.ws_connected(connection, listener_name)

        return await websockets.serve(
            handler,
            address,
            port,
            ssl=ssl_context,
            subprotocols=[websockets.Subprotocol("mqtt")],
            process_request=self._authorize_upgrade,
            # AWS drops a connection at once; paho does not answer close frames, so don't wait long.
            close_timeout=0.2,
            # No WebSocket pings: AWS IoT keeps sessions alive with MQTT PINGREQ. paho (2.1.0,
            # _WebsocketWrapper._recv_impl) answers a ping with an unmasked pong, which an RFC 6455
            # server must refuse ("1002 incorrect masking"), so websockets' default 20 s ping
            # would drop every paho client - the bridge, HA's mqtt, the simulated boards.
            ping_interval=None,
        )

    async def _authorize_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != "/mqtt":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        authorization = await self.emulator.authorize_upgrade(connection, request)
        if authorization is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    async def disconnect(self, client_id: str, reason: str) -> None:
        """Drop a client the way AWS does (close the WebSocket)."""
        authorization = self.emulator.by_client.get(client_id)
        if authorization is not None:
            authorization.disconnect_reason = reason
            await authorization.connection.close()


def presence_payload(event_type: str, authorization: Authorization, client_id: str) -> bytes:
    """A lifecycle event as AWS IoT publishes it."""
    remote = authorization.connection.remote_address
    body: dict[str, Any] = {
        "clientId": client_id,
        "timestamp": int(time.time() * 1000),
        "eventType": event_type,
        "sessionIdentifier": authorization.session_id,
        "principalIdentifier": authorization.principal_id,
        "ipAddress": remote[0] if remote else None,
        "versionNumber": 0,
    }
    if event_type == "disconnected":
        reason = authorization.disconnect_reason or "CONNECTION_LOST"
        body["clientInitiatedDisconnect"] = reason == "CLIENT_INITIATED_DISCONNECT"
        body["disconnectReason"] = reason
    return json.dumps(body).encode()


class AwsIotPlugin(BaseAuthPlugin, BaseTopicPlugin):
    """Enforces the authorizer's policy and publishes lifecycle events."""

    @dataclass
    class Config:
        """The emulator whose decisions to enforce."""

        emulator: Any = None

    @property
    def _emulator(self) -> IotEmulator:
        return self.context.config.emulator  # type: ignore[union-attr, no-any-return]

    async def authenticate(self, *, session: Session) -> bool | None:
        """CONNECT: the connection must be authorized and may use this client id."""
        emulator = self._emulator
        authorization = emulator.pending.pop((session.remote_address, session.remote_port), None)
        if authorization is None:
            return False
        client_id = session.client_id or ""
        if not authorization.policy.allows("iot:Connect", f"{emulator.arn}:client/{client_id}"):
            emulator.denials.append(("connect", authorization.principal_id, client_id))
            return False
        authorization.client_id = client_id
        emulator.by_client[client_id] = authorization
        authorization.timer = asyncio.get_running_loop().call_later(
            authorization.disconnect_after * emulator.disconnect_after_scale,
            emulator.schedule_disconnect,
            client_id,
            "CUSTOMAUTH_TTL_EXPIRATION",
        )
        return True

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        """PUBLISH/SUBSCRIBE outside the policy disconnect the client; RECEIVE is filtered."""
        emulator = self._emulator
        if session is None or topic is None or action is None:
            return False
        authorization = emulator.by_client.get(session.client_id or "")
        if authorization is None:
            return False
        if action is Action.SUBSCRIBE:
            allowed = authorization.policy.allows("iot:Subscribe", f"{emulator.arn}:topicfilter/{topic}")
        elif action is Action.PUBLISH:
            allowed = authorization.policy.allows("iot:Publish", f"{emulator.arn}:topic/{topic}")
        else:
            return authorization.policy.allows("iot:Receive", f"{emulator.arn}:topic/{topic}")
        if not allowed:
            emulator.denials.append((str(action), authorization.principal_id, topic))
            emulator.schedule_disconnect(session.client_id or "", "AUTHORIZATION_FAILURE")
        return allowed

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        """Publish `$aws/events/presence/connected/<clientId>`."""
        authorization = self._emulator.by_client.get(client_id)
        if authorization is not None:
            await self._emulator.publish_presence("connected", authorization, client_id)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        """Publish `$aws/events/presence/disconnected/<clientId>` and forget the connection."""
        emulator = self._emulator
        authorization = emulator.by_client.get(client_id)
        if authorization is None:
            return
        if authorization.timer is not None:
            authorization.timer.cancel()
        del emulator.by_client[client_id]
        await emulator.publish_presence("disconnected", authorization, client_id)
