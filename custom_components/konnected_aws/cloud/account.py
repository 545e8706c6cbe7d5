"""Idempotent setup of everything the IoT custom authorizer needs in the user's account.

`CloudAccount.ensure` creates what is missing and repairs what drifted, step by step, and
changes nothing when all is in place; a run that failed midway is completed by the next.
`teardown` removes it all again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from ._boto import client_options, error_code, translated_errors
from .errors import CloudError
from .registry import TOKEN_INDEX, DeviceRegistry
from .signing import generate_key_pair, public_key_of

LAMBDA_SOURCE: Final = Path(__file__).parent.parent / "authorizer" / "lambda_function.py"
LAMBDA_RUNTIME: Final = "python3.13"
LAMBDA_HANDLER: Final = "lambda_function.lambda_handler"
TOKEN_KEY_NAME: Final = "Token"
INVOKE_STATEMENT_ID: Final = "konnected-aws-iot-invoke"
# A new IAM role takes a few seconds before Lambda can assume it.
ROLE_PROPAGATION_RETRIES: Final = 10


class SetupStep(StrEnum):
    """The steps of `ensure`, in order."""

    KEY_PAIR = "key_pair"
    DEVICE_TABLE = "device_table"
    ROLE = "role"
    FUNCTION = "function"
    PERMISSION = "permission"
    AUTHORIZER = "authorizer"
    ENDPOINT = "endpoint"


type ProgressCallback = Callable[[SetupStep, int, int], None]


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """An access key; `secret_access_key` and `session_token` are secrets."""

    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"AwsCredentials(access_key_id=<redacted>, region={self.region!r})"


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """Names of everything `ensure` creates."""

    table: str = "konnected-aws-devices"
    private_key_parameter: str = "/konnected-aws/authorizer/private-key"
    public_key_parameter: str = "/konnected-aws/authorizer/public-key"
    role: str = "konnected-aws-authorizer"
    role_policy: str = "konnected-aws-authorizer"
    function: str = "konnected-aws-authorizer"
    authorizer: str = "konnected-aws"
    signing_key: str = "konnected-aws-key"


@dataclass(frozen=True, slots=True)
class AccountResources:
    """What `ensure` found or made."""

    account_id: str
    region: str
    iot_endpoint: str
    authorizer_name: str
    authorizer_arn: str
    table_name: str
    function_arn: str
    changed: tuple[SetupStep, ...] = field(default=())


def lambda_package(source: Path = LAMBDA_SOURCE) -> tuple[bytes, str]:
    """The Lambda's zip (deterministic, so equal code gives an equal hash) and its SHA-256 as Lambda reports it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("lambda_function.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source.read_bytes())
    package = buffer.getvalue()
    return package, base64.b64encode(hashlib.sha256(package).digest()).decode()


def _trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


