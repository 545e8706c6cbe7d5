"""boto3 client settings and the translation of AWS errors into the cloud layer's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import re
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from .errors import (
    CloudError,
    InvalidCredentialsError,
    MissingPermissionError,
    ThrottledError,
)

INVALID_CREDENTIALS: Final = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
MISSING_PERMISSION: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
# Only codes that mean "slow down": IAM's LimitExceeded is a quota, not throttling.
THROTTLED: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)
# "... is not authorized to perform: iam:CreateRole on resource: ..." (the action only; the
# rest names the caller's ARN, which does not belong in an error shown in the UI).
_DENIED_ACTION: Final = re.compile(r"perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)")

MAX_ATTEMPTS: Final = 6
# botocore's "standard" mode retries throttling and transient errors with exponential backoff
# and jitter (at most 20 s between attempts).
RETRY_CONFIG: Final = Config(
    retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    connect_timeout=10,
    read_timeout=30,
)


def error_code(err: ClientError) -> str:
    """Return the AWS error code of a ClientError."""
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    """Return the AWS error message of a ClientError."""
    return str(err.response.get("Error", {}).get("Message", ""))


def denied_action(err: ClientError) -> str | None:
    """Return the IAM action AWS refused, as `service:Operation`, when the message names it."""
    match = _DENIED_ACTION.search(error_message(err))
    return match.group(1) if match else None


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn botocore exceptions into CloudError subclasses with a readable message.

    `what` says what was being done ("Step function"); no message includes request data.
    """
    try:
        yield
    except ClientError as err:
        code = error_code(err)
        operation = getattr(err, "operation_name", "") or what
        if code in INVALID_CREDENTIALS:
            raise InvalidCredentialsError(
                f"AWS refused the access key ({code}): check the key id, secret and region"
            ) from err
        if code in MISSING_PERMISSION:
            action = denied_action(err) or operation
            raise MissingPermissionError(action) from err
        if code in THROTTLED:
            raise ThrottledError(
                f"AWS kept throttling {operation} after {MAX_ATTEMPTS} attempts; try again later"
            ) from err
        raise CloudError(f"{what} failed: {code or type(err).__name__}") from err
    except (NoCredentialsError, PartialCredentialsError) as err:
        raise InvalidCredentialsError("No complete AWS access key was given") from err
    except EndpointConnectionError as err:
        raise CloudError(f"{what} failed: AWS could not be reached") from err
    except BotoCoreError as err:
        raise CloudError(f"{what} failed: {type(err).__name__}") from err
    except NotImplementedError as err:
        # Emulators (moto) raise this for APIs they lack; real AWS never does.
        raise CloudError(f"{what} failed: the AWS endpoint does not implement this API") from err


def client_options(endpoint_url: str | None) -> dict[str, Any]:
    """Keyword arguments for every boto3 client of the layer."""
    options: dict[str, Any] = {"config": RETRY_CONFIG}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return options
