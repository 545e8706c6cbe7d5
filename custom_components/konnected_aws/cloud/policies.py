"""Names, ARNs and IAM policy documents: the one source of truth for who may touch what.

Three identities act on the resources `CloudAccount.ensure` creates:
- the SETUP credentials (entered for setup, repair or removal only, never stored): create and
  repair everything, including the run-time identity below (`setup_policy`);
- the RUN-TIME identity, an IAM user whose access key Home Assistant stores: read the
  authorizer's private key, read and write device items, find the IoT endpoint
  (`runtime_policy`) - nothing in IAM, Lambda or the IoT authorizer, so a leaked Home
  Assistant backup is worth the devices' items, not the AWS account;
- the authorizer Lambda's role (`authorizer_role_policy`): look tokens up, write its logs.

docs/aws.md prints `setup_policy` and `runtime_policy` for `PLACEHOLDER_IDENTITY` and
`authorizer/template.yaml` carries `runtime_policy` and `authorizer_role_policy`; the tests
compare both with these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

TOKEN_INDEX: Final = "token-index"
LAMBDA_SERVICE: Final = "lambda.amazonaws.com"
POLICY_VERSION: Final = "2012-10-17"

type PolicyDocument = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """Names of everything `ensure` creates (the defaults match docs/aws.md and template.yaml)."""

    table: str = "konnected-aws-devices"
    private_key_parameter: str = "/konnected-aws/authorizer/private-key"
    public_key_parameter: str = "/konnected-aws/authorizer/public-key"
    role: str = "konnected-aws-authorizer"
    role_policy: str = "konnected-aws-authorizer"
    function: str = "konnected-aws-authorizer"
    authorizer: str = "konnected-aws"
    signing_key: str = "konnected-aws-key"
    invoke_statement: str = "konnected-aws-iot-invoke"
    runtime_user: str = "konnected-aws-home-assistant"
    runtime_policy: str = "konnected-aws-home-assistant"


@dataclass(frozen=True, slots=True)
class AccountIdentity:
    """An account, partition and region: what every ARN is built from."""

    account_id: str
    partition: str
    region: str

    def arn(self, service: str, resource: str) -> str:
        """Return a regional ARN in this account (`arn:aws:ssm:eu-west-1:123456789012:parameter/x`)."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    def iam_arn(self, resource: str) -> str:
        """Return an IAM ARN (IAM is global: no region)."""
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"


# What docs/aws.md and the CloudFormation test print instead of a real account and region.
PLACEHOLDER_IDENTITY: Final = AccountIdentity("ACCOUNT", "aws", "REGION")


@dataclass(frozen=True, slots=True)
class ResourceArns:
    """The ARN of each resource, for one account and region."""

    names: ResourceNames
    identity: AccountIdentity

    def parameter(self, name: str) -> str:
        """SSM drops the name's leading slash in the ARN (`parameter/konnected-aws/...`)."""
        return self.identity.arn("ssm", f"parameter/{name.lstrip('/')}")

    @property
    def private_key(self) -> str:
        """The SecureString holding the authorizer's private key."""
        return self.parameter(self.names.private_key_parameter)

    @property
    def public_key(self) -> str:
        """The String holding its public key."""
        return self.parameter(self.names.public_key_parameter)

    @property
    def table(self) -> str:
        """The device table."""
        return self.identity.arn("dynamodb", f"table/{self.names.table}")

    @property
    def token_index(self) -> str:
        """Its token index (Query on an index is authorized on the index's ARN)."""
        return f"{self.table}/index/{TOKEN_INDEX}"

    @property
    def role(self) -> str:
        """The authorizer Lambda's role."""
        return self.identity.iam_arn(f"role/{self.names.role}")

    @property
    def runtime_user(self) -> str:
        """Home Assistant's run-time IAM user."""
        return self.identity.iam_arn(f"user/{self.names.runtime_user}")

    @property
    def function(self) -> str:
        """The authorizer Lambda."""
        return self.identity.arn("lambda", f"function:{self.names.function}")

    @property
    def authorizer(self) -> str:
        """The IoT custom authorizer."""
        return self.identity.arn("iot", f"authorizer/{self.names.authorizer}")

    @property
    def log_group(self) -> str:
        """The Lambda's CloudWatch log group (created by Lambda on first run)."""
        return self.identity.arn("logs", f"log-group:/aws/lambda/{self.names.function}")