class CloudAccount:
    """One AWS account and region, reached with the user's access key."""

    def __init__(
        self,
        credentials: AwsCredentials,
        *,
        names: ResourceNames | None = None,
        endpoint_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`endpoint_url` points every client at an emulator (moto); `sleep` is for tests."""
        self.credentials = credentials
        self.names = names or ResourceNames()
        self._endpoint_url = endpoint_url
        self._sleep = sleep
        self._session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=credentials.region,
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A cached boto3 client with the layer's retry settings."""
        if service not in self._clients:
            self._clients[service] = self._session.client(service, **client_options(self._endpoint_url))
        return self._clients[service]

    @cached_property
    def registry(self) -> DeviceRegistry:
        """The device table's registry."""
        resource = self._session.resource("dynamodb", **client_options(self._endpoint_url))
        return DeviceRegistry(resource.Table(self.names.table))

    def verify(self) -> str:
        """Check the credentials; returns the account id."""
        with translated_errors("Checking the credentials"):
            return str(self.client("sts").get_caller_identity()["Account"])

    def load_private_key(self) -> bytes:
        """The authorizer's private key from SSM (decrypted)."""
        with translated_errors("Reading the authorizer key"):
            parameter = self.client("ssm").get_parameter(
                Name=self.names.private_key_parameter, WithDecryption=True
            )
        return str(parameter["Parameter"]["Value"]).encode()

    # --- ensure --------------------------------------------------------------------------

    def ensure(self, progress: ProgressCallback | None = None) -> AccountResources:
        """Create or repair every resource; report each step as it starts and ends."""
        steps = list(SetupStep)
        changed: list[SetupStep] = []

        def run(step: SetupStep, action: Callable[[], bool]) -> None:
            if progress is not None:
                progress(step, steps.index(step), len(steps))
            with translated_errors(f"Step {step}"):
                if action():
                    changed.append(step)

        account_id = self.verify()
        arn = f"arn:aws:iot:{self.credentials.region}:{account_id}"
        authorizer_arn = f"{arn}:authorizer/{self.names.authorizer}"
        public_key: list[bytes] = []
        function_arn: list[str] = []
        endpoint: list[str] = []

        run(SetupStep.KEY_PAIR, lambda: self._ensure_key_pair(public_key))
        run(SetupStep.DEVICE_TABLE, self._ensure_table)
        run(SetupStep.ROLE, self._ensure_role)
        run(SetupStep.FUNCTION, lambda: self._ensure_function(function_arn))
        run(SetupStep.PERMISSION, lambda: self._ensure_permission(authorizer_arn))
        run(SetupStep.AUTHORIZER, lambda: self._ensure_authorizer(function_arn[0], public_key[0]))
        run(SetupStep.ENDPOINT, lambda: self._describe_endpoint(endpoint))
        if progress is not None:
            progress(SetupStep.ENDPOINT, len(steps), len(steps))
        return AccountResources(
            account_id=account_id,
            region=self.credentials.region,
            iot_endpoint=endpoint[0],
            authorizer_name=self.names.authorizer,
            authorizer_arn=authorizer_arn,
            table_name=self.names.table,
            function_arn=function_arn[0],
            changed=tuple(changed),
        )

    def _ensure_key_pair(self, public_key: list[bytes]) -> bool:
        ssm = self.client("ssm")
        changed = False
        try:
            private_pem = str(
                ssm.get_parameter(Name=self.names.private_key_parameter, WithDecryption=True)["Parameter"]["Value"]
            ).encode()
        except ClientError as err:
            if error_code(err) != "ParameterNotFound":
                raise
            pair = generate_key_pair()
            # Overwrite=False: a concurrent run that won the race keeps its key.
            ssm.put_parameter(
                Name=self.names.private_key_parameter,
                Value=pair.private_pem.decode(),
                Type="SecureString",
                Overwrite=False,
                Description="Konnected (AWS IoT): private key signing device tokens",
            )
            private_pem, changed = pair.private_pem, True
        public_pem = public_key_of(private_pem)
        try:
            stored = ssm.get_parameter(Name=self.names.public_key_parameter)["Parameter"]["Value"]
        except ClientError as err:
            if error_code(err) != "ParameterNotFound":
                raise
            stored = None
        if stored != public_pem.decode():
            ssm.put_parameter(
                Name=self.names.public_key_parameter,
                Value=public_pem.decode(),
                Type="String",
                Overwrite=True,
                Description="Konnected (AWS IoT): public key of the custom authorizer",
            )
            changed = True
        public_key.append(public_pem)
        return changed

    def _ensure_table(self) -> bool:
        dynamodb = self.client("dynamodb")
        index = {
            "IndexName": TOKEN_INDEX,
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
        try:
            table = dynamodb.describe_table(TableName=self.names.table)["Table"]
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            dynamodb.create_table(
                TableName=self.names.table,
                KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
                AttributeDefinitions=[
                    {"AttributeName": "device_id", "AttributeType": "S"},
                    {"AttributeName": "token", "AttributeType": "S"},
                ],
                GlobalSecondaryIndexes=[index],
                BillingMode="PAY_PER_REQUEST",
                SSESpecification={"Enabled": True},
            )
            self._wait(lambda: dynamodb.describe_table(TableName=self.names.table)["Table"]["TableStatus"] == "ACTIVE")
            return True
        indexes = {gsi["IndexName"] for gsi in table.get("GlobalSecondaryIndexes", [])}
        if TOKEN_INDEX in indexes:
            return False
        dynamodb.update_table(
            TableName=self.names.table,
            AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        return True

    def _role_policy(self) -> dict[str, Any]:
        region, table = self.credentials.region, self.names.table
        table_arn = f"arn:aws:dynamodb:{region}:*:table/{table}"
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [f"{table_arn}/index/{TOKEN_INDEX}"]},
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": [f"arn:aws:logs:{region}:*:log-group:/aws/lambda/{self.names.function}:*"],
                },
            ],
        }

    def _ensure_role(self) -> bool:
        iam = self.client("iam")
        changed = False
        try:
            iam.get_role(RoleName=self.names.role)
        except ClientError as err:
            if error_code(err) != "NoSuchEntity":
                raise
            iam.create_role(
                RoleName=self.names.role,
                AssumeRolePolicyDocument=_trust_policy(),
                Description="Konnected (AWS IoT) authorizer Lambda",
            )
            changed = True
        wanted = self._role_policy()
        try:
            current = iam.get_role_policy(RoleName=self.names.role, PolicyName=self.names.role_policy)[
                "PolicyDocument"
            ]
            if isinstance(current, str):
                current = json.loads(current)
        except ClientError as err:
            if error_code(err) != "NoSuchEntity":
                raise
            current = None
        if current != wanted:
            iam.put_role_policy(
                RoleName=self.names.role, PolicyName=self.names.role_policy, PolicyDocument=json.dumps(wanted)
            )
            changed = True
        return changed

    def _ensure_function(self, function_arn: list[str]) -> bool:
        lambda_client = self.client("lambda")
        package, code_hash = lambda_package()
        environment = {"Variables": {"DEVICE_TABLE": self.names.table}}
        try:
            configuration = lambda_client.get_function(FunctionName=self.names.function)["Configuration"]
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            role_arn = self.client("iam").get_role(RoleName=self.names.role)["Role"]["Arn"]
            configuration = self._create_function(role_arn, package, environment)
            function_arn.append(str(configuration["FunctionArn"]))
            return True
        function_arn.append(str(configuration["FunctionArn"]))
        changed = False
        if configuration.get("CodeSha256") != code_hash:
            lambda_client.update_function_code(FunctionName=self.names.function, ZipFile=package)
            changed = True
        if (
            configuration.get("Environment", {}).get("Variables") != environment["Variables"]
            or configuration.get("Runtime") != LAMBDA_RUNTIME
            or configuration.get("Handler") != LAMBDA_HANDLER
        ):
            self._wait_function_updated()
            lambda_client.update_function_configuration(
                FunctionName=self.names.function,
                Runtime=LAMBDA_RUNTIME,
                Handler=LAMBDA_HANDLER,
                Environment=environment,
            )
            changed = True
        return changed

    def _create_function(self, role_arn: str, package: bytes, environment: dict[str, Any]) -> dict[str, Any]:
        lambda_client = self.client("lambda")
        for attempt in range(ROLE_PROPAGATION_RETRIES):
            try:
                return dict(
                    lambda_client.create_function(
                        FunctionName=self.names.function,
                        Runtime=LAMBDA_RUNTIME,
                        Role=role_arn,
                        Handler=LAMBDA_HANDLER,
                        Code={"ZipFile": package},
                        Description="Konnected (AWS IoT) custom authorizer",
                        Timeout=5,
                        MemorySize=128,
                        Environment=environment,
                    )
                )
            except ClientError as err:
                # "The role defined for the function cannot be assumed by Lambda" right after creating it.
                if error_code(err) != "InvalidParameterValueException" or attempt == ROLE_PROPAGATION_RETRIES - 1:
                    raise
                self._sleep(min(2.0 * (attempt + 1), 10.0))
        raise CloudError("Creating the Lambda failed")  # pragma: no cover - loop always returns or raises

    def _wait_function_updated(self) -> None:
        lambda_client = self.client("lambda")
        self._wait(
            lambda: lambda_client.get_function_configuration(FunctionName=self.names.function).get(
                "LastUpdateStatus", "Successful"
            )
            != "InProgress"
        )

    def _ensure_permission(self, authorizer_arn: str) -> bool:
        lambda_client = self.client("lambda")
        try:
            policy = json.loads(lambda_client.get_policy(FunctionName=self.names.function)["Policy"])
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            policy = {"Statement": []}
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == INVOKE_STATEMENT_ID:
                return False
        lambda_client.add_permission(
            FunctionName=self.names.function,
            StatementId=INVOKE_STATEMENT_ID,
            Action="lambda:InvokeFunction",
            Principal="iot.amazonaws.com",
            SourceArn=authorizer_arn,
        )
        return True

    def _ensure_authorizer(self, function_arn: str, public_key: bytes) -> bool:
        iot = self.client("iot")
        wanted_keys = {self.names.signing_key: public_key.decode()}
        try:
            current = iot.describe_authorizer(authorizerName=self.names.authorizer)["authorizerDescription"]
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            iot.create_authorizer(
                authorizerName=self.names.authorizer,
                authorizerFunctionArn=function_arn,
                tokenKeyName=TOKEN_KEY_NAME,
                tokenSigningPublicKeys=wanted_keys,
                status="ACTIVE",
                signingDisabled=False,
            )
            return True
        drifted = (
            current.get("authorizerFunctionArn") != function_arn
            or current.get("tokenKeyName") != TOKEN_KEY_NAME
            or current.get("tokenSigningPublicKeys") != wanted_keys
            or current.get("status") != "ACTIVE"
        )
        if current.get("signingDisabled"):
            # Signing cannot be turned on for an existing authorizer: replace it.
            iot.update_authorizer(authorizerName=self.names.authorizer, status="INACTIVE")
            iot.delete_authorizer(authorizerName=self.names.authorizer)
            return self._ensure_authorizer(function_arn, public_key)
        if drifted:
            iot.update_authorizer(
                authorizerName=self.names.authorizer,
                authorizerFunctionArn=function_arn,
                tokenKeyName=TOKEN_KEY_NAME,
                tokenSigningPublicKeys=wanted_keys,
                status="ACTIVE",
            )
        return bool(drifted)

    def _describe_endpoint(self, endpoint: list[str]) -> bool:
        endpoint.append(str(self.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]))
        return False

    def _wait(self, done: Callable[[], bool], attempts: int = 60, delay: float = 1.0) -> None:
        for _ in range(attempts):
            if done():
                return
            self._sleep(delay)
        raise CloudError("Timed out waiting for AWS")

    # --- teardown ------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove everything `ensure` created; missing pieces are skipped."""
        iot, lambda_client, iam = self.client("iot"), self.client("lambda"), self.client("iam")
        dynamodb, ssm = self.client("dynamodb"), self.client("ssm")
        names = self.names
        removals: list[tuple[str, Callable[[], Any]]] = [
            ("authorizer", lambda: iot.update_authorizer(authorizerName=names.authorizer, status="INACTIVE")),
            ("authorizer", lambda: iot.delete_authorizer(authorizerName=names.authorizer)),
            ("function", lambda: lambda_client.delete_function(FunctionName=names.function)),
            ("role", lambda: iam.delete_role_policy(RoleName=names.role, PolicyName=names.role_policy)),
            ("role", lambda: iam.delete_role(RoleName=names.role)),
            ("table", lambda: dynamodb.delete_table(TableName=names.table)),
            ("key", lambda: ssm.delete_parameter(Name=names.private_key_parameter)),
            ("key", lambda: ssm.delete_parameter(Name=names.public_key_parameter)),
        ]
        for what, remove in removals:
            with translated_errors(f"Removing the {what}"):
                try:
                    remove()
                except ClientError as err:
                    if error_code(err) not in ("ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound"):
                        raise
