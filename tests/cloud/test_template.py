"""The CloudFormation template: valid for cfn-lint, and the same resources as `ensure`."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
from typing import Any

from cfnlint.decode import decode_str

from custom_components.konnected_aws.cloud import (
    ResourceNames,
    account as account_module,
)
from custom_components.konnected_aws.cloud.policies import (
    PLACEHOLDER_IDENTITY,
    ResourceArns,
    authorizer_role_policy,
    authorizer_trust_policy,
    runtime_policy,
)

TEMPLATE = (
    Path(__file__).parents[2]
    / "custom_components"
    / "konnected_aws"
    / "authorizer"
    / "template.yaml"
)


def template() -> dict[str, Any]:
    """The template, decoded as cfn-lint reads it (`!Ref X` → `{"Ref": "X"}`)."""
    decoded, problems = decode_str(TEMPLATE.read_text())
    assert not problems
    assert decoded is not None
    return dict(decoded)


def resources() -> dict[str, Any]:
    """The template's resources."""
    found: dict[str, Any] = template()["Resources"]
    return found


# What the intrinsic functions of the template's policies stand for, in the placeholder account
# docs/aws.md uses (cloud/policies.py PLACEHOLDER_IDENTITY).
ARNS = ResourceArns(ResourceNames(), PLACEHOLDER_IDENTITY)
SUBSTITUTIONS = {
    "${AWS::Partition}": PLACEHOLDER_IDENTITY.partition,
    "${AWS::Region}": PLACEHOLDER_IDENTITY.region,
    "${AWS::AccountId}": PLACEHOLDER_IDENTITY.account_id,
    "${DeviceTable.Arn}": ARNS.table,
}


def resolved(value: Any) -> Any:
    """A policy document with `Fn::Sub` and `Fn::GetAtt DeviceTable.Arn` worked out."""
    if isinstance(value, list):
        return [resolved(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            text = str(value["Fn::Sub"])
            for variable, replacement in SUBSTITUTIONS.items():
                text = text.replace(variable, replacement)
            assert "${" not in text, text
            return text
        if value == {"Fn::GetAtt": ["DeviceTable", "Arn"]}:
            return ARNS.table
        assert not any(key.startswith("Fn::") or key == "Ref" for key in value), value
        return {key: resolved(item) for key, item in value.items()}
    return value


def test_runtime_user_has_exactly_the_runtime_policy() -> None:
    """The user the stack makes for Home Assistant: the code's run-time policy, nothing more,
    and its key in the outputs for the user to paste into Home Assistant."""
    names = ResourceNames()
    found = resources()
    user = found["RuntimeUser"]["Properties"]
    assert user["UserName"] == names.runtime_user
    assert set(user) == {"UserName", "Policies"}  # no managed policies, groups or boundary
    [policy] = user["Policies"]
    assert policy["PolicyName"] == names.runtime_policy
    assert resolved(policy["PolicyDocument"]) == runtime_policy(names, PLACEHOLDER_IDENTITY)
    key = found["RuntimeAccessKey"]
    assert key["Type"] == "AWS::IAM::AccessKey"
    assert key["Properties"]["UserName"] == {"Ref": "RuntimeUser"}
    outputs = template()["Outputs"]
    assert outputs["RuntimeAccessKeyId"]["Value"] == {"Ref": "RuntimeAccessKey"}
    assert outputs["RuntimeSecretAccessKey"]["Value"] == {
        "Fn::GetAtt": ["RuntimeAccessKey", "SecretAccessKey"]
    }
    iam_resources = [kind for kind in (item["Type"] for item in found.values()) if "IAM" in kind]
    assert sorted(iam_resources) == ["AWS::IAM::AccessKey", "AWS::IAM::Role", "AWS::IAM::User"]


def test_cloudformation_template_lints() -> None:
    """cfn-lint (the real binary, not skipped) accepts the template."""
    cfn_lint = shutil.which("cfn-lint")
    assert cfn_lint is not None, "cfn-lint is in requirements_test.txt"
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_matches_what_ensure_creates() -> None:
    """Same names and settings, so the integration finds a stack-made setup in place."""
    names = ResourceNames()
    found = resources()
    table = found["DeviceTable"]["Properties"]
    assert table["TableName"] == names.table
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "token-index"
    role = found["AuthorizerRole"]["Properties"]
    assert role["RoleName"] == names.role
    [policy] = role["Policies"]
    assert policy["PolicyName"] == names.role_policy
    assert resolved(policy["PolicyDocument"]) == authorizer_role_policy(
        names, PLACEHOLDER_IDENTITY
    )
    assert role["AssumeRolePolicyDocument"] == authorizer_trust_policy()
    function = found["AuthorizerFunction"]["Properties"]
    assert function["FunctionName"] == names.function
    assert function["Runtime"] == account_module.LAMBDA_RUNTIME
    assert function["Handler"] == account_module.LAMBDA_HANDLER
    assert function["Timeout"] == account_module.LAMBDA_TIMEOUT_SECONDS
    assert function["MemorySize"] == account_module.LAMBDA_MEMORY_MB
    assert function["Environment"]["Variables"] == {"DEVICE_TABLE": {"Ref": "DeviceTable"}}
    authorizer = found["Authorizer"]["Properties"]
    assert authorizer["AuthorizerName"] == names.authorizer
    assert authorizer["TokenKeyName"] == account_module.TOKEN_KEY_NAME
    assert authorizer["SigningDisabled"] is False
    assert authorizer["Status"] == "ACTIVE"
    assert list(authorizer["TokenSigningPublicKeys"]) == [names.signing_key]
    permission = found["InvokePermission"]["Properties"]
    assert permission["Principal"] == account_module.IOT_PRINCIPAL
    assert found["PublicKeyParameter"]["Properties"]["Name"] == names.public_key_parameter
