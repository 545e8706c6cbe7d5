"""AWS IoT custom authentication, step by step as AWS documents it (sources in docs/emulation.md).

1. The credentials come from one carrier: the WebSocket upgrade request (headers, or query-string
   parameters) or the MQTT CONNECT username (`anything?x-amz-customauthorizer-name=...&
   x-amz-customauthorizer-signature=...&<token key>=...`, URL-encoded) with the password.
2. The authorizer is the one named by `x-amz-customauthorizer-name`, else the account's default
   authorizer (SetDefaultAuthorizer); none, or one that is not ACTIVE, refuses the connection.
3. With signing enabled, the token (under the authorizer's token key name) and the signature must
   be present and the signature must verify (RSA SHA-256, base64) against one of the authorizer's
   public keys; otherwise the connection is refused before the Lambda runs.
4. The Lambda's resource policy must let `iot.amazonaws.com` invoke it for this authorizer's ARN.
5. The deployed function runs (at most 5 s, the custom-authorizer limit); an error or a timeout
   refuses the connection.
6. The response must be a valid one: `isAuthenticated` true, `principalId` 1-128 alphanumerics,
   `disconnectAfterInSeconds` and `refreshAfterInSeconds` 300-86,400, at most 10 policy documents
   (JSON strings or objects) of at most 2,048 characters each, each a valid policy.

The Lambda event per carrier (`protocols`, `protocolData`):
- upgrade request: `["tls", "http", "mqtt"]` (no "tls" on the plain ws:// listener),
  `tls.serverName` (the SNI), `http.headers`, `http.queryString` (with its leading `?`, only
  when there is one); no `mqtt` data (the CONNECT has not been read yet);
- MQTT username: the same `protocols` and `tls`/`http` of the WebSocket the CONNECT came on, plus
  `mqtt.username` (as sent), `mqtt.password` (base64, only when sent) and `mqtt.clientId` (only
  when not empty).
Both: `token` (when found), `signatureVerified`, `connectionMetadata.id` (a UUID).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
import json
import re
from typing import Any, Final
from urllib.parse import parse_qs
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto.awslambda.models import lambda_backends

from devtools import moto_authorizers

from .lambda_invoker import DeployedFunction, LambdaInvocationError, LambdaRuntime
from .policy import (
    Policy,
    RequestContext,
    conditions_hold,
    glob_matches,
    parse_conditions,
)

NAME_KEY: Final = "x-amz-customauthorizer-name"
SIGNATURE_KEY: Final = "x-amz-customauthorizer-signature"
IOT_SERVICE_PRINCIPAL: Final = "iot.amazonaws.com"
AUTHORIZER_TIMEOUT_SECONDS: Final = 5.0
MIN_DURATION, MAX_DURATION = 300, 86400
MAX_POLICY_DOCUMENTS, MAX_POLICY_LENGTH = 10, 2048
PRINCIPAL_ID: Final = re.compile(r"[A-Za-z0-9]{1,128}")


class AuthorizationRefused(Exception):
    """The connection is refused; the message says why (never a secret)."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The WebSocket upgrade request as the authorizer sees it."""

    headers: Mapping[str, str]
    query_string: str

    def header(self, name: str) -> str | None:
        """Return a header by name, case-insensitively (HTTP header names are)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def query(self) -> dict[str, str]:
        """Query-string parameters, URL-decoded, first value of each."""
        return {
            key: values[0]
            for key, values in parse_qs(self.query_string, keep_blank_values=True).items()
        }


@dataclass(frozen=True, slots=True)
class MqttConnect:
    """The parts of a CONNECT packet the authorizer sees."""

    client_id: str
    username: str | None
    password: bytes | None

    def username_parameters(self) -> dict[str, str]:
        """Return the URL-encoded parameters after the first `?` of the username."""
        if self.username is None or "?" not in self.username:
            return {}
        query = self.username.split("?", 1)[1]
        return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


@dataclass(frozen=True, slots=True)
class ConnectionFacts:
    """Everything known about a connection when it is authorized."""

    http: HttpRequest
    tls_server_name: str | None
    tls: bool
    mqtt: MqttConnect | None = None


@dataclass(frozen=True, slots=True)
class Authorization:
    """An accepted authorizer response."""

    principal_id: str
    policy: Policy
    disconnect_after: int
    refresh_after: int
    refresh: Callable[[], Any] = field(repr=False, compare=False)


type Lookup = Callable[[str], str | None]


def http_lookup(http: HttpRequest) -> Lookup:
    """Upgrade request parameters: headers (case-insensitive names), then the query string."""
    query = http.query()
    return lambda name: http.header(name) if http.header(name) is not None else query.get(name)


def carries_credentials(lookup: Lookup) -> bool:
    """Whether a carrier names an authorizer or carries a signature."""
    return lookup(NAME_KEY) is not None or lookup(SIGNATURE_KEY) is not None


def signature_verifies(public_keys: Mapping[str, str], token: str, signature: str) -> bool:
    """RSA PKCS#1 v1.5 with SHA-256 over the token, checked against any of the authorizer's keys."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except binascii.Error, ValueError:
        return False
    for pem in public_keys.values():
        try:
            key = serialization.load_pem_public_key(pem.encode())
        except ValueError:
            continue
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(raw, token.encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return True
    return False


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _principal_is_iot(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return IOT_SERVICE_PRINCIPAL in _strings(principal.get("Service")) or "*" in _strings(
            principal.get("AWS")
        )
    return False


def invoke_permitted(
    statements: list[dict[str, Any]], function_arn: str, authorizer_arn: str, account_id: str
) -> bool:
    """Tell whether the function's resource policy lets AWS IoT invoke it for this authorizer.

    IAM evaluation: an explicit Deny wins, an Allow is needed; a condition that cannot be read counts against an
    Allow and for a Deny.
    """
    context = RequestContext.of(
        **{"aws:SourceArn": authorizer_arn, "aws:SourceAccount": account_id}
    )
    allowed = False
    for statement in statements:
        if not (
            _principal_is_iot(statement.get("Principal"))
            and any(
                glob_matches(action, "lambda:InvokeFunction", ignore_case=True)
                for action in _strings(statement.get("Action"))
            )
            and any(
                glob_matches(resource, function_arn)
                for resource in _strings(statement.get("Resource"))
            )
        ):
            continue
        allow = statement.get("Effect", "Allow") == "Allow"
        try:
            applies = conditions_hold(
                parse_conditions(statement.get("Condition")), context, allow=allow, variables=False
            )
        except ValueError:
            applies = not allow
        if applies and not allow:
            return False
        allowed = allowed or applies
    return allowed


def _duration(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_DURATION <= value <= MAX_DURATION
    ):
        raise AuthorizationRefused(f"a duration outside {MIN_DURATION}-{MAX_DURATION} s")
    return value


def _document_length(document: Any) -> int:
    # AWS counts a string's characters; for an object it does not say how: its JSON text with the
    # default separators (the longer reading) is counted.
    return len(document) if isinstance(document, str) else len(json.dumps(document))


def validated(response: Any, refresh: Callable[[], Any]) -> Authorization:
    """Return the Authorization in a Lambda response, or AuthorizationRefused."""
    if not isinstance(response, dict):
        raise AuthorizationRefused("the response is not a JSON object")
    if response.get("isAuthenticated") is not True:
        raise AuthorizationRefused("not authenticated")
    principal = response.get("principalId")
    if not isinstance(principal, str) or not PRINCIPAL_ID.fullmatch(principal):
        raise AuthorizationRefused("principalId is not 1-128 alphanumerics")
    disconnect_after = _duration(response.get("disconnectAfterInSeconds"))
    refresh_after = _duration(response.get("refreshAfterInSeconds"))
    documents = response.get("policyDocuments")
    if not isinstance(documents, list) or len(documents) > MAX_POLICY_DOCUMENTS:
        raise AuthorizationRefused(
            f"policyDocuments is not a list of at most {MAX_POLICY_DOCUMENTS}"
        )
    if not all(isinstance(document, (str, dict)) for document in documents):
        raise AuthorizationRefused("a policy document is neither a JSON string nor an object")
    if any(_document_length(document) > MAX_POLICY_LENGTH for document in documents):
        raise AuthorizationRefused(
            f"a policy document is longer than {MAX_POLICY_LENGTH} characters"
        )
    try:
        policy = Policy(documents)
    except ValueError as err:
        raise AuthorizationRefused(f"an invalid policy document ({err})") from err
    return Authorization(principal, policy, disconnect_after, refresh_after, refresh)


class CustomAuthenticator:
    """Runs an account's custom authorizers against connection requests."""

    def __init__(self, account_id: str, region: str, runtime: LambdaRuntime) -> None:
        """Read authorizers and functions from moto's backends for this account and region."""
        self._account_id = account_id
        self._region = region
        self._runtime = runtime

    def authorizer(self, name: str | None) -> dict[str, Any]:
        """Return the named authorizer, else the default one; refused when none or not ACTIVE."""
        stored = moto_authorizers.authorizers(self._account_id, self._region)
        if name is None:
            name = moto_authorizers.default_authorizer(self._account_id, self._region)
            if name is None:
                raise AuthorizationRefused("no authorizer named and no default authorizer")
        authorizer = stored.get(name)
        if authorizer is None:
            raise AuthorizationRefused("unknown authorizer")
        if authorizer.get("status") != "ACTIVE":
            raise AuthorizationRefused("the authorizer is not ACTIVE")
        return authorizer

    def wants_upgrade_authorization(self, http: HttpRequest) -> bool:
        """Whether the upgrade request itself carries credentials (else the CONNECT may)."""
        lookup = http_lookup(http)
        if carries_credentials(lookup):
            return True
        default = moto_authorizers.default_authorizer(self._account_id, self._region)
        stored = moto_authorizers.authorizers(self._account_id, self._region).get(default or "")
        token_key = stored.get("tokenKeyName") if stored else None
        return isinstance(token_key, str) and lookup(token_key) is not None

    async def authorize_upgrade(self, facts: ConnectionFacts) -> Authorization:
        """Run custom authentication with the upgrade request as the carrier."""
        return await self._authorize(http_lookup(facts.http), facts)

    async def authorize_connect(self, facts: ConnectionFacts) -> Authorization:
        """Run custom authentication with the CONNECT username (and password) as the carrier."""
        assert facts.mqtt is not None
        parameters = facts.mqtt.username_parameters()
        return await self._authorize(parameters.get, facts)

    async def _authorize(self, lookup: Lookup, facts: ConnectionFacts) -> Authorization:
        authorizer = self.authorizer(lookup(NAME_KEY))
        token_key = authorizer.get("tokenKeyName")
        token = lookup(token_key) if isinstance(token_key, str) and token_key else None
        verified = False
        if not authorizer.get("signingDisabled"):
            signature = lookup(SIGNATURE_KEY)
            if token is None or signature is None:
                raise AuthorizationRefused("token or signature missing")
            if not signature_verifies(
                authorizer.get("tokenSigningPublicKeys") or {}, token, signature
            ):
                raise AuthorizationRefused("the token signature does not verify")
            verified = True
        function = self._function(
            str(authorizer.get("authorizerFunctionArn")), str(authorizer["authorizerArn"])
        )
        event = _event(token, verified, facts)
        timeout = min(function.timeout, AUTHORIZER_TIMEOUT_SECONDS)
        try:
            response = await self._runtime.invoke(function, event, timeout)
        except LambdaInvocationError as err:
            raise AuthorizationRefused(f"the authorizer function failed: {err}") from err

        async def refresh() -> Authorization:
            return await self._authorize(lookup, facts)

        return validated(response, refresh)

    def _function(self, function_arn: str, authorizer_arn: str) -> DeployedFunction:
        try:
            function = lambda_backends[self._account_id][self._region].get_function(function_arn)
        except Exception as err:  # moto raises its own not-found errors
            raise AuthorizationRefused("the authorizer function does not exist") from err
        statements = list(function.policy.statements)
        if not invoke_permitted(
            statements, function.function_arn, authorizer_arn, self._account_id
        ):
            raise AuthorizationRefused(
                "the function's resource policy does not let AWS IoT invoke it"
            )
        return DeployedFunction(
            function_arn=function.function_arn,
            function_name=function.function_name,
            handler=str(function.handler),
            environment=dict(function.environment_vars or {}),
            timeout=float(function.timeout),
            code=bytes(function.code_bytes),
        )


def _event(token: str | None, verified: bool, facts: ConnectionFacts) -> dict[str, Any]:
    protocols = (["tls"] if facts.tls else []) + ["http", "mqtt"]
    protocol_data: dict[str, Any] = {}
    if facts.tls:
        protocol_data["tls"] = {"serverName": facts.tls_server_name}
    http: dict[str, Any] = {"headers": dict(facts.http.headers)}
    if facts.http.query_string:
        http["queryString"] = f"?{facts.http.query_string}"
    protocol_data["http"] = http
    if facts.mqtt is not None:
        mqtt: dict[str, Any] = {}
        if facts.mqtt.username is not None:
            mqtt["username"] = facts.mqtt.username
        if facts.mqtt.password is not None:
            mqtt["password"] = base64.b64encode(facts.mqtt.password).decode()
        if facts.mqtt.client_id:
            mqtt["clientId"] = facts.mqtt.client_id
        protocol_data["mqtt"] = mqtt
    event: dict[str, Any] = {
        "signatureVerified": verified,
        "protocols": protocols,
        "protocolData": protocol_data,
        "connectionMetadata": {"id": str(uuid.uuid4())},
    }
    if token is not None:
        event["token"] = token
    return event
