"""Idempotent setup of everything the IoT custom authorizer needs in the user's account.

`CloudAccount.ensure` creates what is missing and repairs what drifted, step by step, and
changes nothing else when all is in place; a run that failed midway is completed by the next.
`teardown` removes it all again. Both run with SETUP credentials that Home Assistant never
stores; `ensure` hands back a fresh access key of the RUN-TIME user, which is what Home
Assistant keeps (policies.py says who may do what). Every method blocks (boto3): Home
Assistant runs them in its executor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
import hashlib
import io
import json
from pathlib import Path
import threading
import time
from typing import Any, Final, Literal
import zipfile

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._boto import client_options, error_code, error_message, translated_errors
from .errors import CloudError, InvalidCredentialsError, MissingPermissionError
from .policies import (
    TOKEN_INDEX,
    AccountIdentity,
    PolicyDocument,
    ResourceArns,
    ResourceNames,
    authorizer_role_policy,
    authorizer_trust_policy,
    runtime_policy,
    setup_policy,
)
from .registry import DeviceRegistry
from .signing import generate_key_pair, public_key_of

LAMBDA_SOURCE: Final = Path(__file__).parent.parent / "authorizer" / "lambda_function.py"
LAMBDA_RUNTIME: Final = "python3.13"
LAMBDA_HANDLER: Final = "lambda_function.lambda_handler"
LAMBDA_TIMEOUT_SECONDS: Final = 5
LAMBDA_MEMORY_MB: Final = 128
TOKEN_KEY_NAME: Final = "Token"
IOT_PRINCIPAL: Final = "iot.amazonaws.com"
# A new IAM role takes a few seconds before Lambda can assume it ("The role defined for the
# function cannot be assumed by Lambda"): retry that many times, waiting 2, 4, ... 10 s.
ROLE_PROPAGATION_RETRIES: Final = 10
# Table creation, index creation and Lambda updates are polled this often (1 s apart).
WAIT_ATTEMPTS: Final = 120
# A new access key (and a new user policy) takes a few seconds to work everywhere in IAM:
# try the run-time key this many times, waiting 2, 4, ... 10 s (about 70 s in all).
RUNTIME_KEY_ATTEMPTS: Final = 10



# The AWS services the layer talks to.
type ServiceName = Literal["dynamodb", "iam", "iot", "lambda", "ssm", "sts"]

class SetupStep(StrEnum):
    """The steps of `ensure`, in the order they run."""

    KEY_PAIR = "key_pair"
    DEVICE_TABLE = "device_table"
    ROLE = "role"
    FUNCTION = "function"
    PERMISSION = "permission"
    AUTHORIZER = "authorizer"
    RUNTIME_USER = "runtime_user"
    ENDPOINT = "endpoint"
    # Last, so no later step can fail and lose the new key; always CHANGED (a fresh key).
    RUNTIME_KEY = "runtime_key"


class StepState(StrEnum):
    """What a step is doing or did: RUNNING first, then exactly one of the others."""

    RUNNING = "running"
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    FAILED = "failed"


type ProgressCallback = Callable[[SetupStep, StepState], None]


def progress_fraction(step: SetupStep, state: StepState) -> float:
    """Share of `ensure` done when `step` reports `state` (for a progress bar), 0.0-1.0."""
    steps = list(SetupStep)
    done = steps.index(step) + (0 if state is StepState.RUNNING else 1)
    return done / len(steps)


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """An access key; `secret_access_key` and `session_token` are secrets."""

    access_key_id: str
    secret_access_key: str
    region: str
    session_token: str | None = None

    def __repr__(self) -> str:
        """Show the region only, never the keys."""
        return f"AwsCredentials(access_key_id=<redacted>, region={self.region!r})"


@dataclass(frozen=True, slots=True)
class AccountResources:
    """What `ensure` found or made; `changed` lists the steps that changed something.

    `runtime_credentials` is the fresh access key of the run-time user (`runtime_user_arn`):
    the only key Home Assistant stores. Its repr hides the secret.
    """

    account_id: str
    region: str
    iot_endpoint: str
    authorizer_name: str
    authorizer_arn: str
    table_name: str
    function_arn: str
    private_key_parameter: str
    runtime_user_arn: str
    runtime_credentials: AwsCredentials
    changed: tuple[SetupStep, ...] = field(default=())

    @property
    def websocket_url(self) -> str:
        """The MQTT-over-WebSocket URL boards and the bridge connect to."""
        return f"wss://{self.iot_endpoint}/mqtt"


def lambda_package(source: Path | None = None) -> tuple[bytes, str]:
    """Return the Lambda's zip and its SHA-256 as Lambda reports it (`CodeSha256`).

    The zip is deterministic (fixed timestamp and mode), so equal code gives an equal hash and
    a re-run does not upload anything.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("lambda_function.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, (source or LAMBDA_SOURCE).read_bytes())
    package = buffer.getvalue()
    return package, base64.b64encode(hashlib.sha256(package).digest()).decode()


def _as_document(policy: Any) -> Any:
    """IAM returns policy documents decoded (boto3) or as JSON strings (some emulators)."""
    return json.loads(policy) if isinstance(policy, str) else policy


def _same_public_keys(current: dict[str, str], wanted: dict[str, str]) -> bool:
    """Compare key maps by key material, not PEM text (AWS may reformat the PEM)."""
    if current.keys() != wanted.keys():
        return False
    for name, pem in wanted.items():
        try:
            current_key = serialization.load_pem_public_key(current[name].encode())
        except ValueError, TypeError:
            return False
        wanted_key = serialization.load_pem_public_key(pem.encode())
        if not (
            isinstance(current_key, rsa.RSAPublicKey)
            and isinstance(wanted_key, rsa.RSAPublicKey)
            and current_key.public_numbers() == wanted_key.public_numbers()
        ):
            return False
    return True


def _not_found(err: ClientError, *codes: str) -> bool:
    return error_code(err) in (codes or ("ResourceNotFoundException",))


class CloudAccount:
    """One AWS account and region, reached with one access key.

    With the SETUP credentials: `ensure`, `teardown`. With the RUN-TIME key Home Assistant
    stores: `verify`, `load_private_key`, `iot_endpoint`, `registry`.
    """

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
        # boto3 clients are thread-safe, creating them from one session is not.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        """Show the region only, never the keys."""
        return f"CloudAccount(region={self.credentials.region!r})"

    def client(self, service: ServiceName) -> Any:
        """Return a cached boto3 client with the layer's retry settings."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service, **client_options(self._endpoint_url)
                )
            return self._clients[service]

    @cached_property
    def registry(self) -> DeviceRegistry:
        """The device table's registry (cheap to get; the table opens on first use)."""
        return DeviceRegistry(self._open_device_table)

    def _open_device_table(self) -> Any:
        with self._lock:
            resource = self._session.resource("dynamodb", **client_options(self._endpoint_url))
        return resource.Table(self.names.table)

    def verify(self) -> str:
        """Check the credentials; returns the account id.

        Raises InvalidCredentialsError, MissingPermissionError, ThrottledError or CloudError.
        """
        return self.identity().account_id

    def identity(self) -> AccountIdentity:
        """Account, partition and region of the credentials (for ARNs and policy documents).

        Raises like `verify` (`sts:GetCallerIdentity` needs no permission).
        """
        with translated_errors("Checking the credentials"):
            identity = self.client("sts").get_caller_identity()
        arn = str(identity.get("Arn", ""))
        partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
        return AccountIdentity(
            str(identity["Account"]), partition or "aws", self.credentials.region
        )

    def setup_policy_document(self, identity: AccountIdentity) -> PolicyDocument:
        """Return the IAM policy the setup credentials need for `ensure` and `teardown`."""
        return setup_policy(self.names, identity)

    def runtime_policy_document(self, identity: AccountIdentity) -> PolicyDocument:
        """Return the IAM policy of the run-time user, whose key Home Assistant stores."""
        return runtime_policy(self.names, identity)

    def iot_endpoint(self) -> str:
        """Return the account's `iot:Data-ATS` endpoint host (run-time right `iot:DescribeEndpoint`)."""
        with translated_errors("Finding the IoT endpoint"):
            return self._describe_endpoint()[1]

    def load_private_key(self) -> bytes:
        """Return the authorizer's private key (PEM) from SSM, decrypted. Never log it."""
        with translated_errors("Reading the authorizer key"):
            try:
                parameter = self.client("ssm").get_parameter(
                    Name=self.names.private_key_parameter, WithDecryption=True
                )
            except ClientError as err:
                if _not_found(err, "ParameterNotFound"):
                    raise CloudError(
                        "The authorizer key is missing: run the AWS setup again"
                    ) from err
                raise
        return str(parameter["Parameter"]["Value"]).encode()

    # --- ensure --------------------------------------------------------------------------

    def ensure(self, progress: ProgressCallback | None = None) -> AccountResources:
        """Create or repair every resource; `progress(step, state)` hears each step start and end.

        Raises the same errors as `verify`; a step that fails reports FAILED and raises, and the
        next run picks up where it stopped.
        """
        identity = self.identity()
        arns = ResourceArns(self.names, identity)
        changed: list[SetupStep] = []

        def run[T](step: SetupStep, action: Callable[[], tuple[bool, T]]) -> T:
            if progress is not None:
                progress(step, StepState.RUNNING)
            try:
                with translated_errors(f"AWS setup step '{step}'"):
                    step_changed, value = action()
            except CloudError:
                if progress is not None:
                    progress(step, StepState.FAILED)
                raise
            if step_changed:
                changed.append(step)
            if progress is not None:
                progress(step, StepState.CHANGED if step_changed else StepState.UNCHANGED)
            return value

        public_pem = run(SetupStep.KEY_PAIR, self._ensure_key_pair)
        run(SetupStep.DEVICE_TABLE, self._ensure_table)
        role_arn = run(SetupStep.ROLE, lambda: self._ensure_role(identity))
        function_arn = run(SetupStep.FUNCTION, lambda: self._ensure_function(role_arn))
        run(SetupStep.PERMISSION, lambda: self._ensure_permission(arns.authorizer))
        run(SetupStep.AUTHORIZER, lambda: self._ensure_authorizer(function_arn, public_pem))
        user_arn = run(SetupStep.RUNTIME_USER, lambda: self._ensure_runtime_user(identity))
        endpoint = run(SetupStep.ENDPOINT, self._describe_endpoint)
        runtime_credentials = run(SetupStep.RUNTIME_KEY, self._issue_runtime_key)
        return AccountResources(
            account_id=identity.account_id,
            region=self.credentials.region,
            iot_endpoint=endpoint,
            authorizer_name=self.names.authorizer,
            authorizer_arn=arns.authorizer,
            table_name=self.names.table,
            function_arn=function_arn,
            private_key_parameter=self.names.private_key_parameter,
            runtime_user_arn=user_arn,
            runtime_credentials=runtime_credentials,
            changed=tuple(changed),
        )

    def _ensure_key_pair(self) -> tuple[bool, bytes]:
        """Keep the private key in SSM (SecureString); an existing one is always reused."""
        ssm = self.client("ssm")
        changed = False
        private_pem = self._stored_private_key()
        if private_pem is None:
            pair = generate_key_pair()
            try:
                # Overwrite=False: never replace a key that boards' signatures depend on.
                ssm.put_parameter(
                    Name=self.names.private_key_parameter,
                    Value=pair.private_pem.decode(),
                    Type="SecureString",
                    Overwrite=False,
                    Description="Konnected (AWS IoT): private key signing device tokens",
                )
                private_pem, changed = pair.private_pem, True
            except ClientError as err:
                if error_code(err) != "ParameterAlreadyExists":
                    raise
                # A concurrent run won the race: use its key.
                private_pem = self._stored_private_key()
                if private_pem is None:
                    raise
        try:
            public_pem = public_key_of(private_pem)
        except (ValueError, TypeError) as err:
            # Replacing it would silently break every provisioned board: let the user decide.
            raise CloudError(
                f"The SSM parameter {self.names.private_key_parameter} is not an RSA private key"
            ) from err
        try:
            stored = ssm.get_parameter(Name=self.names.public_key_parameter)["Parameter"]["Value"]
        except ClientError as err:
            if not _not_found(err, "ParameterNotFound"):
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
        return changed, public_pem

    def _stored_private_key(self) -> bytes | None:
        try:
            value = self.client("ssm").get_parameter(
                Name=self.names.private_key_parameter, WithDecryption=True
            )
        except ClientError as err:
            if _not_found(err, "ParameterNotFound"):
                return None
            raise
        return str(value["Parameter"]["Value"]).encode()

    def _ensure_table(self) -> tuple[bool, None]:
        dynamodb = self.client("dynamodb")
        index = {
            "IndexName": TOKEN_INDEX,
            "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
        try:
            table = dynamodb.describe_table(TableName=self.names.table)["Table"]
        except ClientError as err:
            if not _not_found(err):
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
            self._wait_table_active()
            return True, None
        if table.get("KeySchema") != [{"AttributeName": "device_id", "KeyType": "HASH"}]:
            # Changing a key means a new table and losing the devices: leave it to the user.
            raise CloudError(
                f"The DynamoDB table {self.names.table} exists with another key than device_id"
            )
        indexes = {gsi["IndexName"]: gsi for gsi in table.get("GlobalSecondaryIndexes", [])}
        if TOKEN_INDEX in indexes:
            if indexes[TOKEN_INDEX].get("KeySchema") != index["KeySchema"]:
                raise CloudError(
                    f"The index {TOKEN_INDEX} of {self.names.table} is not keyed on token"
                )
            if (
                table.get("TableStatus") != "ACTIVE"
                or indexes[TOKEN_INDEX].get("IndexStatus", "ACTIVE") != "ACTIVE"
            ):
                self._wait_table_active()  # an earlier run stopped while it was being built
            return False, None
        self._wait_table_active()
        dynamodb.update_table(
            TableName=self.names.table,
            AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        self._wait_table_active()
        return True, None

    def _wait_table_active(self) -> None:
        dynamodb = self.client("dynamodb")

        def active() -> bool:
            table = dynamodb.describe_table(TableName=self.names.table)["Table"]
            return bool(table.get("TableStatus") == "ACTIVE") and all(
                gsi.get("IndexStatus", "ACTIVE") == "ACTIVE"
                for gsi in table.get("GlobalSecondaryIndexes", [])
            )

        self._wait(active, f"the table {self.names.table} to become active")

    def _ensure_role(self, identity: AccountIdentity) -> tuple[bool, str]:
        iam = self.client("iam")
        changed = False
        trust = authorizer_trust_policy()
        try:
            role = iam.get_role(RoleName=self.names.role)["Role"]
        except ClientError as err:
            if not _not_found(err, "NoSuchEntity"):
                raise
            role = iam.create_role(
                RoleName=self.names.role,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="Konnected (AWS IoT) authorizer Lambda",
            )["Role"]
            changed = True
        if not changed and _as_document(role.get("AssumeRolePolicyDocument")) != trust:
            iam.update_assume_role_policy(
                RoleName=self.names.role, PolicyDocument=json.dumps(trust)
            )
            changed = True
        wanted = authorizer_role_policy(self.names, identity)
        try:
            current = _as_document(
                iam.get_role_policy(RoleName=self.names.role, PolicyName=self.names.role_policy)[
                    "PolicyDocument"
                ]
            )
        except ClientError as err:
            if not _not_found(err, "NoSuchEntity"):
                raise
            current = None
        if current != wanted:
            iam.put_role_policy(
                RoleName=self.names.role,
                PolicyName=self.names.role_policy,
                PolicyDocument=json.dumps(wanted),
            )
            changed = True
        return changed, str(role["Arn"])

    def _ensure_runtime_user(self, identity: AccountIdentity) -> tuple[bool, str]:
        """Home Assistant's own IAM user, with exactly the run-time policy inline."""
        iam = self.client("iam")
        changed = False
        try:
            user = iam.get_user(UserName=self.names.runtime_user)["User"]
        except ClientError as err:
            if not _not_found(err, "NoSuchEntity"):
                raise
            user = iam.create_user(UserName=self.names.runtime_user)["User"]
            changed = True
        wanted = runtime_policy(self.names, identity)
        try:
            current = _as_document(
                iam.get_user_policy(
                    UserName=self.names.runtime_user, PolicyName=self.names.runtime_policy
                )["PolicyDocument"]
            )
        except ClientError as err:
            if not _not_found(err, "NoSuchEntity"):
                raise
            current = None
        if current != wanted:
            iam.put_user_policy(
                UserName=self.names.runtime_user,
                PolicyName=self.names.runtime_policy,
                PolicyDocument=json.dumps(wanted),
            )
            changed = True
        return changed, str(user["Arn"])

    def _issue_runtime_key(self) -> tuple[bool, AwsCredentials]:
        """Issue a fresh key for the run-time user; of the older ones only the newest is kept.

        IAM allows two keys per user. Deleting all but the newest first leaves room for the
        new key while the key Home Assistant is using right now keeps working until it
        stores the new one; the next run deletes it. So at most two keys exist, and every
        run rotates.
        """
        iam = self.client("iam")
        user = self.names.runtime_user
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        for old in sorted(keys, key=lambda key: key["CreateDate"])[:-1]:
            iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
        key = iam.create_access_key(UserName=user)["AccessKey"]
        credentials = AwsCredentials(
            access_key_id=str(key["AccessKeyId"]),
            secret_access_key=str(key["SecretAccessKey"]),
            region=self.credentials.region,
        )
        try:
            self._wait_until_usable(credentials)
        except CloudError:
            # Nobody will ever see this key: do not leave it behind (best effort; the next
            # run deletes it anyway, as an older key).
            with suppress(ClientError):
                iam.delete_access_key(UserName=user, AccessKeyId=credentials.access_key_id)
            raise
        return True, credentials

    def _wait_until_usable(self, credentials: AwsCredentials) -> None:
        """Wait until the new key works.

        IAM is eventually consistent: the new key (and a new user policy) work after a few
        seconds. Reading the private key with it proves both.
        """
        runtime = CloudAccount(
            credentials, names=self.names, endpoint_url=self._endpoint_url, sleep=self._sleep
        )
        for attempt in range(1, RUNTIME_KEY_ATTEMPTS + 1):
            try:
                runtime.load_private_key()
            except (InvalidCredentialsError, MissingPermissionError):
                if attempt == RUNTIME_KEY_ATTEMPTS:
                    raise
                self._sleep(min(2.0 * attempt, 10.0))
            else:
                return

    def _ensure_function(self, role_arn: str) -> tuple[bool, str]:
        lambda_client = self.client("lambda")
        package, code_hash = lambda_package()
        settings: dict[str, Any] = {
            "Runtime": LAMBDA_RUNTIME,
            "Handler": LAMBDA_HANDLER,
            "Role": role_arn,
            "Timeout": LAMBDA_TIMEOUT_SECONDS,
            "MemorySize": LAMBDA_MEMORY_MB,
            "Environment": {"Variables": {"DEVICE_TABLE": self.names.table}},
        }
        try:
            configuration = lambda_client.get_function(FunctionName=self.names.function)[
                "Configuration"
            ]
        except ClientError as err:
            if not _not_found(err):
                raise
            configuration = self._create_function(package, settings)
            self._wait_function_ready()
            return True, str(configuration["FunctionArn"])
        changed = False
        if configuration.get("CodeSha256") != code_hash:
            self._wait_function_ready()
            lambda_client.update_function_code(FunctionName=self.names.function, ZipFile=package)
            changed = True
        current = {name: configuration.get(name) for name in settings}
        current["Environment"] = {
            "Variables": (configuration.get("Environment") or {}).get("Variables")
        }
        drifted = {name: value for name, value in settings.items() if current[name] != value}
        if drifted:
            self._wait_function_ready()  # Lambda refuses a second update while one is in progress
            lambda_client.update_function_configuration(FunctionName=self.names.function, **drifted)
            changed = True
        if changed:
            self._wait_function_ready()
        return changed, str(configuration["FunctionArn"])

    def _create_function(self, package: bytes, settings: dict[str, Any]) -> dict[str, Any]:
        lambda_client = self.client("lambda")
        for attempt in range(1, ROLE_PROPAGATION_RETRIES + 1):
            try:
                return dict(
                    lambda_client.create_function(
                        FunctionName=self.names.function,
                        Code={"ZipFile": package},
                        Description="Konnected (AWS IoT) custom authorizer",
                        **settings,
                    )
                )
            except ClientError as err:
                propagating = error_code(
                    err
                ) == "InvalidParameterValueException" and "assume" in error_message(err)
                if not propagating or attempt == ROLE_PROPAGATION_RETRIES:
                    raise
                self._sleep(min(2.0 * attempt, 10.0))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _wait_function_ready(self) -> None:
        lambda_client = self.client("lambda")

        def ready() -> bool:
            configuration = lambda_client.get_function_configuration(
                FunctionName=self.names.function
            )
            return bool(
                configuration.get("State", "Active") != "Pending"
                and configuration.get("LastUpdateStatus", "Successful") != "InProgress"
            )

        self._wait(ready, f"the function {self.names.function} to be ready")

    def _ensure_permission(self, authorizer_arn: str) -> tuple[bool, None]:
        """AWS IoT may invoke the function, for this authorizer only."""
        lambda_client = self.client("lambda")
        try:
            policy = json.loads(
                lambda_client.get_policy(FunctionName=self.names.function)["Policy"]
            )
        except ClientError as err:
            if not _not_found(err):
                raise
            policy = {"Statement": []}
        for statement in policy.get("Statement", []):
            if statement.get("Sid") != self.names.invoke_statement:
                continue
            principal = statement.get("Principal", {})
            service = principal.get("Service") if isinstance(principal, dict) else principal
            source_arns = [
                arn
                for condition in statement.get("Condition", {}).values()
                if isinstance(condition, dict)
                for arn in condition.values()
            ]
            if service == IOT_PRINCIPAL and source_arns == [authorizer_arn]:
                return False, None
            lambda_client.remove_permission(
                FunctionName=self.names.function, StatementId=self.names.invoke_statement
            )
        lambda_client.add_permission(
            FunctionName=self.names.function,
            StatementId=self.names.invoke_statement,
            Action="lambda:InvokeFunction",
            Principal=IOT_PRINCIPAL,
            SourceArn=authorizer_arn,
        )
        return True, None

    def _ensure_authorizer(self, function_arn: str, public_key: bytes) -> tuple[bool, None]:
        iot = self.client("iot")
        wanted_keys = {self.names.signing_key: public_key.decode()}
        try:
            current = iot.describe_authorizer(authorizerName=self.names.authorizer)[
                "authorizerDescription"
            ]
        except ClientError as err:
            if not _not_found(err):
                raise
            current = None
        if current is not None and current.get("signingDisabled"):
            # Signing cannot be switched on for an existing authorizer: replace it.
            iot.update_authorizer(authorizerName=self.names.authorizer, status="INACTIVE")
            iot.delete_authorizer(authorizerName=self.names.authorizer)
            current = None
        if current is None:
            iot.create_authorizer(
                authorizerName=self.names.authorizer,
                authorizerFunctionArn=function_arn,
                tokenKeyName=TOKEN_KEY_NAME,
                tokenSigningPublicKeys=wanted_keys,
                status="ACTIVE",
                signingDisabled=False,
            )
            return True, None
        drifted = (
            current.get("authorizerFunctionArn") != function_arn
            or current.get("tokenKeyName") != TOKEN_KEY_NAME
            or not _same_public_keys(dict(current.get("tokenSigningPublicKeys") or {}), wanted_keys)
            or current.get("status") != "ACTIVE"
        )
        if drifted:
            iot.update_authorizer(
                authorizerName=self.names.authorizer,
                authorizerFunctionArn=function_arn,
                tokenKeyName=TOKEN_KEY_NAME,
                tokenSigningPublicKeys=wanted_keys,
                status="ACTIVE",
            )
        return drifted, None

    def _describe_endpoint(self) -> tuple[bool, str]:
        return False, str(
            self.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        )

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        for _ in range(WAIT_ATTEMPTS):
            if done():
                return
            self._sleep(1.0)
        raise CloudError(f"Timed out waiting for {what}")

    # --- teardown ------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove everything `ensure` created; missing pieces are skipped (idempotent).

        The run-time user goes first, so Home Assistant's stored key stops working before
        anything else. Devices go with the table, so every token stops working. The function's
        CloudWatch log group (made by Lambda, not by `ensure`) is left for the user.
        """
        iot, lambda_client, iam = self.client("iot"), self.client("lambda"), self.client("iam")
        dynamodb, ssm = self.client("dynamodb"), self.client("ssm")
        names = self.names
        removals: list[tuple[str, Callable[[], Any]]] = [
            ("run-time access keys", self._delete_runtime_keys),
            (
                "run-time user policy",
                lambda: iam.delete_user_policy(
                    UserName=names.runtime_user, PolicyName=names.runtime_policy
                ),
            ),
            ("run-time user", lambda: iam.delete_user(UserName=names.runtime_user)),
            # AWS refuses to delete an ACTIVE authorizer.
            (
                "authorizer",
                lambda: iot.update_authorizer(authorizerName=names.authorizer, status="INACTIVE"),
            ),
            ("authorizer", lambda: iot.delete_authorizer(authorizerName=names.authorizer)),
            ("function", lambda: lambda_client.delete_function(FunctionName=names.function)),
            (
                "role policy",
                lambda: iam.delete_role_policy(RoleName=names.role, PolicyName=names.role_policy),
            ),
            ("role", lambda: iam.delete_role(RoleName=names.role)),
            ("table", lambda: dynamodb.delete_table(TableName=names.table)),
            ("private key", lambda: ssm.delete_parameter(Name=names.private_key_parameter)),
            ("public key", lambda: ssm.delete_parameter(Name=names.public_key_parameter)),
        ]
        for what, remove in removals:
            with translated_errors(f"Removing the {what}"):
                try:
                    remove()
                except ClientError as err:
                    if not _not_found(
                        err, "ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound"
                    ):
                        raise

    def _delete_runtime_keys(self) -> None:
        iam = self.client("iam")
        user = self.names.runtime_user
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
