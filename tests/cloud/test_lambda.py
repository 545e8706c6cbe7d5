"""The shipped authorizer Lambda against moto's DynamoDB, with events shaped as AWS sends them."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from custom_components.konnected_aws.cloud import CloudAccount

LAMBDA = Path(__file__).parents[2] / "custom_components" / "konnected_aws" / "authorizer" / "lambda_function.py"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:konnected-aws-authorizer"
BOARD = "8840f5209948"


class Context:
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


def http_event(token: str | None, verified: bool = True) -> dict[str, Any]:
    """A WebSocket upgrade with the authorizer headers (what the firmware sends)."""
    headers = {"x-amz-customauthorizer-name": "konnected-aws", "x-amz-customauthorizer-signature": "c2ln"}
    if token is not None:
        headers["token"] = token
    event: dict[str, Any] = {
        "signatureVerified": verified,
        "protocols": ["tls", "http", "mqtt"],
        "protocolData": {
            "tls": {"serverName": "abc-ats.iot.eu-west-1.amazonaws.com"},
            "http": {"headers": headers, "queryString": ""},
            "mqtt": {"clientId": ""},
        },
        "connectionMetadata": {"id": "e56f08c3-c559-490f-aa9f-7e8427d0f57b"},
    }
    if token is not None:
        event["token"] = token
    return event


def query_event(token: str) -> dict[str, Any]:
    """The query-string variant."""
    event = http_event(token)
    event["protocolData"]["http"] = {
        "headers": {},
        "queryString": f"x-amz-customauthorizer-name=konnected-aws&Token={token}&x-amz-customauthorizer-signature=c2ln",
    }
    return event


def policy(response: dict[str, Any]) -> dict[str, Any]:
    assert len(response["policyDocuments"]) == 1
    document = response["policyDocuments"][0]
    assert isinstance(document, str) and len(document) <= 2048
    return json.loads(document)


def test_board_gets_its_own_topics(handler: ModuleType, account: CloudAccount, caplog: pytest.LogCaptureFixture) -> None:
    """The seed's response: principal, durations, policy scoped to konnected/<id>/*."""
    caplog.set_level(logging.DEBUG)
    token = account.registry.register(BOARD, "user").token
    for event in (http_event(token), query_event(token)):
        response = handler.lambda_handler(event, Context())
        assert response["isAuthenticated"] is True
        assert response["principalId"] == BOARD
        assert response["disconnectAfterInSeconds"] == 86400
        assert response["refreshAfterInSeconds"] == 21600
        statements = policy(response)["Statement"]
        resources = json.dumps(statements)
        assert f"topic/konnected/{BOARD}/*" in resources
        assert f"topicfilter/konnected/{BOARD}/*" in resources
        assert "arn:aws:iot:eu-west-1:123456789012:" in resources
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and "client/konnected-bridge-*" in deny[0]["Resource"][0]
    # The Lambda logs (to the root logger, as Lambda collects it) but never the token.
    lambda_logs = [record.getMessage() for record in caplog.records if record.name == "root"]
    assert lambda_logs
    assert not any(token in line for line in lambda_logs)


def test_bridge_gets_all_boards_and_one_client_id(handler: ModuleType, account: CloudAccount) -> None:
    """The bridge principal: its own client id, every board's topics and lifecycle events."""
    token = account.registry.register("bridge0123", "user", kind="bridge").token
    response = handler.lambda_handler(http_event(token), Context())
    assert response["principalId"] == "bridge0123"
    resources = json.dumps(policy(response))
    assert "client/konnected-bridge-bridge0123" in resources
    assert "topicfilter/$aws/events/presence/*" in resources


@pytest.mark.parametrize("case", ["unverified", "unknown", "revoked", "no_token", "malformed", "long_token"])
def test_fails_closed(handler: ModuleType, account: CloudAccount, case: str) -> None:
    """Anything but a verified, known, active token is refused, without raising."""
    token = account.registry.register(BOARD, "user").token
    event: Any
    match case:
        case "unverified":
            event = http_event(token, verified=False)
        case "unknown":
            event = http_event("not-a-known-token")
        case "revoked":
            account.registry.revoke(BOARD)
            event = http_event(token)
        case "no_token":
            event = http_event(None)
        case "malformed":
            event = ["not", "an", "event"]
        case _:
            event = http_event("x" * 5000)
    assert handler.lambda_handler(event, Context()) == {"isAuthenticated": False}


def test_dynamodb_error_fails_closed(handler: ModuleType, account: CloudAccount, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing table (or any DynamoDB error) refuses instead of raising."""
    token = account.registry.register(BOARD, "user").token
    account.client("dynamodb").delete_table(TableName=account.names.table)
    assert handler.lambda_handler(http_event(token), Context()) == {"isAuthenticated": False}
