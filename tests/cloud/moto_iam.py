"""IAM enforcement for moto that refuses what AWS refuses, for the services the layer uses.

moto 5.2.5 has an IAM access check (`set_initial_no_auth_action_count`,
`moto/core/authorization.py`), but measured against what AWS does it is too weak and, for two
services, broken (`moto/iam/access_control.py`, `moto/core/responses.py:434`):

1. Resources are ignored: every action outside IAM/STS/SQS is checked against resource `*`,
   so a statement scoped to an ARN never allows anything, and an ARN-scoped policy cannot be
   tested at all; IAM itself only resolves a role ARN when the role already exists
   (`moto/iam/responses.py:48`), not a user's.
2. Signatures of requests without a body are recomputed over the request's parsed headers
   instead of the empty payload (`_create_aws_request`: `data=self._body or self._data`), so
   every GET/DELETE to Lambda and IoT fails with SignatureDoesNotMatch, whatever the policy.
3. Denials are XML (`AccessDeniedError`) even for the JSON protocols of DynamoDB, SSM, Lambda
   and IoT, where botocore then sees the error code `403` instead of `AccessDeniedException`.
4. `iam:PassRole` is never checked (Lambda's CreateFunction passes a role), and a condition
   whose key is absent from the request counts as met (`moto/iam/policy_conditions.py`).

`enforced_iam()` replaces moto's check, for the duration of the context, with one that
(after the same signature check, fixed for empty bodies) evaluates the caller's identity
policies against the ARN AWS authorizes for each operation (AWS Service Authorization
Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/), including
`iam:PassRole` with `iam:PassedToService` for Lambda, and answers denials in each service's
protocol with AWS's message ("User: ARN is not authorized to perform: ACTION on resource:
ARN because no identity-based policy allows the ACTION action"). Evaluation is the IAM logic
for one account: an explicit Deny wins, else an Allow whose Action, Resource and Condition
match, else denied
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
Condition operators other than StringEquals/StringLike/ArnEquals/ArnLike raise, rather than
being silently ignored. Resource-based policies, SCPs, permission boundaries and session
policies are not modelled: the layer uses none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
import json
import re
from typing import Any
from unittest import mock
from urllib.parse import unquote, urlparse

from botocore.awsrequest import AWSRequest
from moto import settings
from moto.core.authorization import (
    ActionAuthenticatorMixin,
    disable_iam_authentication,
    enable_iam_authentication,
)
from moto.core.exceptions import (
    AccessDeniedError,
    JsonRESTError,
    _RESTError as RESTError,
)
from moto.iam.access_control import IAMPolicy, IAMRequest

# botocore service name (the signing name in the credential scope) -> wire protocol family.
JSON_PROTOCOL_SERVICES = frozenset({"dynamodb", "ssm", "lambda", "iot"})
BODILESS_METHODS = frozenset({"GET", "DELETE", "HEAD"})
# Operations AWS authorizes on `*` (no resource-level permissions).
UNSCOPED = frozenset(
    {
        "iot:DescribeEndpoint",
        "iot:ListAuthorizers",
        "dynamodb:ListTables",
        "ssm:DescribeParameters",
        "lambda:ListFunctions",
        "iam:ListUsers",
        "iam:ListRoles",
        "iam:ListPolicies",
        "iam:CreatePolicy",
        "sts:GetCallerIdentity",
    }
)
# Lambda operations that hand a role to the function: AWS also checks iam:PassRole on it.
PASSES_ROLE = frozenset({"CreateFunction", "UpdateFunctionConfiguration"})
# IAM user operations that default to the calling user when UserName is left out.
CALLER_DEFAULT = frozenset(
    {"CreateAccessKey", "ListAccessKeys", "DeleteAccessKey", "UpdateAccessKey", "GetUser"}
)


@dataclass(frozen=True, slots=True)
class Check:
    """One authorization AWS makes for a request."""

    action: str
    resource: str
    context: dict[str, str]


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_met(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, pairs in condition.items():
        if operator not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
            raise NotImplementedError(f"Condition operator {operator} is not modelled")
        for key, expected in pairs.items():
            actual = context.get(key)
            if actual is None:  # a missing key never satisfies a condition
                return False
            like = operator.endswith("Like")
            if not any(
                _wildcard(str(value), ignore_case=False).fullmatch(actual)
                if like
                else str(value) == actual
                for value in _as_list(expected)
            ):
                return False
    return True


def _statement_applies(statement: dict[str, Any], check: Check) -> bool:
    if "Action" in statement:
        actions = _as_list(statement["Action"])
        action_matches = any(
            _wildcard(pattern, ignore_case=True).fullmatch(check.action) for pattern in actions
        )
    else:
        not_actions = _as_list(statement["NotAction"])
        action_matches = not any(
            _wildcard(pattern, ignore_case=True).fullmatch(check.action)
            for pattern in not_actions
        )
    if not action_matches:
        return False
    if "Resource" in statement:
        resources = _as_list(statement["Resource"])
        if not any(
            _wildcard(pattern, ignore_case=False).fullmatch(check.resource)
            for pattern in resources
        ):
            return False
    elif "NotResource" in statement:
        raise NotImplementedError("NotResource is not modelled")
    return _condition_met(statement.get("Condition", {}), check.context)


def decide(documents: list[dict[str, Any]], check: Check) -> str | None:
    """None when allowed, else why not (`no identity-based policy allows` / explicit deny)."""
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            if not _statement_applies(statement, check):
                continue
            if statement.get("Effect") == "Deny":
                return "with an explicit deny in an identity-based policy"
            allowed = True
    return None if allowed else f"because no identity-based policy allows the {check.action} action"


def _params(response: Any, service: str) -> dict[str, Any]:
    """The request's parameters, whatever the protocol (query form, JSON body, URI)."""
    params: dict[str, Any] = {}
    if service in ("iam", "sts"):
        params.update({key: values[0] for key, values in response.querystring.items()})
        return params
    body = response.body
    if isinstance(body, bytes):
        body = body.decode()
    if isinstance(body, str) and body.strip().startswith("{"):
        params.update(json.loads(body))
    elif isinstance(body, dict):
        params.update(body)
    uri_params = getattr(response, "uri_match", None) or {}
    params.update({key: unquote(str(value)) for key, value in uri_params.items()})
    return params


