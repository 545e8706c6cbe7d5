"""Errors of the cloud layer; messages never carry secrets (keys, tokens, signatures)."""

from __future__ import annotations


class CloudError(Exception):
    """An AWS call failed, or AWS is not in the state the layer needs."""


class InvalidCredentialsError(CloudError):
    """AWS refused the access key, its secret or its session token."""


class MissingPermissionError(CloudError):
    """The credentials lack a permission; `action` names it (e.g. `iam:CreateRole`) when known."""

    def __init__(self, action: str | None = None, message: str | None = None) -> None:
        """`MissingPermissionError("iot:CreateAuthorizer")` makes the message from the action."""
        self.action = action
        super().__init__(
            message
            or (
                f"The AWS credentials are not allowed to call {action}"
                if action
                else "The AWS credentials lack a permission"
            )
        )


class ThrottledError(CloudError):
    """AWS kept throttling after the retries with backoff."""


class UnknownDeviceError(CloudError, KeyError):
    """The device is not in the device table."""

    def __str__(self) -> str:
        """Return the message as written."""
        # KeyError would quote the message; show it as written.
        return str(self.args[0]) if self.args else "Unknown device"


class InvalidDeviceIdError(CloudError, ValueError):
    """A device id that cannot be a principal id or a topic level."""
