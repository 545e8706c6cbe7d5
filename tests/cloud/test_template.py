"""The CloudFormation template: valid for cfn-lint, and the same resources as `ensure`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

from custom_components.konnected_aws.cloud import ResourceNames
from custom_components.konnected_aws.cloud import account as account_module

TEMPLATE = (
    Path(__file__).parents[2]
    / "custom_components"
    / "konnected_aws"
    / "authorizer"
    / "template.yaml"
)


def resources() -> dict[str, Any]:
    """The template's resources, decoded as cfn-lint reads them (`!Ref X` → `{"Ref": "X"}`)."""
    template, problems = decode_str(TEMPLATE.read_text())
    assert not problems
    assert template is not None
    found: dict[str, Any] = template["Resources"]
    return found


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
    actions = sorted(
        action
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    )
    assert actions == sorted(
        [
            "dynamodb:Query",
            "dynamodb:GetItem",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ]
    )
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
