"""The shipped authorizer Lambda against moto's DynamoDB, with events shaped as AWS sends them."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
from pathlib import Path
import sys
from types import ModuleType
from typing import Any

import pytest

from custom_components.konnected_aws.cloud import CloudAccount
from devtools.iot_emulator.policy import Policy, RequestContext

LAMBDA = (
    Path(__file__).parents[2]
    / "custom_components"
    / "konnected_aws"
    / "authorizer"
    / "lambda_function.py"
)
ACCOUNT_ID = "210987654321"
ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:konnected-aws-authorizer"
IOT = f"arn:aws:iot:eu-west-1:{ACCOUNT_ID}"
BOARD = "8840f5209948"
BRIDGE = "bridge0123"
SIGNATURE = "c2lnbmF0dXJl"  # AWS has already checked it; the Lambda only sees the outcome


class Context:
    """The attribute of Lambda's context object the function reads."""

    invoked_function_arn = ARN


@pytest.fixture
def handler(account: CloudAccount, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The Lambda module, loaded from its file as Lambda does, with the table in place."""
    account.ensure()
    monkeypatch.setenv("DEVICE_TABLE", account.names.table)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    spec = importlib.util.spec_from_file_location("lambda_function_under_test", LAMBDA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base_event(
    token: str | None, protocols: list[str], protocol_data: dict[str, Any]
) -> dict[str, Any]:
    """AWS IoT's authorizer event (developer guide, "Defining your authorizer function")."""
    event: dict[str, Any] = {
        "signatureVerified": True,
        "protocols": protocols,
        "protocolData": {
            "tls": {"serverName": "abc123-ats.iot.eu-west-1.amazonaws.com"},
            **protocol_data,
        },
        "connectionMetadata": {"id": "e56f08c3-c559-490f-aa9f-7e8427d0f57b"},
    }
    if token is not None:
        event["token"] = token
    return event


def header_event(token: str | None, *, with_token_field: bool = True) -> dict[str, Any]:
    """MQTT over WebSocket, authorizer data as upgrade headers (what the firmware sends)."""
    headers = {
        "Host": "abc123-ats.iot.eu-west-1.amazonaws.com",
        "Sec-WebSocket-Protocol": "mqtt",
        "X-Amz-CustomAuthorizer-Name": "konnected-aws",
        "X-Amz-CustomAuthorizer-Signature": SIGNATURE,
    }
    if token is not None:
        headers["Token"] = token
    return base_event(
        token if with_token_field else None,
        ["tls", "http", "mqtt"],
        {"http": {"headers": headers, "queryString": ""}},
    )


def query_event(token: str, *, with_token_field: bool = True) -> dict[str, Any]:
    """MQTT over WebSocket with the authorizer data in the query string."""
    query = (
        f"?x-amz-customauthorizer-name=konnected-aws&Token={token}"
        f"&x-amz-customauthorizer-signature={SIGNATURE}"
    )
    return base_event(
        token if with_token_field else None,
        ["tls", "http", "mqtt"],
        {
            "http": {
                "headers": {"Host": "abc123-ats.iot.eu-west-1.amazonaws.com"},
                "queryString": query,
            }
        },
    )


def mqtt_event(token: str, *, with_token_field: bool = True) -> dict[str, Any]:
    """MQTT on port 443 (ALPN mqtt): the authorizer data in the MQTT username."""
    username = (
        "ha?x-amz-customauthorizer-name=konnected-aws"
        f"&x-amz-customauthorizer-signature={SIGNATURE}&Token={token}"
    )
    return base_event(
        token if with_token_field else None,
        ["tls", "mqtt"],
        {"mqtt": {"username": username, "password": "", "clientId": "konnected-bridge-bridge0123"}},
    )


def only_policy(response: dict[str, Any]) -> dict[str, Any]:
    """The one policy document, checked against AWS's limits."""
    documents = response["policyDocuments"]
    assert 1 <= len(documents) <= 10
    assert all(isinstance(document, str) and len(document) <= 2048 for document in documents)
    assert len(documents) == 1
    policy: dict[str, Any] = json.loads(documents[0])
    return policy


def assert_authenticated(response: dict[str, Any], principal: str) -> None:
    """The seed's response shape and AWS's limits."""
    assert set(response) == {
        "isAuthenticated",
        "principalId",
        "disconnectAfterInSeconds",
        "refreshAfterInSeconds",
        "policyDocuments",
    }
    assert response["isAuthenticated"] is True
    assert response["principalId"] == principal
    assert principal.isalnum() and 1 <= len(principal) <= 128
    assert response["disconnectAfterInSeconds"] == 86400
    assert response["refreshAfterInSeconds"] == 21600


@pytest.mark.parametrize("shape", [header_event, query_event, mqtt_event])
def test_board_gets_only_its_own_topics(
    handler: ModuleType, account: CloudAccount, shape: Any
) -> None:
    """Every way a device sends the token; a board may use only konnected/<its id>/*."""
    token = account.registry.register(BOARD, "user").token
    response = handler.lambda_handler(shape(token), Context())
    assert_authenticated(response, BOARD)
    assert only_policy(response) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": [f"{IOT}:client/*"]},
            {
                "Effect": "Deny",
                "Action": ["iot:Connect"],
                "Resource": [f"{IOT}:client/konnected-bridge-*"],
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [f"{IOT}:topic/konnected/{BOARD}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["iot:Subscribe"],
                "Resource": [f"{IOT}:topicfilter/konnected/{BOARD}/*"],
            },
        ],
    }


def test_bridge_gets_all_boards_and_one_client_id(
    handler: ModuleType, account: CloudAccount
) -> None:
    """The bridge principal: its own client ids, every board's topics and the presence events."""
    token = account.registry.register(BRIDGE, "user", kind="bridge").token
    response = handler.lambda_handler(header_event(token), Context())
    assert_authenticated(response, BRIDGE)
    assert only_policy(response)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["iot:Connect"],
            "Resource": [f"{IOT}:client/konnected-bridge-{BRIDGE}-*"],
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Subscribe"],
            "Resource": [
                f"{IOT}:topicfilter/konnected/*",
                f"{IOT}:topicfilter/$aws/events/presence/*",
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Receive"],
            "Resource": [f"{IOT}:topic/konnected/*", f"{IOT}:topic/$aws/events/presence/*"],
        },
        {"Effect": "Allow", "Action": ["iot:Publish"], "Resource": [f"{IOT}:topic/konnected/*"]},
    ]


@pytest.mark.parametrize(
    ("kind", "device", "client_id", "allowed"),
    [
        ("bridge", BRIDGE, f"konnected-bridge-{BRIDGE}-5f3a9c1e", True),
        # The bare id is what an installation restored from the same backup would also use.
        ("bridge", BRIDGE, f"konnected-bridge-{BRIDGE}", False),
        ("bridge", BRIDGE, f"konnected-bridge-{BRIDGE}4-5f3a9c1e", False),  # a longer id's
        ("bridge", BRIDGE, "konnected-bridge-other0123-5f3a9c1e", False),
        ("bridge", BRIDGE, "anything-else", False),
        ("board", BOARD, "", True),  # the firmware's empty id; AWS assigns one
        ("board", BOARD, "aws-assigned-1234", True),
        ("board", BOARD, f"konnected-bridge-{BRIDGE}-5f3a9c1e", False),
        ("board", BOARD, "konnected-bridge-", False),
    ],
)
def test_connect_client_ids(
    handler: ModuleType,
    account: CloudAccount,
    kind: str,
    device: str,
    client_id: str,
    allowed: bool,
) -> None:
    """The returned policy, evaluated as IoT does (Deny wins): a bridge connects only as
    `konnected-bridge-<its id>-<suffix>`, a board never as any `konnected-bridge-*`."""
    token = account.registry.register(device, "user", kind=kind).token  # type: ignore[arg-type]
    response = handler.lambda_handler(header_event(token), Context())
    policy = Policy(response["policyDocuments"])
    context = RequestContext.of(**{"iot:ClientId": client_id})
    assert policy.allows("iot:Connect", f"{IOT}:client/{client_id}", context) is allowed


def test_longest_bridge_id_stays_within_limits(handler: ModuleType, account: CloudAccount) -> None:
    """A 128-character principal still gives a policy under 2048 characters."""
    bridge_id = "b" * 128
    token = account.registry.register(bridge_id, "user", kind="bridge").token
    response = handler.lambda_handler(header_event(token), Context())
    assert_authenticated(response, bridge_id)
    only_policy(response)


def test_arn_without_context_falls_back_to_the_region(
    handler: ModuleType, account: CloudAccount
) -> None:
    """No function ARN in the context (never on Lambda): the region from the environment."""
    token = account.registry.register(BOARD, "user").token
    response = handler.lambda_handler(header_event(token), object())
    resources = json.dumps(only_policy(response))
    assert "arn:aws:iot:eu-west-1:*:topic/konnected/8840f5209948/*" in resources


def _without_signature_flag(event: dict[str, Any]) -> Any:
    del event["signatureVerified"]
    return event


BAD_EVENTS: dict[str, Any] = {
    "unverified": lambda event, token: {**event, "signatureVerified": False},
    "signature_flag_missing": lambda event, token: _without_signature_flag(event),
    "signature_flag_string": lambda event, token: {**event, "signatureVerified": "true"},
    "unknown_token": lambda event, token: header_event("not-a-known-token-at-all"),
    "no_token_anywhere": lambda event, token: header_event(None),
    "token_not_a_string": lambda event, token: {**event, "token": {"S": token}},
    "token_with_foreign_characters": lambda event, token: header_event(token + "/#"),
    # `re.match` with `$` would let this one through.
    "token_with_trailing_newline": lambda event, token: {**event, "token": token + "\n"},
    "token_too_long": lambda event, token: header_event("x" * 5000),
    "list_event": lambda event, token: ["not", "an", "event"],
    "none_event": lambda event, token: None,
    "garbage_protocol_data": lambda event, token: {
        "signatureVerified": True,
        "protocolData": ["x"],
        "connectionMetadata": "y",
    },
}


@pytest.mark.parametrize("case", BAD_EVENTS)
def test_bad_events_fail_closed(handler: ModuleType, account: CloudAccount, case: str) -> None:
    """Unverified, unknown or malformed: refused in the right shape, without raising."""
    token = account.registry.register(BOARD, "user").token
    event = BAD_EVENTS[case](header_event(token), token)
    assert handler.lambda_handler(event, Context()) == {"isAuthenticated": False}


@pytest.mark.parametrize("shape", [header_event, query_event, mqtt_event])
def test_no_token_field_is_refused_even_with_a_token_in_the_request(
    handler: ModuleType, account: CloudAccount, shape: Any
) -> None:
    """AWS puts the token it verified in `token`; copies in headers, query string or MQTT
    username are not what it verified, so they never count."""
    token = account.registry.register(BOARD, "user").token
    event = shape(token, with_token_field=False)
    assert "token" not in event
    assert handler.lambda_handler(event, Context()) == {"isAuthenticated": False}


@pytest.mark.parametrize("shape", [header_event, query_event, mqtt_event])
def test_only_the_verified_token_counts(
    handler: ModuleType, account: CloudAccount, shape: Any
) -> None:
    """A request carrying another device's token beside the verified one gets the verified
    token's device: the other copy is never read."""
    board = account.registry.register(BOARD, "user").token
    bridge = account.registry.register(BRIDGE, "user", kind="bridge").token
    event = shape(bridge)  # the request's own copies: the bridge's token
    event["token"] = board  # what AWS verified
    assert_authenticated(handler.lambda_handler(event, Context()), BOARD)
    event["token"] = "never-registered-token-0123456789"
    assert handler.lambda_handler(event, Context()) == {"isAuthenticated": False}


@pytest.mark.parametrize("change", ["revoke", "rotate_token", "delete"])
def test_tokens_stop_working(handler: ModuleType, account: CloudAccount, change: str) -> None:
    """A revoked, rotated-away or deleted device's token is refused at the next connection."""
    token = account.registry.register(BOARD, "user").token
    assert handler.lambda_handler(header_event(token), Context())["isAuthenticated"] is True
    getattr(account.registry, change)(BOARD)
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}


def test_index_lag_cannot_resurrect_a_revoked_token(
    handler: ModuleType, account: CloudAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index may still show the old item for a moment; the consistent table read decides."""
    token = account.registry.register(BOARD, "user").token
    stale = handler._table().query(
        IndexName="token-index",
        KeyConditionExpression="#t = :t",
        ExpressionAttributeNames={"#t": "token"},
        ExpressionAttributeValues={":t": token},
    )
    account.registry.revoke(BOARD)
    table = handler._table()
    monkeypatch.setattr(table, "query", lambda **_: stale)
    assert stale["Items"][0]["status"] == "active"
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}


def test_dynamodb_error_fails_closed(
    handler: ModuleType, account: CloudAccount, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing table (any DynamoDB error) refuses instead of raising, and logs no token."""
    caplog.set_level(logging.DEBUG)
    token = account.registry.register(BOARD, "user").token
    account.client("dynamodb").delete_table(TableName=account.names.table)
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}
    # The function's own log (the root logger, as Lambda collects it); botocore's debug
    # output is not emitted on Lambda, where the root level is INFO.
    messages = [record.getMessage() for record in caplog.records if record.name == "root"]
    assert any("failed closed: ResourceNotFoundException" in message for message in messages)
    assert not any(token in message for message in messages)


def test_missing_configuration_fails_closed(
    handler: ModuleType, account: CloudAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without DEVICE_TABLE the function refuses everyone."""
    token = account.registry.register(BOARD, "user").token
    monkeypatch.delenv("DEVICE_TABLE")
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}


def test_response_over_the_limits_is_refused(
    handler: ModuleType, account: CloudAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS would reject a policy over 2048 characters: the function denies instead."""
    token = account.registry.register(BOARD, "user").token

    def huge(arn: str, device_id: str) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "x" * 3000}],
        }

    monkeypatch.setitem(handler.POLICIES, "board", huge)
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}


def test_item_of_unknown_kind_is_refused(handler: ModuleType, account: CloudAccount) -> None:
    """An item the registry did not write (unknown kind, bad id) gets no policy."""
    table = handler._table()
    token = "T" * 32
    table.put_item(Item={"device_id": "abc", "token": token, "status": "active", "kind": "admin"})
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}
    table.put_item(
        Item={"device_id": "NOTAMAC", "token": token, "status": "active", "kind": "board"}
    )
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}


@pytest.mark.parametrize("kind", ["board", "bridge"])
def test_device_id_with_a_trailing_newline_is_refused(
    handler: ModuleType, account: CloudAccount, kind: str
) -> None:
    """`^...$` with `re.match` accepts "<id>\n"; every id check is a fullmatch."""
    table = handler._table()
    token = "N" * 32
    device_id = f"{BOARD if kind == 'board' else BRIDGE}\n"
    table.put_item(Item={"device_id": device_id, "token": token, "status": "active", "kind": kind})
    assert handler.lambda_handler(header_event(token), Context()) == {"isAuthenticated": False}
    assert not handler.PRINCIPAL_ID.fullmatch(device_id) and handler.PRINCIPAL_ID.match(
        device_id.rstrip("\n")
    )


def test_tokens_never_reach_the_logs(
    handler: ModuleType, account: CloudAccount, caplog: pytest.LogCaptureFixture
) -> None:
    """Decisions are logged (connection id, principal), tokens never."""
    caplog.set_level(logging.DEBUG)
    token = account.registry.register(BOARD, "user").token
    handler.lambda_handler(header_event(token), Context())
    handler.lambda_handler(header_event(token + "x"), Context())
    messages = [record.getMessage() for record in caplog.records if record.name == "root"]
    assert any("allowed 8840f5209948" in message for message in messages)
    assert any("denied" in message for message in messages)
    assert not any(token in message for message in messages)


def test_source_runs_on_the_python_313_lambda_runtime() -> None:
    """The file parses as Python 3.13 and imports only the standard library and boto3."""
    tree = ast.parse(LAMBDA.read_text(), feature_version=(3, 13))
    modules = {
        (node.module or "").split(".")[0]
        if isinstance(node, ast.ImportFrom)
        else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert modules - sys.stdlib_module_names - {"__future__"} == {"boto3"}
