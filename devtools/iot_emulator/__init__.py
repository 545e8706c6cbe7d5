"""Local AWS IoT Core: moto (server mode) for the AWS APIs and an amqtt broker that speaks
MQTT over WebSocket with AWS IoT's custom authentication, running the shipped authorizer
Lambda in-process and enforcing the policies it returns. See docs/emulation.md.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import aiomqtt
import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

from custom_components.konnected_aws.cloud import AwsCredentials, CloudAccount
from custom_components.konnected_aws.cloud.signing import sign_token, verify_token_signature
from devtools import moto_authorizers

from .broker import Authorization, AwsIotBroker, AwsIotPlugin, presence_payload
from .policy import Policy

_LOGGER = logging.getLogger(__name__)

LAMBDA_FILE: Final = (
    Path(__file__).parent.parent.parent / "custom_components" / "konnected_aws" / "authorizer" / "lambda_function.py"
)
DEFAULT_ACCOUNT: Final = "123456789012"
NAME_KEY: Final = "x-amz-customauthorizer-name"
SIGNATURE_KEY: Final = "x-amz-customauthorizer-signature"
MIN_DURATION, MAX_DURATION = 300, 86400
MAX_POLICY_DOCUMENTS, MAX_POLICY_LENGTH = 10, 2048


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _LambdaContext:
    """The attributes of Lambda's context object the authorizer reads."""

    def __init__(self, function_arn: str) -> None:
        self.invoked_function_arn = function_arn
        self.aws_request_id = "emulated"


