"""AWS errors become the cloud layer's errors: wrong keys, permissions, throttling, outages."""

from __future__ import annotations

import json
import types
from typing import Any

from botocore.awsrequest import AWSResponse
import botocore.endpoint
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
import pytest

from custom_components.konnected_aws.cloud import CloudAccount, SetupStep
from custom_components.konnected_aws.cloud.errors import (
    CloudError,
    InvalidCredentialsError,
    MissingPermissionError,
    ThrottledError,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("InvalidClientTokenId", 403, InvalidCredentialsError),
        ("SignatureDoesNotMatch", 403, InvalidCredentialsError),
        ("ExpiredToken", 400, InvalidCredentialsError),
        ("AccessDenied", 403, MissingPermissionError),
        ("Throttling", 400, ThrottledError),
        ("InternalFailure", 500, CloudError),
    ],
)
def test_sts_errors_become_clear_errors(
    account: CloudAccount, code: str, status: int, error: type[CloudError]
) -> None:
    """STS's answers for wrong keys etc. (stubbed: moto takes any key) map to one error each."""
    sts = account.client("sts")
    with Stubber(sts) as stubber:
        stubber.add_client_error(
            "get_caller_identity",
            service_error_code=code,
            service_message="The security token included in the request is invalid.",
            http_status_code=status,
        )
        with pytest.raises(error) as raised:
            account.verify()
    assert type(raised.value) is error
    assert SECRET not in str(raised.value)
    assert "AKIATESTTESTTEST" not in str(raised.value)


def test_wrong_credentials_message_is_clear(account: CloudAccount) -> None:
    """The user learns it is the key, not AWS being down."""
    with Stubber(account.client("sts")) as stubber:
        stubber.add_client_error(
            "get_caller_identity", "InvalidClientTokenId", http_status_code=403
        )
        with pytest.raises(InvalidCredentialsError, match="refused the access key"):
            account.verify()


def test_access_denied_names_only_the_action(account: CloudAccount) -> None:
    """The IAM action is parsed from AWS's message; the caller's ARN stays out of the error."""
    message = (
        "User: arn:aws:iam::123456789012:user/ha is not authorized to perform: "
        "sts:GetCallerIdentity because no identity-based policy allows the "
        "sts:GetCallerIdentity action"
    )
    with Stubber(account.client("sts")) as stubber:
        stubber.add_client_error(
            "get_caller_identity", "AccessDenied", message, http_status_code=403
        )
        with pytest.raises(MissingPermissionError) as raised:
            account.verify()
    assert raised.value.action == "sts:GetCallerIdentity"
    assert "user/ha" not in str(raised.value)


def test_access_denied_without_action_in_message_names_the_operation(account: CloudAccount) -> None:
    """Some services do not say which action: the operation is named instead."""
    with Stubber(account.client("sts")) as stubber:
        stubber.add_client_error(
            "get_caller_identity", "AccessDenied", "Access denied", http_status_code=403
        )
        with pytest.raises(MissingPermissionError) as raised:
            account.verify()
    assert raised.value.action == "GetCallerIdentity"


def test_unreachable_aws_is_a_cloud_error(account: CloudAccount) -> None:
    """No network: a CloudError saying so, not a botocore exception."""

    def unreachable(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com")

    account.client("sts").get_caller_identity = unreachable
    with pytest.raises(CloudError, match="could not be reached"):
        account.verify()


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


@pytest.fixture
def backoff_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry sleeps, recorded instead of slept (endpoint.py only uses time.sleep)."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    return delays


def throttle(attempts: list[int], throttled_calls: int) -> Any:
    """A before-send hook answering like DynamoDB under throttling for the first calls."""

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) > throttled_calls:
            return None  # let the request through to moto
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate"}
        ).encode()
        return AWSResponse(
            request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Body(body)
        )

    return handler


def test_throttling_is_retried_with_backoff(
    account: CloudAccount, backoff_delays: list[float]
) -> None:
    """Two throttled answers, then success: ensure goes through, after two backoff waits."""
    account.ensure()
    attempts: list[int] = []
    account.client("dynamodb").meta.events.register(
        "before-send.dynamodb.DescribeTable", throttle(attempts, 2)
    )
    assert account.ensure().changed == (SetupStep.RUNTIME_KEY,)  # a fresh key every run
    assert len(attempts) == 3
    assert len(backoff_delays) == 2
    assert all(0 <= delay <= 20 for delay in backoff_delays)


def test_persistent_throttling_is_a_clear_error(
    account: CloudAccount, backoff_delays: list[float]
) -> None:
    """Throttled on every attempt: six attempts with backoff, then ThrottledError."""
    account.ensure()
    attempts: list[int] = []
    account.client("dynamodb").meta.events.register(
        "before-send.dynamodb.DescribeTable", throttle(attempts, 1000)
    )
    with pytest.raises(ThrottledError, match="try again later"):
        account.ensure()
    assert len(attempts) == 6
    assert len(backoff_delays) == 5
