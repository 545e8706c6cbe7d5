"""AWS IoT custom authorizer for Konnected boards and the Home Assistant bridge.

Deployed by konnected_aws into the user's account: Python 3.13 runtime, boto3 and the
standard library only, one file (`lambda_function.lambda_handler`).

What AWS IoT sends: token signing is enabled, so before calling this function AWS checks the
RSA-SHA256 signature of the token (token key name `Token`) against the authorizer's public
key and passes the outcome as `signatureVerified`, and the token it checked as `token`
(https://docs.aws.amazon.com/iot/latest/developerguide/custom-auth-lambda.html). Only that
field is used: the raw request in `protocolData` (headers, query string, MQTT username) may
hold other, unverified copies of a `Token` (a second header, a second query parameter), so it
is never read. No `token` field: refused.

The decision: a verified signature, a token found in the device table (`DEVICE_TABLE`, GSI
`token-index`, then re-read consistently from the table so a revocation counts at once) and
status `active` yield the device's policy; anything else - unknown or revoked token,
unverified signature, a malformed event, a DynamoDB error - yields `{"isAuthenticated": false}`.
The function fails closed, never raises and never logs a token.

Policies (docs/architecture.md), scoped to the account and region the function runs in:
- board: publish/receive `konnected/<id>/*`, subscribe `konnected/<id>/*`. Connect: the legacy
  firmware sends a CONNECT with an empty client id (konnected-io/konnected-security,
  src/lfs/mqtt_ws.lua, the fixed CONNECT packet sent on `connection`), so AWS IoT assigns a
  random one and no fixed `client/<id>` can be named; the board may connect with any client id
  except the bridge's prefix, so a board's token can never take over Home Assistant's session.
- bridge: connect only as `konnected-bridge-<id>-<suffix>` (Home Assistant appends a random
  suffix per run, so two installations restored from one backup do not take each other's
  session over and over); subscribe/receive every board's topics and the presence events;
  publish to board topics (commands). Boards are denied every `konnected-bridge-*` client id.
Both: disconnect after 24 h, refresh (re-authorize) every 6 h.
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
# Every check is a `fullmatch`: with `re.match`, `$` also matches before a trailing newline.
# Tokens are URL-safe base64 (cloud/signing.py); anything else is refused before any lookup.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,512}")
# principalId must be alphanumeric, 1-128 characters (AWS IoT limit).
PRINCIPAL_ID = re.compile(r"[A-Za-z0-9]{1,128}")
BOARD_ID = re.compile(r"[0-9a-f]{12}")
MAX_POLICY_DOCUMENTS = 10
MAX_POLICY_LENGTH = 2048

_TABLE: Any = None


def _deny() -> dict[str, Any]:
    return {"isAuthenticated": False}


def _table() -> Any:
    """Return the device table, created once per Lambda container."""
    global _TABLE  # noqa: PLW0603 - reused across invocations on purpose
    if _TABLE is None:
        _TABLE = boto3.resource("dynamodb").Table(os.environ["DEVICE_TABLE"])
    return _TABLE


def _arn_prefix(context: Any) -> str:
    """`arn:<partition>:iot:<region>:<account>` of the account the function runs in."""
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "*"
    return f"arn:aws:iot:{region}:*"


def _statement(effect: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": effect, "Action": actions, "Resource": resources}


def board_policy(arn: str, device_id: str) -> dict[str, Any]:
    """Return what one board may do: only its own topics."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement("Allow", ["iot:Connect"], [f"{arn}:client/*"]),
            _statement("Deny", ["iot:Connect"], [f"{arn}:client/{BRIDGE_CLIENT_PREFIX}*"]),
            _statement(
                "Allow", ["iot:Publish", "iot:Receive"], [f"{arn}:topic/konnected/{device_id}/*"]
            ),
            _statement("Allow", ["iot:Subscribe"], [f"{arn}:topicfilter/konnected/{device_id}/*"]),
        ],
    }


def bridge_policy(arn: str, device_id: str) -> dict[str, Any]:
    """Return what the Home Assistant bridge may do: all boards' topics, its own client ids.

    `<id>-*`: ids are alphanumeric, so the dash ends the id and one bridge's pattern never
    covers another bridge's client ids.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "Allow", ["iot:Connect"], [f"{arn}:client/{BRIDGE_CLIENT_PREFIX}{device_id}-*"]
            ),
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


def _verified_token(event: dict[str, Any]) -> str | None:
    """Return the token whose signature AWS verified: the event's `token` field, nothing else."""
    token = event.get("token")
    if isinstance(token, str) and TOKEN.fullmatch(token):
        return token
    return None


def _lookup(token: str) -> dict[str, Any] | None:
    """Return the one device holding the token, read consistently from the table."""
    result = _table().query(
        IndexName=TOKEN_INDEX,
        KeyConditionExpression="#token = :token",
        ExpressionAttributeNames={"#token": "token"},
        ExpressionAttributeValues={":token": token},
        Limit=2,
    )
    items = result.get("Items", [])
    if len(items) != 1:  # a token must identify exactly one device
        return None
    device_id = items[0].get("device_id")
    if not isinstance(device_id, str) or not PRINCIPAL_ID.fullmatch(device_id):
        return None
    # The index lags the table by up to a second: a revoked or rotated token must not pass.
    item = _table().get_item(Key={"device_id": device_id}, ConsistentRead=True).get("Item")
    return item if isinstance(item, dict) else None


def _within_limits(response: dict[str, Any]) -> bool:
    """AWS IoT refuses responses outside its limits; check them here and deny instead."""
    documents = response["policyDocuments"]
    return (
        bool(PRINCIPAL_ID.fullmatch(response["principalId"]))
        and 1 <= len(documents) <= MAX_POLICY_DOCUMENTS
        and all(len(document) <= MAX_POLICY_LENGTH for document in documents)
        and 300 <= response["refreshAfterInSeconds"] <= 86400
        and 300 <= response["disconnectAfterInSeconds"] <= 86400
    )


def authorize(event: Any, context: Any) -> dict[str, Any]:
    """Return the decision; may raise, `lambda_handler` turns that into a denial."""
    if not isinstance(event, dict) or event.get("signatureVerified") is not True:
        return _deny()
    token = _verified_token(event)
    if token is None:
        return _deny()
    item = _lookup(token)
    if item is None or item.get("status") != "active" or item.get("token") != token:
        return _deny()
    device_id = str(item.get("device_id"))
    kind = str(item.get("kind", "board"))
    policy = POLICIES.get(kind)
    if (
        policy is None
        or not PRINCIPAL_ID.fullmatch(device_id)
        or (kind == "board" and not BOARD_ID.fullmatch(device_id))
    ):
        return _deny()
    response = {
        "isAuthenticated": True,
        "principalId": device_id,
        "disconnectAfterInSeconds": DISCONNECT_AFTER_SECONDS,
        "refreshAfterInSeconds": REFRESH_AFTER_SECONDS,
        "policyDocuments": [
            json.dumps(policy(_arn_prefix(context), device_id), separators=(",", ":"))
        ],
    }
    return response if _within_limits(response) else _deny()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """Entry point: AWS IoT's authorizer event in, an authorization decision out."""
    try:
        response = authorize(event, context)
    except Exception as err:  # noqa: BLE001 - fail closed on anything
        # The type only: a message could quote the request.
        LOGGER.error("Authorization failed closed: %s", type(err).__name__)
        response = _deny()
    metadata = event.get("connectionMetadata") if isinstance(event, dict) else None
    LOGGER.info(
        "connection %s: %s %s",
        metadata.get("id") if isinstance(metadata, dict) else None,
        "allowed" if response["isAuthenticated"] else "denied",
        response.get("principalId", ""),
    )
    return response
