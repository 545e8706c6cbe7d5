"""boto3 sessions and the translation of AWS errors into the cloud layer's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from .errors import CloudError, InvalidCredentialsError, MissingPermissionError, ThrottledError

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
    }
)
MISSING_PERMISSION: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
THROTTLED: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
    }
)

# botocore's "standard" mode retries throttling and transient errors with backoff.
RETRY_CONFIG: Final = Config(retries={"max_attempts": 6, "mode": "standard"}, connect_timeout=10, read_timeout=30)


def error_code(err: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(err.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn botocore exceptions into CloudError subclasses with a readable message."""
    try:
        yield
    except ClientError as err:
        code = error_code(err)
        operation = getattr(err, "operation_name", "") or what
        if code in INVALID_CREDENTIALS:
            raise InvalidCredentialsError(f"AWS refused the credentials ({code})") from err
        if code in MISSING_PERMISSION:
            raise MissingPermissionError(
                f"The credentials may not call {operation} ({code})", action=operation
            ) from err
        if code in THROTTLED:
            raise ThrottledError(f"AWS kept throttling {operation}") from err
        raise CloudError(f"{what} failed: {code or err}") from err
    except NoCredentialsError as err:
        raise InvalidCredentialsError("No AWS credentials were given") from err
    except EndpointConnectionError as err:
        raise CloudError(f"{what} failed: AWS could not be reached") from err
    except BotoCoreError as err:
        raise CloudError(f"{what} failed: {type(err).__name__}") from err


def client_options(endpoint_url: str | None) -> dict[str, Any]:
    """Keyword arguments for every boto3 client of the layer."""
    options: dict[str, Any] = {"config": RETRY_CONFIG}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return options