class IotEmulator:
    """moto server + AWS-IoT-like broker on 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int | None = None,
        moto_port: int | None = None,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT,
        disconnect_after_scale: float = 1.0,
    ) -> None:
        """`disconnect_after_scale` shortens the authorizer's session lifetime in tests."""
        self.port = port or free_port()
        self.moto_port = moto_port or free_port()
        self.region = region
        self.account_id = account_id
        self.arn = f"arn:aws:iot:{region}:{account_id}"
        self.disconnect_after_scale = disconnect_after_scale
        self.pending: dict[tuple[str, int], Authorization] = {}
        self.by_client: dict[str, Authorization] = {}
        self.denials: list[tuple[str, str, str]] = []
        self._moto: ThreadedMotoServer | None = None
        self._broker: AwsIotBroker | None = None
        # boto3 blocks: the Lambda runs on this pool, never on the event loop.
        self._executor: ThreadPoolExecutor | None = None
        self._lambda: ModuleType | None = None

    @property
    def ws_url(self) -> str:
        """Where boards and the bridge connect."""
        return f"ws://127.0.0.1:{self.port}/mqtt"

    @property
    def aws_endpoint_url(self) -> str:
        """The moto server, for boto3's endpoint_url."""
        return f"http://127.0.0.1:{self.moto_port}"

    @staticmethod
    def authorizer_headers(token: str, signature: str, authorizer: str = "konnected-aws") -> dict[str, str]:
        """The WebSocket upgrade headers of a custom-authorizer connection, as the firmware sends them."""
        return {
            "X-Amz-CustomAuthorizer-Name": authorizer,
            "X-Amz-CustomAuthorizer-Signature": signature,
            "Token": token,
        }

    def mqtt_client(self, token: str, signature: str, authorizer: str = "konnected-aws") -> aiomqtt.Client:
        """An MQTT client that authenticates the way the firmware does (headers, empty client id)."""
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
        """A registered device's token and its signature by the account's key (blocking: boto3)."""
        cloud = self.cloud_account()
        record = cloud.registry.get(device_id)
        if record is None:
            raise KeyError(f"{device_id} is not registered")
        return record.token, sign_token(cloud.load_private_key(), record.token)

    def cloud_account(self) -> CloudAccount:
        """The integration's cloud layer on the emulated account (moto takes any keys)."""
        return CloudAccount(
            AwsCredentials("AKIAEMULATOR", "emulator-secret", self.region),
            endpoint_url=self.aws_endpoint_url,
        )

    def client(self, service: str) -> Any:
        """A boto3 client against the moto server."""
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.aws_endpoint_url,
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
        )

    async def start(self) -> None:
        """Start moto and the broker."""
        moto_authorizers.install()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="iot-emulator")
        # moto keeps its accounts in this process's memory: start from an empty one, not from
        # what an earlier emulator (an earlier test) left behind.
        moto_api_backend.reset()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        await self.start_broker()

    async def start_broker(self) -> None:
        """Start (or start again) the broker on the same port."""
        self._broker = AwsIotBroker(
            {
                "listeners": {"default": {"type": "ws", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {f"{AwsIotPlugin.__module__}.AwsIotPlugin": {"emulator": self}},
            },
            self,
        )
        await self._broker.start()

    async def stop_broker(self) -> None:
        """Stop the broker; connected clients lose their connection."""
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()
            # amqtt leaves per-session helper tasks behind when a WebSocket is closed under it
            # (our policy disconnects); they would run on with nothing to serve.
            leftovers = [
                task
                for task in asyncio.all_tasks()
                if getattr(task.get_coro(), "__module__", "").startswith("amqtt")
                or getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "").find("/amqtt/") >= 0
            ]
            for task in leftovers:
                task.cancel()
            if leftovers:
                await asyncio.wait(leftovers, timeout=2)
        self.pending.clear()
        for authorization in self.by_client.values():
            if authorization.timer is not None:
                authorization.timer.cancel()
        self.by_client.clear()

    async def restart_broker(self) -> None:
        """A broker outage: stop, then start again on the same port."""
        await self.stop_broker()
        await self.start_broker()

    async def stop(self) -> None:
        """Stop everything."""
        await self.stop_broker()
        if self._moto is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._moto.stop)
            self._moto = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def schedule_disconnect(self, client_id: str, reason: str) -> None:
        """Drop a client soon (from a plugin callback or a timer)."""
        if self._broker is not None:
            asyncio.get_running_loop().create_task(self._broker.disconnect(client_id, reason))

    def is_subscribed(self, client_id: str, topic_filter: str) -> bool:
        """Whether the client holds this subscription right now (clients subscribe after CONNACK)."""
        if self._broker is None:
            return False
        return any(
            session.client_id == client_id
            for session, _qos in self._broker.subscriptions.get(topic_filter, [])
        )

    async def kick(self, client_id: str) -> None:
        """Drop a client now."""
        if self._broker is not None:
            await self._broker.disconnect(client_id, "SERVER_INITIATED_DISCONNECT")

    async def publish_presence(self, event_type: str, authorization: Authorization, client_id: str) -> None:
        """Lifecycle events under `$aws/events/presence/`."""
        if self._broker is not None:
            await self._broker.internal_message_broadcast(
                f"$aws/events/presence/{event_type}/{client_id}",
                presence_payload(event_type, authorization, client_id),
                qos=1,
            )

    # --- custom authentication ---------------------------------------------------------------

    async def authorize_upgrade(self, connection: ServerConnection, request: Request) -> Authorization | None:
        """Run the custom authorizer for a WebSocket upgrade; None refuses it."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._authorize, connection, request)
        except Exception:
            _LOGGER.exception("Custom authorization failed")
            return None

    def _authorize(self, connection: ServerConnection, request: Request) -> Authorization | None:
        headers = {key.lower(): value for key, value in request.headers.raw_items()}
        query = {key: values[0] for key, values in parse_qs(urlsplit(request.path).query).items()}
        stored = moto_authorizers.authorizers(self.account_id, self.region)
        name = headers.get(NAME_KEY) or query.get(NAME_KEY)
        if name is None and len(stored) == 1:
            name = next(iter(stored))  # the account's default authorizer
        authorizer = stored.get(name or "")
        if authorizer is None or authorizer.get("status") != "ACTIVE":
            return None
        token_key = str(authorizer.get("tokenKeyName") or "")
        token = headers.get(token_key.lower()) or query.get(token_key)
        signature = headers.get(SIGNATURE_KEY) or query.get(SIGNATURE_KEY)
        verified = False
        if not authorizer.get("signingDisabled"):
            if not token or not signature:
                return None
            verified = any(
                verify_token_signature(key.encode(), token, signature)
                for key in authorizer.get("tokenSigningPublicKeys", {}).values()
            )
            # AWS refuses a bad signature before invoking the Lambda.
            if not verified:
                return None
        remote = connection.remote_address
        event = {
            "token": token,
            "signatureVerified": verified,
            "protocols": ["tls", "http", "mqtt"],
            "protocolData": {
                "tls": {"serverName": request.headers.get("Host", "")},
                "http": {"headers": dict(headers), "queryString": urlsplit(request.path).query},
                "mqtt": {},
            },
            "connectionMetadata": {"id": base64.b64encode(str(remote).encode()).decode()},
        }
        response = self._invoke(str(authorizer["authorizerFunctionArn"]), event)
        authorization = self._validated(response, connection)
        if authorization is not None:
            self.pending[(remote[0], remote[1])] = authorization
        return authorization

    def _invoke(self, function_arn: str, event: dict[str, Any]) -> Any:
        """Run the shipped Lambda with the environment its deployed function has."""
        function_name = function_arn.rsplit(":", 1)[-1]
        configuration = self.client("lambda").get_function_configuration(FunctionName=function_name)
        table_name = configuration.get("Environment", {}).get("Variables", {}).get("DEVICE_TABLE")
        module = self._lambda_module()
        module._TABLE = boto3.resource(  # noqa: SLF001 - inject the emulator's DynamoDB
            "dynamodb",
            region_name=self.region,
            endpoint_url=self.aws_endpoint_url,
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
        ).Table(table_name)
        return module.lambda_handler(event, _LambdaContext(function_arn))

    def _lambda_module(self) -> ModuleType:
        if self._lambda is None:
            spec = importlib.util.spec_from_file_location("konnected_authorizer_lambda", LAMBDA_FILE)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._lambda = module
        return self._lambda

    def _validated(self, response: Any, connection: ServerConnection) -> Authorization | None:
        """AWS refuses the connection when the response breaks its rules."""
        if not isinstance(response, dict) or response.get("isAuthenticated") is not True:
            return None
        principal = response.get("principalId")
        documents = response.get("policyDocuments")
        disconnect_after = response.get("disconnectAfterInSeconds")
        refresh_after = response.get("refreshAfterInSeconds")
        if not (isinstance(principal, str) and principal.isalnum() and 1 <= len(principal) <= 128):
            return None
        for duration in (disconnect_after, refresh_after):
            if not isinstance(duration, int) or not MIN_DURATION <= duration <= MAX_DURATION:
                return None
        if (
            not isinstance(documents, list)
            or not 1 <= len(documents) <= MAX_POLICY_DOCUMENTS
            or not all(isinstance(doc, str) and len(doc) <= MAX_POLICY_LENGTH for doc in documents)
        ):
            return None
        try:
            policy = Policy(documents)
        except ValueError:
            return None
        assert isinstance(disconnect_after, int)
        return Authorization(principal, policy, disconnect_after, connection)
