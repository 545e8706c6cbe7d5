"""Account setup against moto: from nothing, re-runs, repairs, partial failures, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from botocore.exceptions import ClientError

from custom_components.konnected_aws.cloud import CloudAccount, SetupStep
from custom_components.konnected_aws.cloud.account import lambda_package
from custom_components.konnected_aws.cloud.errors import (
    CloudError,
    InvalidCredentialsError,
    InvalidDeviceIdError,
    MissingPermissionError,
    ThrottledError,
)
from custom_components.konnected_aws.cloud.signing import (
    generate_key_pair,
    new_token,
    public_key_of,
    sign_token,
    verify_token_signature,
)

TEMPLATE = Path(__file__).parents[2] / "custom_components" / "konnected_aws" / "authorizer" / "template.yaml"


def client_error(code: str, operation: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, operation)


def test_ensure_from_nothing_creates_everything(account: CloudAccount) -> None:
    """Every resource exists and is wired as the firmware's custom authorizer needs."""
    progress: list[tuple[SetupStep, int, int]] = []
    resources = account.ensure(lambda step, done, total: progress.append((step, done, total)))
    assert [step for step, _, _ in progress[:-1]] == list(SetupStep)
    assert progress[-1][1] == progress[-1][2]
    assert set(resources.changed) == set(SetupStep) - {SetupStep.ENDPOINT}
    assert resources.iot_endpoint.endswith(".amazonaws.com") and "-ats." in resources.iot_endpoint

    ssm = account.client("ssm")
    private = ssm.get_parameter(Name=account.names.private_key_parameter, WithDecryption=True)["Parameter"]
    assert private["Type"] == "SecureString"
    authorizer = account.client("iot").describe_authorizer(authorizerName="konnected-aws")["authorizerDescription"]
    assert authorizer["tokenKeyName"] == "Token"
    assert authorizer["status"] == "ACTIVE"
    assert authorizer["signingDisabled"] is False
    assert authorizer["tokenSigningPublicKeys"]["konnected-aws-key"] == public_key_of(private["Value"].encode()).decode()
    function = account.client("lambda").get_function(FunctionName="konnected-aws-authorizer")["Configuration"]
    assert function["Runtime"] == "python3.13"
    assert function["Environment"]["Variables"] == {"DEVICE_TABLE": "konnected-aws-devices"}
    assert function["CodeSha256"] == lambda_package()[1]
    policy = json.loads(account.client("lambda").get_policy(FunctionName="konnected-aws-authorizer")["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"]["Service"] == "iot.amazonaws.com"
    assert resources.authorizer_arn in json.dumps(statement)
    table = account.client("dynamodb").describe_table(TableName="konnected-aws-devices")["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["token-index"]


def test_rerun_changes_nothing(account: CloudAccount) -> None:
    """Idempotent: the second run makes no change and keeps the key."""
    account.ensure()
    key = account.load_private_key()
    assert account.ensure().changed == ()
    assert account.load_private_key() == key


def test_drift_is_repaired(account: CloudAccount) -> None:
    """A disabled authorizer, a lost permission and old Lambda code are put right."""
    account.ensure()
    account.client("iot").update_authorizer(authorizerName="konnected-aws", status="INACTIVE")
    account.client("lambda").remove_permission(
        FunctionName="konnected-aws-authorizer", StatementId="konnected-aws-iot-invoke"
    )
    account.client("lambda").update_function_code(FunctionName="konnected-aws-authorizer", ZipFile=b"old")
    changed = set(account.ensure().changed)
    assert changed == {SetupStep.AUTHORIZER, SetupStep.PERMISSION, SetupStep.FUNCTION}
    assert account.ensure().changed == ()


def test_failure_midway_is_completed_by_the_next_run(account: CloudAccount) -> None:
    """The Lambda step fails once; the next run finishes without duplicating anything."""
    real_client = account.client

    def failing_client(service: str) -> Any:
        client = real_client(service)
        if service == "lambda":
            def fail(**_: Any) -> Any:
                raise client_error("ServiceException", "CreateFunction")

            client.create_function = fail
        return client

    with patch.object(account, "client", side_effect=failing_client), pytest.raises(CloudError):
        account.ensure()
    account._clients.clear()  # noqa: SLF001 - drop the patched client
    resources = account.ensure()
    assert SetupStep.KEY_PAIR not in resources.changed  # kept from the first run
    assert SetupStep.FUNCTION in resources.changed
    assert len(account.client("lambda").list_functions()["Functions"]) == 1
    assert account.ensure().changed == ()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidClientTokenId", InvalidCredentialsError),
        ("SignatureDoesNotMatch", InvalidCredentialsError),
        ("AccessDenied", MissingPermissionError),
        ("ThrottlingException", ThrottledError),
        ("InternalFailure", CloudError),
    ],
)
def test_aws_errors_become_clear_errors(account: CloudAccount, code: str, error: type[Exception]) -> None:
    """What AWS says is mapped to one error each, with no secret in the message."""
    sts = account.client("sts")
    with patch.object(sts, "get_caller_identity", side_effect=client_error(code, "GetCallerIdentity")):
        with pytest.raises(error) as raised:
            account.verify()
    assert "secret" not in str(raised.value)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


