"""Errors of the cloud layer; messages never carry secrets."""

from __future__ import annotations


class CloudError(Exception):
    """An AWS call failed."""


class InvalidCredentialsError(CloudError):
    """AWS refused the access key or its signature."""


class MissingPermissionError(CloudError):
    """The credentials lack a permission; `action` names it when AWS said which."""

    def __init__(self, message: str, action: str | None = None) -> None:
        """Keep the action for the user's error message."""
        super().__init__(message)
        self.action = action


class ThrottledError(CloudError):
    """AWS kept throttling after the retries."""


class InvalidDeviceIdError(CloudError, ValueError):
    """A device id that cannot be a principal id or a topic level."""