def statement(
    sid: str | None,
    actions: list[str],
    resources: str | list[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return an Allow statement; a single action or resource is written as a string, as AWS shows it."""
    item: dict[str, Any] = {"Sid": sid} if sid else {}
    item["Effect"] = "Allow"
    item["Action"] = actions[0] if len(actions) == 1 else actions
    single = isinstance(resources, list) and len(resources) == 1
    item["Resource"] = resources[0] if single else resources
    if condition:
        item["Condition"] = condition
    return item


def document(*statements: dict[str, Any]) -> PolicyDocument:
    """Return a policy document of these statements."""
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def statement_actions(item: dict[str, Any]) -> list[str]:
    """Return a statement's actions as a list."""
    actions = item["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def authorizer_trust_policy() -> PolicyDocument:
    """Only Lambda may assume the authorizer's role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": LAMBDA_SERVICE},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def authorizer_role_policy(names: ResourceNames, identity: AccountIdentity) -> PolicyDocument:
    """Return the Lambda's policy: read this table's items by token and write its own logs; nothing else."""
    arns = ResourceArns(names, identity)
    return document(
        statement(None, ["dynamodb:Query"], arns.token_index),
        statement(None, ["dynamodb:GetItem"], arns.table),
        statement(
            None,
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [arns.log_group, f"{arns.log_group}:*"],
        ),
    )


def runtime_policy(names: ResourceNames, identity: AccountIdentity) -> PolicyDocument:
    """Return what the key Home Assistant stores may do: exactly what running needs.

    Reading the private key signs tokens; the item actions register, rotate, revoke and delete
    devices; DescribeEndpoint finds the MQTT endpoint. `sts:GetCallerIdentity` needs no
    permission at all (AWS STS API reference, GetCallerIdentity); it is listed so the document
    names every call Home Assistant makes.
    """
    arns = ResourceArns(names, identity)
    return document(
        statement("ReadAuthorizerPrivateKey", ["ssm:GetParameter"], arns.private_key),
        statement(
            "DeviceItems",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            arns.table,
        ),
        statement("DeviceTokenLookup", ["dynamodb:Query"], arns.token_index),
        statement("IotEndpoint", ["iot:DescribeEndpoint"], "*"),
        statement("WhoAmI", ["sts:GetCallerIdentity"], "*"),
    )


def setup_policy(names: ResourceNames, identity: AccountIdentity) -> PolicyDocument:
    """Return what the setup credentials need for `ensure` and `teardown`; every statement is used.

    These credentials can write the IAM policies of the authorizer's role and of the run-time
    user, so they are as strong as an administrator of these two identities: they are entered
    for one setup, repair or removal and never stored. `iam:PassRole` is limited to handing the
    authorizer's role to Lambda. No statement for `sts:GetCallerIdentity`: AWS allows it to
    every caller.
    """
    arns = ResourceArns(names, identity)
    return document(
        statement(
            "AuthorizerKeyPair",
            ["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
            [arns.private_key, arns.public_key],
        ),
        statement(
            "DeviceTable",
            [
                "dynamodb:DescribeTable",
                "dynamodb:CreateTable",
                "dynamodb:UpdateTable",
                "dynamodb:DeleteTable",
            ],
            arns.table,
        ),
        statement(
            "AuthorizerRole",
            [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:GetRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
            ],
            arns.role,
        ),
        statement(
            "PassAuthorizerRoleToLambda",
            ["iam:PassRole"],
            arns.role,
            {"StringEquals": {"iam:PassedToService": LAMBDA_SERVICE}},
        ),
        statement(
            "RuntimeUser",
            [
                "iam:GetUser",
                "iam:CreateUser",
                "iam:DeleteUser",
                "iam:GetUserPolicy",
                "iam:PutUserPolicy",
                "iam:DeleteUserPolicy",
                "iam:ListAccessKeys",
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
            ],
            arns.runtime_user,
        ),
        statement(
            "AuthorizerFunction",
            [
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
                "lambda:GetPolicy",
                "lambda:AddPermission",
                "lambda:RemovePermission",
            ],
            arns.function,
        ),
        statement(
            "Authorizer",
            [
                "iot:DescribeAuthorizer",
                "iot:CreateAuthorizer",
                "iot:UpdateAuthorizer",
                "iot:DeleteAuthorizer",
            ],
            arns.authorizer,
        ),
        statement("IotEndpoint", ["iot:DescribeEndpoint"], "*"),
    )
