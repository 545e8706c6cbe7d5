"""Account setup against moto: from nothing, re-runs, repairs, partial failures, teardown."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from custom_components.konnected_aws.cloud import (
    CloudAccount,
    SetupStep,
    StepState,
    account as account_module,
    progress_fraction,
)
from custom_components.konnected_aws.cloud.account import lambda_package
from custom_components.konnected_aws.cloud.errors import (
    CloudError,
    InvalidCredentialsError,
    MissingPermissionError,
)
from custom_components.konnected_aws.cloud.signing import (
    generate_key_pair,
    public_key_of,
)

from .conftest import (
    REGION,
    client_error,
    fail_once,
    mutating,
    new_account,
    record_calls,
)

ACCOUNT_ID = "123456789012"  # moto's default account
FUNCTION = "konnected-aws-authorizer"
TABLE = "konnected-aws-devices"
RUNTIME_USER = "konnected-aws-home-assistant"
ORIGINAL_SOURCE = account_module.LAMBDA_SOURCE


def test_ensure_from_nothing_creates_everything(account: CloudAccount) -> None:
    """Every resource exists and is wired as the firmware's custom authorizer needs."""
    progress: list[tuple[SetupStep, StepState]] = []
    resources = account.ensure(lambda step, state: progress.append((step, state)))

    expected = []
    for step in SetupStep:
        state = StepState.UNCHANGED if step is SetupStep.ENDPOINT else StepState.CHANGED
        expected += [(step, StepState.RUNNING), (step, state)]  # the endpoint is only read
    assert progress == expected
    assert list(SetupStep)[-1] is SetupStep.RUNTIME_KEY  # nothing can fail after the new key
    assert set(resources.changed) == set(SetupStep) - {SetupStep.ENDPOINT}
    assert resources.account_id == ACCOUNT_ID
    assert resources.region == REGION
    assert resources.authorizer_arn == f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:authorizer/konnected-aws"
    assert "-ats.iot." in resources.iot_endpoint
    assert resources.websocket_url == f"wss://{resources.iot_endpoint}/mqtt"