def _iam_resource(operation: str, params: dict[str, Any], caller_arn: str, arn: Any) -> str:
    if "RoleName" in params:
        return str(arn.iam(f"role/{params['RoleName']}"))
    if "UserName" in params:
        return str(arn.iam(f"user/{params['UserName']}"))
    if operation in CALLER_DEFAULT:
        return caller_arn
    if "PolicyArn" in params:
        return str(params["PolicyArn"])
    return "*"


@dataclass(frozen=True, slots=True)
class _Arn:
    partition: str
    region: str
    account: str

    def regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def iam(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:{resource}"


def _resource(service: str, operation: str, params: dict[str, Any], caller: str, arn: _Arn) -> str:
    """The ARN AWS authorizes the operation on (Service Authorization Reference)."""
    if f"{service}:{operation}" in UNSCOPED:
        return "*"
    if service == "sts" and "RoleArn" in params:
        return str(params["RoleArn"])
    if service == "iam":
        return _iam_resource(operation, params, caller, arn)
    if service == "ssm" and "Name" in params:
        return arn.regional("ssm", f"parameter/{str(params['Name']).lstrip('/')}")
    if service == "dynamodb" and "TableName" in params:
        table = arn.regional("dynamodb", f"table/{params['TableName']}")
        index = params.get("IndexName")
        return f"{table}/index/{index}" if index and operation in ("Query", "Scan") else table
    if service == "lambda" and "FunctionName" in params:
        name = str(params["FunctionName"])
        return name if name.startswith("arn:") else arn.regional("lambda", f"function:{name}")
    if service == "iot" and "authorizerName" in params:
        return arn.regional("iot", f"authorizer/{params['authorizerName']}")
    raise NotImplementedError(f"No resource modelled for {service}:{operation}")


def checks_for(response: Any, service: str, caller: str) -> list[Check]:
    """Every authorization AWS makes for this request."""
    operation = response._get_action()
    params = _params(response, service)
    arn = _Arn("aws", response.region, response.current_account)
    checks = [
        Check(f"{service}:{operation}", _resource(service, operation, params, caller, arn), {})
    ]
    if service == "lambda" and operation in PASSES_ROLE and params.get("Role"):
        checks.append(
            Check(
                "iam:PassRole",
                str(params["Role"]),
                {"iam:PassedToService": "lambda.amazonaws.com"},
            )
        )
    return checks


class _SignedRequest(IAMRequest):
    """moto's request check, with the signature computed over the payload actually sent."""

    def _create_aws_request(self) -> AWSRequest:
        request: AWSRequest = super()._create_aws_request()
        if not self._body and self._method in BODILESS_METHODS:
            # moto signs `self._data` when the body is empty: for a form POST (IAM, STS) that
            # is the form, right; for a GET/DELETE to a REST service it is the parsed headers.
            request.data = b""
        return request


def _denied(service: str, caller: str, check: Check, reason: str) -> RESTError:
    message = (
        f"User: {caller} is not authorized to perform: {check.action} "
        f"on resource: {check.resource} {reason}"
    )
    if service in JSON_PROTOCOL_SERVICES:
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 400 if service in ("dynamodb", "ssm") else 403
        return error
    error_xml = AccessDeniedError(user_arn=caller, action=check.action)
    error_xml.message = message
    return error_xml


def _protocol_error(service: str, error: RESTError) -> RESTError:
    """moto's XML credential errors, in the JSON protocols' shape where AWS uses JSON."""
    if service not in JSON_PROTOCOL_SERVICES:
        return error
    code = {
        "InvalidClientTokenId": "UnrecognizedClientException",
        "SignatureDoesNotMatch": "InvalidSignatureException",
    }.get(error.error_type, error.error_type)
    translated = JsonRESTError(code, error.message)
    translated.code = 403 if service in ("lambda", "iot") else 400
    return translated


def _path_with_query(response: Any) -> str:
    query = urlparse(response.uri).query
    return str(response.raw_path) + (f"?{query}" if query else "")


def _service_of(response: Any) -> str:
    authorization = response.headers.get("Authorization", "")
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else ""


def _authorize(response: Any, resource: str = "*") -> None:
    """Replaces `ActionAuthenticatorMixin._authenticate_and_authorize_normal_action`."""
    del resource  # moto's guess; the request decides
    # moto's own switch, so `disable_iam_authentication()` still lets the root act.
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    service = _service_of(response)
    try:
        request = _SignedRequest(
            account_id=response.current_account,
            method=response.method,
            path=_path_with_query(response),
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=response._get_action(),
        )
        request.check_signature()
    except RESTError as error:
        raise _protocol_error(service, error) from None
    caller = request._access_key.arn
    if f"{service}:{response._get_action()}" == "sts:GetCallerIdentity":
        return  # AWS answers it even under an explicit Deny (STS API reference)
    policies = request._access_key.collect_policies()  # inline and attached, user and groups
    documents = [IAMPolicy(policy)._policy_json for policy in policies]
    for check in checks_for(response, service, caller):
        reason = decide(documents, check)
        if reason is not None:
            raise _denied(service, caller, check, reason)


@contextmanager
def enforced_iam() -> Iterator[None]:
    """Every request from now on is authenticated and authorized as AWS would (see module doc).

    Create the users and their policies before entering: under enforcement even that needs
    permissions. Uses moto's own switch (`INITIAL_NO_AUTH_ACTION_COUNT` = 0).
    """

    with (
        mock.patch.object(
            ActionAuthenticatorMixin, "_authenticate_and_authorize_normal_action", _authorize
        ),
        enable_iam_authentication(),
    ):
        yield


@contextmanager
def as_root() -> Iterator[None]:
    """Inside `enforced_iam()`: let the next requests through unchecked (moto's own switch),
    to arrange or inspect the account the way an administrator would."""
    with disable_iam_authentication():
        yield