@pytest.mark.parametrize(("throttled_calls", "succeeds"), [(2, True), (100, False)])
def test_throttling_is_retried_then_reported(account: CloudAccount, throttled_calls: int, succeeds: bool) -> None:
    """Throttled calls are retried with backoff; persistent throttling is a clear error."""
    from botocore.awsrequest import AWSResponse

    account.ensure()
    attempts: list[int] = []

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) > throttled_calls:
            return None
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}'
        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body))

    client = account.client("dynamodb")
    client.meta.events.register("before-send.dynamodb.DescribeTable", throttle)
    if succeeds:
        assert account.ensure().changed == ()
        assert len(attempts) == throttled_calls + 1
    else:
        with pytest.raises(ThrottledError):
            account.ensure()
        assert len(attempts) > 1


def test_teardown_removes_everything_and_is_idempotent(account: CloudAccount) -> None:
    """After teardown nothing is left; a second teardown is fine."""
    account.ensure()
    account.teardown()
    account.teardown()
    assert account.client("lambda").list_functions()["Functions"] == []
    assert account.client("dynamodb").list_tables()["TableNames"] == []
    assert account.client("iot").list_authorizers()["authorizers"] == []


def test_registry(account: CloudAccount) -> None:
    """Register, find by token, rotate, revoke, delete."""
    account.ensure()
    registry = account.registry
    first = registry.register("8840f5209948", "user")
    assert registry.find_by_token(first.token).device_id == "8840f5209948"  # type: ignore[union-attr]
    rotated = registry.rotate_token("8840f5209948")
    assert rotated.token != first.token
    assert registry.find_by_token(first.token) is None
    registry.revoke("8840f5209948")
    assert registry.get("8840f5209948").status == "revoked"  # type: ignore[union-attr]
    registry.delete("8840f5209948")
    registry.delete("8840f5209948")
    assert registry.get("8840f5209948") is None
    assert "token" not in repr(rotated) or rotated.token not in repr(rotated)
    with pytest.raises(InvalidDeviceIdError):
        registry.register("not-a-mac", "user")
    with pytest.raises(CloudError):
        registry.rotate_token("000000000000")


def test_signature_matches_openssl(tmp_path: Path) -> None:
    """Byte-identical to `openssl dgst -sha256 -sign key | openssl base64 -A`."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the project's Python root ships openssl (ca-certificates needs it)"
    pair = generate_key_pair()
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pair.private_pem)
    token = new_token()
    raw = subprocess.run(
        [openssl, "dgst", "-sha256", "-sign", str(key_file)], input=token.encode(), capture_output=True, check=True
    ).stdout
    import base64

    assert sign_token(pair.private_pem, token) == base64.b64encode(raw).decode()
    assert verify_token_signature(pair.public_pem, token, sign_token(pair.private_pem, token))
    assert not verify_token_signature(pair.public_pem, token + "x", sign_token(pair.private_pem, token))
    assert not verify_token_signature(pair.public_pem, token, "not base64!")
    assert len(token) >= 22  # at least 128 random bits
    assert "PRIVATE" not in repr(pair)


def test_cloudformation_template_lints() -> None:
    """cfn-lint accepts the template for users who deploy with IaC."""
    cfn_lint = shutil.which("cfn-lint")
    assert cfn_lint is not None
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