def test_ensure_stores_the_key_pair_and_makes_the_table(account: CloudAccount) -> None:
    """Private key as SecureString, public key beside it; on-demand table with the token index."""
    account.ensure()
    ssm = account.client("ssm")
    private = ssm.get_parameter(Name="/konnected-aws/authorizer/private-key", WithDecryption=True)
    assert private["Parameter"]["Type"] == "SecureString"
    assert account.load_private_key() == private["Parameter"]["Value"].encode()
    public_pem = public_key_of(account.load_private_key()).decode()
    public = ssm.get_parameter(Name="/konnected-aws/authorizer/public-key")["Parameter"]
    assert (public["Type"], public["Value"]) == ("String", public_pem)

    table = account.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "device_id", "KeyType": "HASH"}]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "token-index"
    assert index["KeySchema"] == [{"AttributeName": "token", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_ensure_gives_the_lambda_a_least_privilege_role(account: CloudAccount) -> None:
    """Trusted by Lambda only; may read this table by token and write its own logs."""
    account.ensure()
    iam = account.client("iam")
    role = iam.get_role(RoleName="konnected-aws-authorizer")["Role"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    policy = iam.get_role_policy(
        RoleName="konnected-aws-authorizer", PolicyName="konnected-aws-authorizer"
    )
    statements = policy["PolicyDocument"]["Statement"]
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{TABLE}"
    assert {
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": f"{table_arn}/index/token-index",
    } in statements
    assert {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn} in statements
    actions = [
        action
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    # Least privilege: read by token and write logs, nothing else, no wildcard resources.
    assert sorted(actions) == sorted(
        [
            "dynamodb:Query",
            "dynamodb:GetItem",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
    assert "*" not in json.dumps([s["Resource"] for s in statements[:2]])


def test_ensure_wires_function_permission_and_authorizer(account: CloudAccount) -> None:
    """Lambda from the shipped code; IoT may invoke it for this authorizer; signing on."""
    resources = account.ensure()
    role = account.client("iam").get_role(RoleName="konnected-aws-authorizer")["Role"]
    public_pem = public_key_of(account.load_private_key()).decode()
    function = account.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "lambda_function.lambda_handler"
    assert function["Role"] == role["Arn"]
    assert function["Environment"]["Variables"] == {"DEVICE_TABLE": TABLE}
    assert function["CodeSha256"] == lambda_package()[1]
    assert resources.function_arn == function["FunctionArn"]

    permission = json.loads(account.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    [statement] = permission["Statement"]
    assert statement["Principal"] == {"Service": "iot.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": resources.authorizer_arn}}

    authorizer = account.client("iot").describe_authorizer(authorizerName="konnected-aws")[
        "authorizerDescription"
    ]
    assert authorizer["authorizerFunctionArn"] == function["FunctionArn"]
    assert authorizer["tokenKeyName"] == "Token"
    assert authorizer["status"] == "ACTIVE"
    assert authorizer["signingDisabled"] is False
    assert authorizer["tokenSigningPublicKeys"] == {"konnected-aws-key": public_pem}


def test_ensure_makes_the_runtime_user_and_hands_out_its_key(account: CloudAccount) -> None:
    """Home Assistant's own user: exactly the run-time policy inline, one fresh key returned."""
    resources = account.ensure()
    iam = account.client("iam")
    user = iam.get_user(UserName=RUNTIME_USER)["User"]
    assert resources.runtime_user_arn == user["Arn"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/{RUNTIME_USER}"
    assert iam.list_user_policies(UserName=RUNTIME_USER)["PolicyNames"] == [RUNTIME_USER]
    assert iam.list_attached_user_policies(UserName=RUNTIME_USER)["AttachedPolicies"] == []
    policy = iam.get_user_policy(UserName=RUNTIME_USER, PolicyName=RUNTIME_USER)
    assert policy["PolicyDocument"] == account.runtime_policy_document(account.identity())
    [key] = iam.list_access_keys(UserName=RUNTIME_USER)["AccessKeyMetadata"]
    credentials = resources.runtime_credentials
    assert key["AccessKeyId"] == credentials.access_key_id
    assert credentials.region == REGION and credentials.session_token is None
    assert credentials.secret_access_key not in repr(resources)


def test_each_run_rotates_the_runtime_key_keeping_only_the_previous(account: CloudAccount) -> None:
    """AWS allows two keys: a run deletes all but the newest, then adds one (docs/aws.md)."""
    iam = account.client("iam")

    def key_ids() -> list[str]:
        keys = iam.list_access_keys(UserName=RUNTIME_USER)["AccessKeyMetadata"]
        return [key["AccessKeyId"] for key in sorted(keys, key=lambda key: key["CreateDate"])]

    first = account.ensure().runtime_credentials.access_key_id
    assert key_ids() == [first]
    second = account.ensure().runtime_credentials.access_key_id
    assert key_ids() == [first, second]  # the key in use keeps working until the new is stored
    calls = record_calls(again := new_account())
    third = again.ensure().runtime_credentials.access_key_id
    assert key_ids() == [second, third]
    assert mutating(calls) == ["iam:DeleteAccessKey", "iam:CreateAccessKey"]
    assert len({first, second, third}) == 3


def test_runtime_key_that_never_works_is_deleted(
    account: CloudAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM is eventually consistent: the new key is retried, bounded; a key that never works is
    not left behind and the error says which permission failed."""
    sleeps: list[float] = []
    fresh = new_account(sleeps)
    attempts = 0

    def denied(self: CloudAccount) -> bytes:
        nonlocal attempts
        attempts += 1
        raise MissingPermissionError("ssm:GetParameter")

    monkeypatch.setattr(CloudAccount, "load_private_key", denied)
    with pytest.raises(MissingPermissionError, match="ssm:GetParameter"):
        fresh.ensure()
    assert attempts == account_module.RUNTIME_KEY_ATTEMPTS
    assert [delay for delay in sleeps if delay != 1.0][:3] == [2.0, 4.0, 6.0]
    assert account.client("iam").list_access_keys(UserName=RUNTIME_USER)["AccessKeyMetadata"] == []


def test_runtime_key_propagation_is_waited_for(
    account: CloudAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key IAM does not know yet (InvalidClientTokenId for a few seconds) is tried again."""
    real = CloudAccount.load_private_key
    attempts = 0

    def not_yet(self: CloudAccount) -> bytes:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise InvalidCredentialsError("not yet")
        return real(self)

    monkeypatch.setattr(CloudAccount, "load_private_key", not_yet)
    resources = account.ensure()
    assert attempts == 3
    keys = account.client("iam").list_access_keys(UserName=RUNTIME_USER)["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [resources.runtime_credentials.access_key_id]


def test_runtime_user_policy_drift_is_repaired(account: CloudAccount) -> None:
    """Someone widened the run-time policy by hand: ensure puts the exact one back."""
    account.ensure()
    iam = account.client("iam")
    iam.put_user_policy(
        UserName=RUNTIME_USER,
        PolicyName=RUNTIME_USER,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    assert SetupStep.RUNTIME_USER in account.ensure().changed
    policy = iam.get_user_policy(UserName=RUNTIME_USER, PolicyName=RUNTIME_USER)
    assert policy["PolicyDocument"] == account.runtime_policy_document(account.identity())


def test_rerun_changes_nothing_but_the_runtime_key(account: CloudAccount) -> None:
    """Idempotent: a second run (a new object, as after a restart) changes nothing but issuing
    the fresh run-time key."""
    first = account.ensure()
    function = account.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    key = account.load_private_key()

    again = new_account()
    calls = record_calls(again)
    progress: list[tuple[SetupStep, StepState]] = []
    second = again.ensure(lambda step, state: progress.append((step, state)))

    assert calls, "the call recorder saw nothing"
    assert mutating(calls) == ["iam:CreateAccessKey"]
    assert second.changed == (SetupStep.RUNTIME_KEY,)
    assert {state for step, state in progress if step is not SetupStep.RUNTIME_KEY} == {
        StepState.RUNNING,
        StepState.UNCHANGED,
    }
    # moto invents a new endpoint prefix on every DescribeEndpoint; AWS keeps one per account.
    assert second == dataclasses.replace(
        first,
        changed=second.changed,
        iot_endpoint=second.iot_endpoint,
        runtime_credentials=second.runtime_credentials,
    )
    assert second.runtime_credentials != first.runtime_credentials
    assert again.load_private_key() == key
    after = again.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert (after["Version"], after["LastModified"], after["CodeSha256"]) == (
        function["Version"],
        function["LastModified"],
        function["CodeSha256"],
    )
    versions = again.client("lambda").list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    assert [version["Version"] for version in versions] == ["$LATEST"]
    parameter = again.client("ssm").get_parameter(Name="/konnected-aws/authorizer/private-key")[
        "Parameter"
    ]
    assert parameter["Version"] == 1


def test_drift_is_repaired(account: CloudAccount) -> None:
    """Resources changed by hand are put back, and then a run changes nothing again."""
    resources = account.ensure()
    other_key = generate_key_pair().public_pem.decode()
    account.client("iot").update_authorizer(
        authorizerName="konnected-aws",
        status="INACTIVE",
        tokenKeyName="token",
        tokenSigningPublicKeys={"konnected-aws-key": other_key},
    )
    account.client("lambda").remove_permission(
        FunctionName=FUNCTION, StatementId="konnected-aws-iot-invoke"
    )
    account.client("lambda").add_permission(
        FunctionName=FUNCTION,
        StatementId="konnected-aws-iot-invoke",
        Action="lambda:InvokeFunction",
        Principal="iot.amazonaws.com",
        SourceArn=resources.authorizer_arn.replace("konnected-aws", "someone-else"),
    )
    account.client("lambda").update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": {"DEVICE_TABLE": "other"}}, Timeout=60
    )
    account.client("iam").put_role_policy(
        RoleName="konnected-aws-authorizer",
        PolicyName="konnected-aws-authorizer",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
            }
        ),
    )
    account.client("ssm").delete_parameter(Name="/konnected-aws/authorizer/public-key")

    changed = set(account.ensure().changed)

    assert changed == {
        SetupStep.KEY_PAIR,
        SetupStep.ROLE,
        SetupStep.FUNCTION,
        SetupStep.PERMISSION,
        SetupStep.AUTHORIZER,
        SetupStep.RUNTIME_KEY,
    }
    authorizer = account.client("iot").describe_authorizer(authorizerName="konnected-aws")[
        "authorizerDescription"
    ]
    assert authorizer["status"] == "ACTIVE"
    assert authorizer["tokenKeyName"] == "Token"
    assert (
        authorizer["tokenSigningPublicKeys"]["konnected-aws-key"]
        == public_key_of(account.load_private_key()).decode()
    )
    function = account.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert (function["Environment"]["Variables"], function["Timeout"]) == (
        {"DEVICE_TABLE": TABLE},
        5,
    )
    policy = json.loads(account.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]] == [
        resources.authorizer_arn
    ]
    assert "dynamodb:*" not in json.dumps(
        account.client("iam").get_role_policy(
            RoleName="konnected-aws-authorizer", PolicyName="konnected-aws-authorizer"
        )["PolicyDocument"]
    )
    assert account.ensure().changed == (SetupStep.RUNTIME_KEY,)


def test_authorizer_without_signing_is_replaced(account: CloudAccount) -> None:
    """Signing cannot be switched on by an update: such an authorizer is recreated with it."""
    resources = account.ensure()
    iot = account.client("iot")
    iot.update_authorizer(authorizerName="konnected-aws", status="INACTIVE")
    iot.delete_authorizer(authorizerName="konnected-aws")
    iot.create_authorizer(
        authorizerName="konnected-aws",
        authorizerFunctionArn=resources.function_arn,
        signingDisabled=True,
        status="ACTIVE",
    )
    assert account.ensure().changed == (SetupStep.AUTHORIZER, SetupStep.RUNTIME_KEY)
    authorizer = iot.describe_authorizer(authorizerName="konnected-aws")["authorizerDescription"]
    assert authorizer["signingDisabled"] is False
    assert authorizer["tokenKeyName"] == "Token"
    assert len(iot.list_authorizers()["authorizers"]) == 1


def test_newer_lambda_code_updates_the_function(
    account: CloudAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new integration version ships new Lambda code: ensure uploads it, once."""
    account.ensure()
    newer = tmp_path / "lambda_function.py"
    newer.write_text(account_module.LAMBDA_SOURCE.read_text() + "\n# a newer release\n")
    monkeypatch.setattr(account_module, "LAMBDA_SOURCE", newer)

    again = new_account()
    calls = record_calls(again)
    assert again.ensure().changed == (SetupStep.FUNCTION, SetupStep.RUNTIME_KEY)
    assert mutating(calls) == ["lambda:UpdateFunctionCode", "iam:CreateAccessKey"]
    function = again.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert function["CodeSha256"] == lambda_package(newer)[1]
    assert function["CodeSha256"] != lambda_package(ORIGINAL_SOURCE)[1]
    assert again.ensure().changed == (SetupStep.RUNTIME_KEY,)


def test_failure_midway_is_completed_by_the_next_run(account: CloudAccount) -> None:
    """The Lambda step fails once; the next run finishes without duplicating anything."""
    progress: list[tuple[SetupStep, StepState]] = []
    fail_once(
        account.client("lambda"),
        "create_function",
        client_error("ServiceException", "CreateFunction"),
    )

    with pytest.raises(CloudError, match="function"):
        account.ensure(lambda step, state: progress.append((step, state)))
    assert progress[-1] == (SetupStep.FUNCTION, StepState.FAILED)
    assert account.client("lambda").list_functions()["Functions"] == []
    key = account.load_private_key()

    resources = account.ensure()
    assert SetupStep.KEY_PAIR not in resources.changed  # kept from the first run
    assert SetupStep.ROLE not in resources.changed
    assert SetupStep.FUNCTION in resources.changed
    assert account.load_private_key() == key
    assert len(account.client("lambda").list_functions()["Functions"]) == 1
    assert len(account.client("iam").list_roles()["Roles"]) == 1
    assert account.client("dynamodb").list_tables()["TableNames"] == [TABLE]
    assert account.ensure().changed == (SetupStep.RUNTIME_KEY,)


def test_failure_in_the_authorizer_step_is_completed(account: CloudAccount) -> None:
    """The permission exists when the authorizer fails; the next run adds only the authorizer."""
    fail_once(
        account.client("iot"),
        "create_authorizer",
        client_error("InternalFailure", "CreateAuthorizer"),
    )
    with pytest.raises(CloudError):
        account.ensure()
    # The run-time user comes after the authorizer, so the failed run never reached it.
    assert account.ensure().changed == (
        SetupStep.AUTHORIZER,
        SetupStep.RUNTIME_USER,
        SetupStep.RUNTIME_KEY,
    )
    policy = json.loads(account.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    assert len(policy["Statement"]) == 1


def test_missing_permission_names_the_action_and_the_step(account: CloudAccount) -> None:
    """AccessDenied on a step: the error names the IAM action, progress the failed step."""
    message = (
        f"User: arn:aws:iam::{ACCOUNT_ID}:user/ha is not authorized to perform: iam:CreateRole "
        f"on resource: arn:aws:iam::{ACCOUNT_ID}:role/konnected-aws-authorizer"
    )
    fail_once(
        account.client("iam"), "create_role", client_error("AccessDenied", "CreateRole", message)
    )
    progress: list[tuple[SetupStep, StepState]] = []
    with pytest.raises(MissingPermissionError) as raised:
        account.ensure(lambda step, state: progress.append((step, state)))
    assert raised.value.action == "iam:CreateRole"
    assert "iam:CreateRole" in str(raised.value)
    assert "user/ha" not in str(raised.value)
    assert progress[-1] == (SetupStep.ROLE, StepState.FAILED)


def test_new_role_propagation_is_retried(account: CloudAccount) -> None:
    """Lambda cannot assume a role for a few seconds after it was made: bounded retries."""
    sleeps: list[float] = []
    fresh = new_account(sleeps)
    lambda_client = fresh.client("lambda")
    real = lambda_client.create_function
    attempts = 0

    def not_yet(**kwargs: object) -> object:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise client_error(
                "InvalidParameterValueException",
                "CreateFunction",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        return real(**kwargs)

    lambda_client.create_function = not_yet
    assert SetupStep.FUNCTION in fresh.ensure().changed
    assert attempts == 3
    assert sleeps[:2] == [2.0, 4.0]


def test_role_that_never_propagates_is_a_clear_error(account: CloudAccount) -> None:
    """After the bounded retries the error is reported, without sleeping for real."""
    sleeps: list[float] = []
    fresh = new_account(sleeps)

    def never(**_: object) -> object:
        raise client_error(
            "InvalidParameterValueException",
            "CreateFunction",
            "The role defined for the function cannot be assumed by Lambda.",
        )

    fresh.client("lambda").create_function = never
    with pytest.raises(CloudError, match="InvalidParameterValueException"):
        fresh.ensure()
    retry_sleeps = [delay for delay in sleeps if delay != 1.0]
    assert len(retry_sleeps) == account_module.ROLE_PROPAGATION_RETRIES - 1
    assert max(retry_sleeps) <= 10.0


def test_other_invalid_parameters_are_not_retried(account: CloudAccount) -> None:
    """Only the role-propagation error is retried."""
    sleeps: list[float] = []
    fresh = new_account(sleeps)
    count = fail_once(
        fresh.client("lambda"),
        "create_function",
        client_error("InvalidParameterValueException", "CreateFunction", "Unsupported runtime"),
    )
    with pytest.raises(CloudError):
        fresh.ensure()
    assert count() == 1


def test_corrupt_private_key_is_not_replaced(account: CloudAccount) -> None:
    """Replacing the key would break every board: a clear error instead."""
    account.client("ssm").put_parameter(
        Name="/konnected-aws/authorizer/private-key", Value="garbage", Type="SecureString"
    )
    with pytest.raises(CloudError, match="not an RSA private key"):
        account.ensure()
    assert account.load_private_key() == b"garbage"


def test_existing_table_without_index_gets_it(account: CloudAccount) -> None:
    """A table made by hand without the token index is completed, its items kept."""
    dynamodb = account.client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName=TABLE, Item={"device_id": {"S": "8840f5209948"}, "token": {"S": "t" * 32}}
    )
    assert SetupStep.DEVICE_TABLE in account.ensure().changed
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["token-index"]
    assert dynamodb.get_item(TableName=TABLE, Key={"device_id": {"S": "8840f5209948"}})["Item"]


def test_table_with_another_key_is_refused(account: CloudAccount) -> None:
    """A foreign table under our name is not touched."""
    account.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(CloudError, match="another key"):
        account.ensure()


def test_emulator_without_authorizer_api_is_a_clear_error(account: CloudAccount) -> None:
    """moto without the devtools shim raises NotImplementedError: reported as a CloudError."""

    def not_implemented(**_: object) -> object:
        raise NotImplementedError("The describe_authorizer action has not been implemented")

    account.client("iot").describe_authorizer = not_implemented
    with pytest.raises(CloudError, match="does not implement"):
        account.ensure()


def test_teardown_removes_everything_and_is_idempotent(account: CloudAccount) -> None:
    """After teardown nothing is left; a second teardown, or one on an empty account, is fine."""
    new_account().teardown()
    account.ensure()
    account.teardown()
    account.teardown()
    assert account.client("lambda").list_functions()["Functions"] == []
    assert account.client("dynamodb").list_tables()["TableNames"] == []
    assert account.client("iot").list_authorizers()["authorizers"] == []
    assert account.client("iam").list_roles()["Roles"] == []
    assert account.client("iam").list_users()["Users"] == []
    assert account.client("ssm").describe_parameters()["Parameters"] == []
    with pytest.raises(CloudError, match="missing"):
        account.load_private_key()
    # And a new setup starts from scratch, with a new key.
    assert SetupStep.KEY_PAIR in account.ensure().changed


def test_progress_fraction() -> None:
    """A progress bar: 0 before the first step, 1 after the last, growing in between."""
    fractions = [
        progress_fraction(step, state)
        for step in SetupStep
        for state in (StepState.RUNNING, StepState.CHANGED)
    ]
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert fractions == sorted(fractions)


def test_reprs_hide_secrets(account: CloudAccount) -> None:
    """Credentials never show up in a repr (and so not in logs or diagnostics)."""
    assert "wJalrXUtnFEMI" not in repr(account.credentials)
    assert "AKIATESTTESTTEST" not in repr(account.credentials)
    assert "wJalrXUtnFEMI" not in repr(account)
