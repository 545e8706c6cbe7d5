"""The setup and run-time policies under IAM enforcement (moto plus tests/cloud/moto_iam.py).

Users and policies are created by the unchecked root first; then every request is signed by
an IAM user's key and judged against its policies, per resource ARN, as AWS does. What moto's
own check cannot judge, and why the shim exists, is in moto_iam.py and docs/aws.md; the last
tests here pin those gaps so a moto upgrade that closes them is noticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.core import set_initial_no_auth_action_count
import pytest

from custom_components.konnected_aws.cloud import (
    AccountIdentity,
    AccountResources,
    AwsCredentials,
    CloudAccount,
    ResourceNames,
    SetupStep,
    StepState,
)
from custom_components.konnected_aws.cloud._boto import denied_action, error_code
from custom_components.konnected_aws.cloud.account import LAMBDA_SOURCE, lambda_package
from custom_components.konnected_aws.cloud.errors import (
    InvalidCredentialsError,
    MissingPermissionError,
)
from custom_components.konnected_aws.cloud.policies import (
    ResourceArns,
    runtime_policy,
    setup_policy,
    statement_actions,
)
from custom_components.konnected_aws.cloud.signing import (
    public_key_of,
    sign_token,
    verify_token_signature,
)

from .conftest import REGION
from .moto_iam import Check, as_root, decide, enforced_iam

ACCOUNT_ID = "123456789012"  # moto's default account
IDENTITY = AccountIdentity(ACCOUNT_ID, "aws", REGION)
NAMES = ResourceNames()
ARNS = ResourceArns(NAMES, IDENTITY)
SETUP_USER = "konnected-aws-setup"
BOARD = "8840f5209948"
BRIDGE = "bridge0123"
DENIED_CODES = ("AccessDenied", "AccessDeniedException")
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def make_user(root: CloudAccount, name: str, policy: dict[str, Any]) -> AwsCredentials:
    """An IAM user with one inline policy and an access key (made by the unchecked root)."""
    iam = root.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return AwsCredentials(key["AccessKeyId"], key["SecretAccessKey"], REGION)


def without(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    """The policy less one statement."""
    kept = [item for item in policy["Statement"] if item["Sid"] != sid]
    assert len(kept) == len(policy["Statement"]) - 1
    return {**policy, "Statement": kept}


def sids(policy: dict[str, Any]) -> list[str]:
    """The statement ids of a policy."""
    return [item["Sid"] for item in policy["Statement"]]


def actions_of(policy: dict[str, Any], sid: str | None = None) -> set[str]:
    """The actions of a policy, or of one of its statements."""
    return {
        action
        for item in policy["Statement"]
        if sid is None or item["Sid"] == sid
        for action in statement_actions(item)
    }


def new_cloud(credentials: AwsCredentials) -> CloudAccount:
    """A CloudAccount that records waits instead of sleeping."""
    return CloudAccount(credentials, sleep=lambda _: None)


@pytest.fixture
def root(account: CloudAccount) -> CloudAccount:
    """The unchecked administrator (moto's root, outside enforcement)."""
    return account


@pytest.fixture
def setup_credentials(root: CloudAccount) -> AwsCredentials:
    """A user with exactly the documented setup policy (as the public API prints it)."""
    policy = root.setup_policy_document(root.identity())
    assert policy == setup_policy(NAMES, IDENTITY)
    return make_user(root, SETUP_USER, policy)


@pytest.fixture
def enforced(root: CloudAccount) -> Iterator[None]:
    """IAM enforcement for the test's body."""
    with enforced_iam():
        yield


@pytest.fixture
def resources(setup_credentials: AwsCredentials, enforced: None) -> AccountResources:
    """The account set up with the setup credentials, under enforcement."""
    return new_cloud(setup_credentials).ensure()


@pytest.fixture
def runtime(resources: AccountResources) -> CloudAccount:
    """What Home Assistant holds: the run-time key only."""
    return new_cloud(resources.runtime_credentials)


def drift_everything(root: CloudAccount, other_source: Path) -> None:
    """An administrator changes every resource by hand (what repairs must undo)."""
    with as_root():
        iam, lambda_client = root.client("iam"), root.client("lambda")
        iam.update_assume_role_policy(
            RoleName=NAMES.role,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        iam.put_user_policy(
            UserName=NAMES.runtime_user,
            PolicyName=NAMES.runtime_policy,
            PolicyDocument=json.dumps(ADMIN),
        )
        dynamodb = root.client("dynamodb")
        dynamodb.delete_table(TableName=NAMES.table)
        dynamodb.create_table(
            TableName=NAMES.table,
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        lambda_client.update_function_code(
            FunctionName=NAMES.function, ZipFile=lambda_package(other_source)[0]
        )
        lambda_client.update_function_configuration(FunctionName=NAMES.function, Timeout=60)
        lambda_client.remove_permission(
            FunctionName=NAMES.function, StatementId=NAMES.invoke_statement
        )
        lambda_client.add_permission(
            FunctionName=NAMES.function,
            StatementId=NAMES.invoke_statement,
            Action="lambda:InvokeFunction",
            Principal="iot.amazonaws.com",
            SourceArn=ARNS.authorizer.replace(NAMES.authorizer, "someone-else"),
        )
        iot = root.client("iot")
        function_arn = iot.describe_authorizer(authorizerName=NAMES.authorizer)[
            "authorizerDescription"
        ]["authorizerFunctionArn"]
        iot.update_authorizer(authorizerName=NAMES.authorizer, status="INACTIVE")
        iot.delete_authorizer(authorizerName=NAMES.authorizer)
        iot.create_authorizer(
            authorizerName=NAMES.authorizer,
            authorizerFunctionArn=function_arn,
            signingDisabled=True,
            status="ACTIVE",
        )


def other_lambda_source(tmp_path: Path) -> Path:
    """Lambda code that differs from the shipped one (an older release, say)."""
    source = tmp_path / "lambda_function.py"
    source.write_text(LAMBDA_SOURCE.read_text() + "\n# an older release\n")
    return source


def iam_actions(calls: list[str]) -> set[str]:
    """The IAM actions AWS checks for these API calls: the call itself, plus iam:PassRole for
    the Lambda calls that hand over a role (recorded as `lambda:CreateFunction+Role`)."""
    return {call.split("+")[0] for call in calls} | (
        {"iam:PassRole"} if any(call.endswith("+Role") for call in calls) else set()
    )


def record_actions(cloud: CloudAccount) -> list[str]:
    """Every API call the account's clients make, as `service:Operation` (+Role if passed)."""
    calls: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        call = f"{model.service_model.service_name}:{model.name}"
        calls.append(call + ("+Role" if "Role" in params else ""))

    cloud._session.events.register("provide-client-params", record)
    return calls


# --- (a) setup: exactly the documented policy --------------------------------------------


def test_setup_policy_is_exactly_enough(
    root: CloudAccount, setup_credentials: AwsCredentials, enforced: None, tmp_path: Path
) -> None:
    """Set up, rotate, repair every drift and remove, all with the setup policy; every action
    it grants is used by one of them (no right too many, none missing)."""
    setup = new_cloud(setup_credentials)
    calls = record_actions(setup)
    progress: list[tuple[SetupStep, StepState]] = []

    first = setup.ensure(lambda step, state: progress.append((step, state)))
    assert StepState.FAILED not in {state for _, state in progress}
    assert set(first.changed) == set(SetupStep) - {SetupStep.ENDPOINT}
    setup.ensure()
    setup.ensure()  # a third run deletes the oldest key

    drift_everything(root, other_lambda_source(tmp_path))
    repaired = setup.ensure()
    assert set(repaired.changed) == set(SetupStep) - {SetupStep.KEY_PAIR, SetupStep.ENDPOINT}
    assert setup.ensure().changed == (SetupStep.RUNTIME_KEY,)

    setup.teardown()
    with as_root():
        assert [user["UserName"] for user in root.client("iam").list_users()["Users"]] == [
            SETUP_USER
        ]
        assert root.client("iam").list_roles()["Roles"] == []
        assert root.client("dynamodb").list_tables()["TableNames"] == []
        assert root.client("lambda").list_functions()["Functions"] == []
        assert root.client("iot").list_authorizers()["authorizers"] == []
        assert root.client("ssm").describe_parameters()["Parameters"] == []

    used = iam_actions(calls) - {"sts:GetCallerIdentity"}  # needs no permission on AWS
    assert used == actions_of(setup_policy(NAMES, IDENTITY))


@pytest.mark.parametrize("sid", sids(setup_policy(NAMES, IDENTITY)))
def test_setup_fails_clearly_without_any_one_statement(
    root: CloudAccount, sid: str
) -> None:
    """Remove one statement: ensure stops with MissingPermissionError naming an action of
    exactly that statement, and reports the step as failed."""
    policy = setup_policy(NAMES, IDENTITY)
    credentials = make_user(root, SETUP_USER, without(policy, sid))
    progress: list[tuple[SetupStep, StepState]] = []
    with enforced_iam(), pytest.raises(MissingPermissionError) as raised:
        new_cloud(credentials).ensure(lambda step, state: progress.append((step, state)))
    assert raised.value.action in actions_of(policy, sid)
    assert raised.value.action in str(raised.value)
    assert SETUP_USER not in str(raised.value)  # the caller's ARN stays out of the UI
    assert progress[-1][1] is StepState.FAILED


def test_setup_user_cannot_act_outside_its_resources(
    setup_credentials: AwsCredentials, enforced: None
) -> None:
    """The setup policy is scoped: another role, user, table or function is out of reach."""
    session = session_of(setup_credentials)
    iam, dynamodb = session.client("iam"), session.client("dynamodb")
    lambda_client, ssm = session.client("lambda"), session.client("ssm")
    attempts: list[tuple[str, Callable[[], Any]]] = [
        (
            "iam:PutRolePolicy",
            lambda: iam.put_role_policy(
                RoleName="someone-elses-role", PolicyName="x", PolicyDocument=json.dumps(ADMIN)
            ),
        ),
        ("iam:CreateAccessKey", lambda: iam.create_access_key(UserName="bob")),
        ("dynamodb:DeleteTable", lambda: dynamodb.delete_table(TableName="orders")),
        (
            "lambda:UpdateFunctionCode",
            lambda: lambda_client.update_function_code(FunctionName="billing", ZipFile=b"x"),
        ),
        (
            "ssm:GetParameter",
            lambda: ssm.get_parameter(Name="/prod/database-password", WithDecryption=True),
        ),
    ]
    for action, attempt in attempts:
        assert_denied(attempt, action)


# --- (b) run time: what Home Assistant does ----------------------------------------------


def test_runtime_key_runs_home_assistant(
    root: CloudAccount, resources: AccountResources, runtime: CloudAccount
) -> None:
    """Identify, read the key, find the endpoint, register/rotate/revoke/delete devices."""
    assert runtime.verify() == ACCOUNT_ID
    private_key = runtime.load_private_key()
    with as_root():
        stored = root.client("ssm").get_parameter(
            Name=NAMES.public_key_parameter
        )["Parameter"]["Value"]
    assert public_key_of(private_key).decode() == stored
    assert runtime.iot_endpoint().endswith(f".iot.{REGION}.amazonaws.com")

    registry = runtime.registry
    board = registry.register(BOARD, "user")
    bridge = registry.register(BRIDGE, "user", kind="bridge")
    signature = sign_token(private_key, board.token)
    assert verify_token_signature(stored.encode(), board.token, signature)
    found = registry.find_by_token(bridge.token)
    assert found is not None and found.device_id == BRIDGE
    rotated = registry.rotate_token(BOARD)
    assert registry.find_by_token(board.token) is None
    registry.revoke(BOARD)
    record = registry.get(BOARD)
    assert record is not None and (record.status, record.token) == ("revoked", rotated.token)
    registry.delete(BOARD)
    assert registry.get(BOARD) is None


def runtime_operations(runtime: CloudAccount) -> None:
    """Everything Home Assistant does with its key, in order."""
    runtime.verify()
    runtime.load_private_key()
    runtime.iot_endpoint()
    credentials = runtime.registry.register(BOARD, "user")
    runtime.registry.find_by_token(credentials.token)
    runtime.registry.rotate_token(BOARD)
    runtime.registry.revoke(BOARD)
    runtime.registry.delete(BOARD)


NEEDED_AT_RUN_TIME = [sid for sid in sids(runtime_policy(NAMES, IDENTITY)) if sid != "WhoAmI"]


@pytest.mark.parametrize("sid", NEEDED_AT_RUN_TIME)
def test_each_runtime_statement_is_needed(
    root: CloudAccount, resources: AccountResources, runtime: CloudAccount, sid: str
) -> None:
    """Without any one statement, running fails on an action of that statement."""
    policy = runtime_policy(NAMES, IDENTITY)
    with as_root():
        root.client("iam").put_user_policy(
            UserName=NAMES.runtime_user,
            PolicyName=NAMES.runtime_policy,
            PolicyDocument=json.dumps(without(policy, sid)),
        )
    with pytest.raises(MissingPermissionError) as raised:
        runtime_operations(runtime)
    assert raised.value.action in actions_of(policy, sid)


def test_caller_identity_needs_no_permission(
    root: CloudAccount, resources: AccountResources, runtime: CloudAccount
) -> None:
    """`WhoAmI` only documents the call: AWS answers GetCallerIdentity even under an explicit
    Deny (STS API reference), and so does the emulation."""
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
    }
    with as_root():
        root.client("iam").put_user_policy(
            UserName=NAMES.runtime_user, PolicyName="deny", PolicyDocument=json.dumps(deny)
        )
    assert runtime.verify() == ACCOUNT_ID


# --- (c) run time: every escalation denied -----------------------------------------------


def session_of(credentials: AwsCredentials) -> boto3.session.Session:
    """A plain boto3 session with the key (to try what the layer never calls)."""
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=credentials.region,
    )


def assert_denied(attempt: Callable[[], Any], action: str) -> None:
    """AWS refused the call for lack of `action` (not for any other reason)."""
    with pytest.raises(ClientError) as raised:
        attempt()
    assert error_code(raised.value) in DENIED_CODES, raised.value
    assert denied_action(raised.value) == action


@dataclass(frozen=True, slots=True)
class Escalation:
    """Something a thief of Home Assistant's key would try."""

    action: str
    attempt: Callable[[boto3.session.Session], Any]


ZIP = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
ESCALATIONS: dict[str, Escalation] = {
    "admin_policy_on_authorizer_role": Escalation(
        "iam:PutRolePolicy",
        lambda s: s.client("iam").put_role_policy(
            RoleName=NAMES.role, PolicyName="admin", PolicyDocument=json.dumps(ADMIN)
        ),
    ),
    "trust_any_account": Escalation(
        "iam:UpdateAssumeRolePolicy",
        lambda s: s.client("iam").update_assume_role_policy(
            RoleName=NAMES.role,
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
        ),
    ),
    "attach_admin_to_role": Escalation(
        "iam:AttachRolePolicy",
        lambda s: s.client("iam").attach_role_policy(
            RoleName=NAMES.role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
    ),
    "admin_policy_on_itself": Escalation(
        "iam:PutUserPolicy",
        lambda s: s.client("iam").put_user_policy(
            UserName=NAMES.runtime_user, PolicyName="admin", PolicyDocument=json.dumps(ADMIN)
        ),
    ),
    "attach_admin_to_itself": Escalation(
        "iam:AttachUserPolicy",
        lambda s: s.client("iam").attach_user_policy(
            UserName=NAMES.runtime_user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
    ),
    "second_key_for_itself": Escalation(
        "iam:CreateAccessKey", lambda s: s.client("iam").create_access_key()
    ),
    "key_for_the_setup_user": Escalation(
        "iam:CreateAccessKey", lambda s: s.client("iam").create_access_key(UserName=SETUP_USER)
    ),
    "new_user": Escalation("iam:CreateUser", lambda s: s.client("iam").create_user(UserName="x")),
    "new_role": Escalation(
        "iam:CreateRole",
        lambda s: s.client("iam").create_role(
            RoleName="x", AssumeRolePolicyDocument=json.dumps(ADMIN)
        ),
    ),
    "assume_the_authorizer_role": Escalation(
        "sts:AssumeRole",
        lambda s: s.client("sts").assume_role(RoleArn=ARNS.role, RoleSessionName="thief"),
    ),
    "replace_the_authorizer_code": Escalation(
        "lambda:UpdateFunctionCode",
        lambda s: s.client("lambda").update_function_code(
            FunctionName=NAMES.function, ZipFile=ZIP
        ),
    ),
    "reconfigure_the_authorizer_function": Escalation(
        "lambda:UpdateFunctionConfiguration",
        lambda s: s.client("lambda").update_function_configuration(
            FunctionName=NAMES.function, Environment={"Variables": {"DEVICE_TABLE": "mine"}}
        ),
    ),
    "let_anyone_invoke_the_function": Escalation(
        "lambda:AddPermission",
        lambda s: s.client("lambda").add_permission(
            FunctionName=NAMES.function,
            StatementId="x",
            Action="lambda:InvokeFunction",
            Principal="*",
        ),
    ),
    "new_function_with_the_role": Escalation(
        "lambda:CreateFunction",
        lambda s: s.client("lambda").create_function(
            FunctionName="x",
            Runtime="python3.13",
            Role=ARNS.role,
            Handler="x.y",
            Code={"ZipFile": ZIP},
        ),
    ),
    "swap_the_authorizer_keys": Escalation(
        "iot:UpdateAuthorizer",
        lambda s: s.client("iot").update_authorizer(
            authorizerName=NAMES.authorizer, tokenSigningPublicKeys={"mine": "x"}
        ),
    ),
    "new_authorizer": Escalation(
        "iot:CreateAuthorizer",
        lambda s: s.client("iot").create_authorizer(
            authorizerName="x", authorizerFunctionArn=ARNS.function, signingDisabled=True
        ),
    ),
    "delete_the_authorizer": Escalation(
        "iot:DeleteAuthorizer",
        lambda s: s.client("iot").delete_authorizer(authorizerName=NAMES.authorizer),
    ),
    "overwrite_the_private_key": Escalation(
        "ssm:PutParameter",
        lambda s: s.client("ssm").put_parameter(
            Name=NAMES.private_key_parameter, Value="x", Type="SecureString", Overwrite=True
        ),
    ),
    "overwrite_the_public_key": Escalation(
        "ssm:PutParameter",
        lambda s: s.client("ssm").put_parameter(
            Name=NAMES.public_key_parameter, Value="x", Type="String", Overwrite=True
        ),
    ),
    "delete_the_private_key": Escalation(
        "ssm:DeleteParameter",
        lambda s: s.client("ssm").delete_parameter(Name=NAMES.private_key_parameter),
    ),
    "read_another_secret": Escalation(
        "ssm:GetParameter",
        lambda s: s.client("ssm").get_parameter(
            Name="/prod/database-password", WithDecryption=True
        ),
    ),
    "delete_the_device_table": Escalation(
        "dynamodb:DeleteTable", lambda s: s.client("dynamodb").delete_table(TableName=NAMES.table)
    ),
    "change_the_device_table": Escalation(
        "dynamodb:UpdateTable",
        lambda s: s.client("dynamodb").update_table(
            TableName=NAMES.table,
            BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        ),
    ),
    "dump_every_token": Escalation(
        "dynamodb:Scan", lambda s: s.client("dynamodb").scan(TableName=NAMES.table)
    ),
    "read_another_table": Escalation(
        "dynamodb:GetItem",
        lambda s: s.client("dynamodb").get_item(TableName="orders", Key={"id": {"S": "1"}}),
    ),
    "write_another_table": Escalation(
        "dynamodb:PutItem",
        lambda s: s.client("dynamodb").put_item(TableName="orders", Item={"id": {"S": "1"}}),
    ),
}


@pytest.mark.parametrize("name", ESCALATIONS)
def test_runtime_key_is_denied_every_escalation(
    root: CloudAccount, resources: AccountResources, name: str
) -> None:
    """IAM writes, Lambda code and configuration, the authorizer, the signing key, the table
    itself and anything outside the two resources: all refused, for lack of the right."""
    escalation = ESCALATIONS[name]
    session = session_of(resources.runtime_credentials)
    with as_root():
        key_before = root.client("ssm").get_parameter(
            Name=NAMES.private_key_parameter, WithDecryption=True
        )["Parameter"]
    assert_denied(lambda: escalation.attempt(session), escalation.action)
    with as_root():
        key_after = root.client("ssm").get_parameter(
            Name=NAMES.private_key_parameter, WithDecryption=True
        )["Parameter"]
        assert root.client("iam").list_attached_user_policies(UserName=NAMES.runtime_user)[
            "AttachedPolicies"
        ] == []
    assert (key_after["Value"], key_after["Version"]) == (
        key_before["Value"],
        key_before["Version"],
    )


def test_runtime_key_cannot_set_up(resources: AccountResources) -> None:
    """ensure and teardown with the stored key stop at their first write."""
    runtime = new_cloud(resources.runtime_credentials)
    progress: list[tuple[SetupStep, StepState]] = []
    with pytest.raises(MissingPermissionError) as raised:
        runtime.ensure(lambda step, state: progress.append((step, state)))
    # It may read the private key, not the public one: the first step already stops.
    assert raised.value.action == "ssm:GetParameter"
    assert progress == [
        (SetupStep.KEY_PAIR, StepState.RUNNING),
        (SetupStep.KEY_PAIR, StepState.FAILED),
    ]
    with pytest.raises(MissingPermissionError) as raised:
        runtime.teardown()
    assert raised.value.action == "iam:ListAccessKeys"


# --- the emulation itself ----------------------------------------------------------------


@pytest.mark.parametrize("service", ["iam", "ssm", "dynamodb", "lambda", "iot"])
def test_wrong_secret_is_refused_by_every_service(
    resources: AccountResources, service: str
) -> None:
    """The signature is still checked (also for GET/DELETE without a body)."""
    wrong = AwsCredentials(resources.runtime_credentials.access_key_id, "x" * 40, REGION)
    calls: dict[str, Callable[[CloudAccount], Any]] = {
        "iam": lambda cloud: cloud.client("iam").get_user(),
        "ssm": lambda cloud: cloud.load_private_key(),
        "dynamodb": lambda cloud: cloud.registry.get(BOARD),
        "lambda": lambda cloud: cloud.client("lambda").get_function(FunctionName=NAMES.function),
        "iot": lambda cloud: cloud.iot_endpoint(),
    }
    cloud = new_cloud(wrong)
    if service in ("iam", "lambda"):
        with pytest.raises(ClientError) as raised:
            calls[service](cloud)
        assert error_code(raised.value) in ("SignatureDoesNotMatch", "InvalidSignatureException")
    else:
        with pytest.raises(InvalidCredentialsError):
            calls[service](cloud)


def test_unknown_key_is_refused(enforced: None) -> None:
    """A key IAM does not know (deleted, or never made) is refused."""
    with pytest.raises(InvalidCredentialsError):
        new_cloud(AwsCredentials("AKIAUNKNOWNUNKNOWN00", "x" * 40, REGION)).load_private_key()


def test_rotated_out_key_stops_working(
    setup_credentials: AwsCredentials, resources: AccountResources
) -> None:
    """Two runs later the first key is deleted, and AWS refuses it."""
    setup = new_cloud(setup_credentials)
    setup.ensure()
    setup.ensure()
    with pytest.raises(InvalidCredentialsError):
        new_cloud(resources.runtime_credentials).load_private_key()


def test_policy_evaluation_matches_iam() -> None:
    """Explicit Deny wins; a condition whose key is missing is not met; resources must match."""
    allow = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": ARNS.role,
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            },
            {"Effect": "Allow", "Action": "ssm:Get*", "Resource": ARNS.private_key},
        ]
    }
    lambda_context = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert decide([allow], Check("iam:PassRole", ARNS.role, lambda_context)) is None
    assert decide([allow], Check("iam:PassRole", ARNS.role, {})) is not None
    assert decide(
        [allow], Check("iam:PassRole", ARNS.role, {"iam:PassedToService": "ec2.amazonaws.com"})
    ) is not None
    assert decide([allow], Check("ssm:GetParameter", ARNS.private_key, {})) is None
    assert decide([allow], Check("SSM:getparameter", ARNS.private_key, {})) is None
    assert decide([allow], Check("ssm:GetParameter", ARNS.public_key, {})) is not None
    deny = {"Statement": [{"Effect": "Deny", "Action": "ssm:*", "Resource": "*"}]}
    denied = decide([allow, deny], Check("ssm:GetParameter", ARNS.private_key, {}))
    assert denied is not None and "explicit deny" in denied


@set_initial_no_auth_action_count(3)
def test_moto_alone_cannot_judge_these_policies(root: CloudAccount) -> None:
    """Why moto_iam.py exists (moto 5.2.5): its own check tests every non-IAM action against
    resource `*`, so an ARN-scoped Allow never allows, and it cannot verify the signature of a
    Lambda or IoT request without a body. If this fails, moto improved: revisit the shim."""
    credentials = make_user(root, "scoped", runtime_policy(NAMES, IDENTITY))  # 3 requests
    session = session_of(credentials)
    with pytest.raises(ClientError) as scoped:
        session.client("ssm").get_parameter(Name=NAMES.private_key_parameter)
    assert error_code(scoped.value) == "403"  # an XML AccessDenied the JSON parser cannot read
    with pytest.raises(ClientError) as unsigned:
        session.client("iot").describe_endpoint(endpointType="iot:Data-ATS")
    assert "SignatureDoesNotMatch" in str(unsigned.value)
