"""AWS IoT custom authorizer for Konnected boards and the Home Assistant bridge.

Deployed by konnected_aws into the user's account (Python 3.13 runtime, boto3 only). AWS IoT
calls it with the `Token` the client sent; token validation is on, so `signatureVerified`
says whether the token's RSA signature matched the authorizer's public key. The token is
looked up in the device table (`DEVICE_TABLE`, GSI `token-index`). Everything that is not a
verified, known, active token yields `isAuthenticated: false`: this function fails closed,
never raises and never logs a token.

Policies (docs/architecture.md):
- board: connect with any client id except the bridge's prefix (the legacy firmware sends an
  empty MQTT client id, so AWS assigns one; see docs/protocol.md), publish/receive on
  `konnected/<id>/*`, subscribe on `konnected/<id>/*`.
- bridge: connect as `konnected-bridge-<id>` only; subscribe/receive every board's topics and
  the lifecycle events; publish to board topics (commands).
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

TOKEN_INDEX = "token-index"
DISCONNECT_AFTER_SECONDS = 86400
REFRESH_AFTER_SECONDS = 21600
BRIDGE_CLIENT_PREFIX = "konnected-bridge-"
MAX_TOKEN_LENGTH = 512
# principalId must be alphanumeric, 1-128 characters (AWS IoT limit).
PRINCIPAL_ID = re.compile(r"^[A-Za-z0-9]{1,128}$")
DENY: dict[str, Any] = {"isAuthenticated": False}

_TABLE: Any = None


def _table() -> Any:
    """The device table, created once per Lambda container."""
    global _TABLE  # noqa: PLW0603 - reused across invocations on purpose
    if _TABLE is None:
        _TABLE = boto3.resource("dynamodb").Table(os.environ["DEVICE_TABLE"])
    return _TABLE


def _arn_prefix(context: Any) -> str:
    """`arn:aws:iot:<region>:<account>` of the account the Lambda runs in."""
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    if len(parts) >= 5 and parts[3] and parts[4]:
        return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"
    region = os.environ.get("AWS_REGION", "*")
    account = os.environ.get("AWS_ACCOUNT_ID", "*")
    return f"arn:aws:iot:{region}:{account}"


def _statement(effect: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": effect, "Action": actions, "Resource": resources}


def board_policy(arn: str, device_id: str) -> dict[str, Any]:
    """What one board may do: only its own topics."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("Allow", ["iot:Connect"], [f"{arn}:client/*"]),
            # A board's token must never be able to take over the bridge's session.
            _statement("Deny", ["iot:Connect"], [f"{arn}:client/{BRIDGE_CLIENT_PREFIX}*"]),
            _statement(
                "Allow", ["iot:Publish", "iot:Receive"], [f"{arn}:topic/konnected/{device_id}/*"]
            ),
            _statement("Allow", ["iot:Subscribe"], [f"{arn}:topicfilter/konnected/{device_id}/*"]),
        ],
    }


def bridge_policy(arn: str, device_id: str) -> dict[str, Any]:
    """What the Home Assistant bridge may do: all boards' topics, one client id."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("Allow", ["iot:Connect"], [f"{arn}:client/{BRIDGE_CLIENT_PREFIX}{device_id}"]),
            _statement(
                "Allow",
                ["iot:Subscribe"],
                [f"{arn}:topicfilter/konnected/*", f"{arn}:topicfilter/$aws/events/presence/*"],
            ),
            _statement(
                "Allow",
                ["iot:Receive"],
                [f"{arn}:topic/konnected/*", f"{arn}:topic/$aws/events/presence/*"],
            ),
            _statement("Allow", ["iot:Publish"], [f"{arn}:topic/konnected/*"]),
        ],
    }


POLICIES = {"board": board_policy, "bridge": bridge_policy}


def _token_of(event: dict[str, Any]) -> str | None:
    token = event.get("token")
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH:
        return token
    return None


def _lookup(token: str) -> dict[str, Any] | None:
    result = _table().query(
        IndexName=TOKEN_INDEX,
        KeyConditionExpression="#token = :token",
        ExpressionAttributeNames={"#token": "token"},
        ExpressionAttributeValues={":token": token},
        Limit=2,
    )
    items = result.get("Items", [])
    # A token must identify exactly one device.
    return items[0] if len(items) == 1 else None


def authorize(event: Any, context: Any) -> dict[str, Any]:
    """The decision; may raise, `lambda_handler` turns that into a denial."""
    if not isinstance(event, dict) or event.get("signatureVerified") is not True:
        return DENY
    token = _token_of(event)
    if token is None:
        return DENY
    item = _lookup(token)
    if item is None or item.get("status") != "active" or item.get("token") != token:
        return DENY
    device_id = item.get("device_id")
    policy = POLICIES.get(str(item.get("kind", "board")))
    if not isinstance(device_id, str) or not PRINCIPAL_ID.match(device_id) or policy is None:
        return DENY
    return {
        "isAuthenticated": True,
        "principalId": device_id,
        "disconnectAfterInSeconds": DISCONNECT_AFTER_SECONDS,
        "refreshAfterInSeconds": REFRESH_AFTER_SECONDS,
        "policyDocuments": [json.dumps(policy(_arn_prefix(context), device_id), separators=(",", ":"))],
    }


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry point: AWS IoT's authorizer event in, an authorization decision out."""
    try:
        response = authorize(event, context)
    except Exception as err:  # noqa: BLE001 - fail closed on anything
        LOGGER.error("Authorization failed closed: %s", type(err).__name__)
        return DENY
    connection = event.get("connectionMetadata", {}) if isinstance(event, dict) else {}
    LOGGER.info(
        "connection %s: %s %s",
        connection.get("id") if isinstance(connection, dict) else None,
        "allowed" if response["isAuthenticated"] else "denied",
        response.get("principalId", ""),
    )
    return response
