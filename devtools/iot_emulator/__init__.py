"""Local AWS IoT Core: moto (server mode) for the AWS APIs and an amqtt broker.

The broker sits behind AWS IoT's connection handling: MQTT over WebSocket on ws:// and wss:// (a CA made at start-up), custom
authentication through the authorizers and Lambda functions deployed in moto, the policies they
return, client-id takeover, keep-alive and lifecycle events. See docs/emulation.md.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import logging
from pathlib import Path
import shutil
import socket
import ssl
import tempfile
from typing import Any, Final
import uuid

import aiomqtt
import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from custom_components.konnected_aws.cloud import AwsCredentials, CloudAccount
from custom_components.konnected_aws.cloud.signing import sign_token
from devtools import moto_authorizers

from .auth import NAME_KEY, SIGNATURE_KEY, CustomAuthenticator
from .broker import (
    PLAIN_LISTENER,
    TLS_LISTENER,
    AwsIotBroker,
    AwsIotPlugin,
    ClientConnection,
    presence_payload,
)
from .lambda_invoker import LambdaRuntime
from .tls import (
    ENDPOINT_HOST,
    TlsMaterial,
    client_context,
    create_tls_material,
    server_context,
)

__all__ = ["NAME_KEY", "SIGNATURE_KEY", "IotEmulator", "free_port"]

_LOGGER = logging.getLogger(__name__)

DEFAULT_ACCOUNT: Final = "123456789012"


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class IotEmulator:
    """moto server + AWS-IoT-like broker on 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int | None = None,
        tls_port: int | None = None,
        moto_port: int | None = None,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT,
        time_scale: float = 1.0,
        ws_ping_interval: float | None = None,
    ) -> None:
        """Set up the emulator.

        `time_scale` shortens AWS's durations (session lifetime, refresh, keep-alive) in tests;
        `ws_ping_interval` makes the broker send WebSocket pings (AWS IoT sends none).
        """
        self.port = port or free_port()
        self.tls_port = tls_port or free_port()
        self.moto_port = moto_port or free_port()
        self.region = region
        self.account_id = account_id
        self.arn = f"arn:aws:iot:{region}:{account_id}"
        self.time_scale = time_scale
        self.ws_ping_interval = ws_ping_interval
        self.by_client: dict[str, ClientConnection] = {}
        self.denials: list[tuple[str, str, str]] = []
        self.refusals: list[tuple[str, str]] = []
        # The close code the broker sent to each client id's last connection (tests read it).
        self.close_codes: dict[str, int | None] = {}
        self._versions: Counter[str] = Counter()
        self._moto: ThreadedMotoServer | None = None
        self.broker: AwsIotBroker | None = None
        self._work_dir: Path | None = None
        self._tls: TlsMaterial | None = None
        self._tls_server_context: ssl.SSLContext | None = None
        self._runtime: LambdaRuntime | None = None
        self._authenticator: CustomAuthenticator | None = None

    # --- where to connect ----------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        """Where boards and the bridge connect without TLS."""
        return f"ws://127.0.0.1:{self.port}/mqtt"

    @property
    def wss_url(self) -> str:
        """The TLS listener; clients must send SNI `localhost` and trust `ca_pem`."""
        return f"wss://{ENDPOINT_HOST}:{self.tls_port}/mqtt"

    @property
    def aws_endpoint_url(self) -> str:
        """The moto server, for boto3's endpoint_url."""
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def ca_path(self) -> Path:
        """The PEM file of the CA that signed the wss:// listener's certificate."""
        return self._material().ca_path

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM) clients of the wss:// listener trust."""
        return self._material().ca_pem

    def client_ssl_context(self) -> ssl.SSLContext:
        """Return a TLS context trusting only the emulator's CA."""
        return client_context(self._material())

    @property
    def tls_server_context(self) -> ssl.SSLContext:
        """The wss:// listener's context (TLS 1.2+, SNI required)."""
        if self._tls_server_context is None:
            raise RuntimeError("The emulator is not started")
        return self._tls_server_context

    @property
    def authenticator(self) -> CustomAuthenticator:
        """Runs the account's custom authorizers."""
        if self._authenticator is None:
            raise RuntimeError("The emulator is not started")
        return self._authenticator

    def _material(self) -> TlsMaterial:
        if self._tls is None:
            raise RuntimeError("The emulator is not started")
        return self._tls

    # --- helpers for tests -------------------------------------------------------------------

    @staticmethod
    def authorizer_headers(
        token: str, signature: str, authorizer: str = "konnected-aws"
    ) -> dict[str, str]:
        """Return the upgrade headers of a custom-authorizer connection, as the firmware sends them."""
        return {
            "X-Amz-CustomAuthorizer-Name": authorizer,
            "X-Amz-CustomAuthorizer-Signature": signature,
            "Token": token,
        }

    def mqtt_client(
        self, token: str, signature: str, authorizer: str = "konnected-aws"
    ) -> aiomqtt.Client:
        """Return an MQTT client authenticating the way the firmware does (headers, empty client id)."""
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier="",
            transport="websockets",
            websocket_path="/mqtt",
            websocket_headers=self.authorizer_headers(token, signature, authorizer),
            timeout=3,
        )

    def signed_token(self, device_id: str) -> tuple[str, str]:
        """Return a registered device's token and its signature by the account's key (blocking: boto3)."""
        cloud = self.cloud_account()
        record = cloud.registry.get(device_id)
        if record is None:
            raise KeyError(f"{device_id} is not registered")
        return record.token, sign_token(cloud.load_private_key(), record.token)

    def cloud_account(self) -> CloudAccount:
        """Return the integration's cloud layer on the emulated account (moto takes any keys)."""
        return CloudAccount(
            AwsCredentials("AKIAEMULATOR", "emulator-secret", self.region),
            endpoint_url=self.aws_endpoint_url,
        )

    def client(self, service: str) -> Any:
        """Return a boto3 client against the moto server."""
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.aws_endpoint_url,
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
        )

    def is_subscribed(self, client_id: str, topic_filter: str) -> bool:
        """Whether the client holds this subscription now (clients subscribe after CONNACK)."""
        if self.broker is None:
            return False
        return any(
            session.client_id == client_id
            for session, _qos in self.broker.subscriptions.get(topic_filter, [])
        )

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start moto, the Lambda runtime and the broker."""
        moto_authorizers.install()
        self._work_dir = Path(tempfile.mkdtemp(prefix="konnected-iot-emulator-"))
        self._tls = await asyncio.get_running_loop().run_in_executor(
            None, create_tls_material, self._work_dir / "tls"
        )
        self._tls_server_context = server_context(self._tls)
        # moto keeps its accounts in this process's memory: start from an empty one, not from
        # what an earlier emulator (an earlier test) left behind.
        moto_api_backend.reset()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        lambda_dir = self._work_dir / "lambda"
        lambda_dir.mkdir()
        self._runtime = LambdaRuntime(self.aws_endpoint_url, self.region, lambda_dir)
        self._runtime.start()
        self._authenticator = CustomAuthenticator(self.account_id, self.region, self._runtime)
        await self.start_broker()

    async def start_broker(self) -> None:
        """Start (or start again) the broker on the same ports."""
        self.broker = AwsIotBroker(
            {
                "listeners": {
                    PLAIN_LISTENER: {"type": "ws", "bind": f"127.0.0.1:{self.port}"},
                    TLS_LISTENER: {"type": "ws", "bind": f"127.0.0.1:{self.tls_port}"},
                },
                "plugins": {f"{AwsIotPlugin.__module__}.AwsIotPlugin": {"emulator": self}},
            },
            self,
        )
        await self.broker.start()

    async def stop_broker(self) -> None:
        """Stop the broker; connected clients lose their connection."""
        broker, self.broker = self.broker, None
        if broker is None:
            return
        for connection in list(self.by_client.values()):
            connection.disconnect_reason = "SERVER_INITIATED_DISCONNECT"
            await connection.websocket.close()
        await broker.shutdown()
        # amqtt leaves per-session helper tasks behind when a WebSocket is closed under it;
        # they would run on with nothing to serve.
        leftovers = [
            task
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__module__", "").startswith("amqtt")
            or getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "").find("/amqtt/")
            >= 0
        ]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=2)
        for connection in list(self.by_client.values()):
            connection.stop_timers()
        self.by_client.clear()

    async def restart_broker(self) -> None:
        """Emulate a broker outage: stop, then start again on the same ports."""
        await self.stop_broker()
        await self.start_broker()

    async def stop(self) -> None:
        """Stop everything."""
        await self.stop_broker()
        if self._runtime is not None:
            await self._runtime.stop()
            self._runtime = None
        if self._moto is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._moto.stop)
            self._moto = None
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None

    # --- broker callbacks ------------------------------------------------------------------------

    def assign_client_id(self) -> str:
        """Return the id AWS IoT gives a CONNECT with an empty client id (its format is not documented)."""
        return f"assigned-{uuid.uuid4().hex}"

    def next_version(self, client_id: str) -> int:
        """Lifecycle events' versionNumber: grows with each connection of a client id."""
        version = self._versions[client_id]
        self._versions[client_id] += 1
        return version

    def refused(self, stage: str, reason: str) -> None:
        """Record why a connection was refused (tests read `refusals`)."""
        _LOGGER.info("Custom authentication refused at %s: %s", stage, reason)
        self.refusals.append((stage, reason))

    async def kick(self, client_id: str) -> None:
        """Drop a client now."""
        connection = self.by_client.get(client_id)
        if connection is not None and self.broker is not None:
            await self.broker.disconnect(connection, "SERVER_INITIATED_DISCONNECT")

    async def publish_presence(self, event_type: str, connection: ClientConnection) -> None:
        """Lifecycle events under `$aws/events/presence/` (none for client ids with # or +)."""
        client_id = connection.client_id or ""
        if self.broker is None or "#" in client_id or "+" in client_id:
            return
        await self.broker.internal_message_broadcast(
            f"$aws/events/presence/{event_type}/{client_id}",
            presence_payload(event_type, connection),
            qos=1,
        )
