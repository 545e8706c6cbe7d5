"""Devices in the DynamoDB table the authorizer reads (schema: docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
import re
from typing import Any, Final, Literal

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from ._boto import error_code, translated_errors
from .errors import InvalidDeviceIdError, UnknownDeviceError
from .policies import TOKEN_INDEX
from .signing import new_token

# Always `fullmatch`: `re.match` with `$` lets a trailing newline through.
BOARD_ID: Final = re.compile(r"[0-9a-f]{12}")
# principalId limit of AWS IoT: alphanumeric, at most 128 characters.
PRINCIPAL_ID: Final = re.compile(r"[A-Za-z0-9]{1,128}")

type DeviceKind = Literal["board", "bridge"]
DEVICE_KINDS: Final = ("board", "bridge")
ACTIVE: Final = "active"
REVOKED: Final = "revoked"


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """A device id and its (secret) token."""

    device_id: str
    token: str

    def __repr__(self) -> str:
        """Show the device id only, never the token."""
        return f"DeviceCredentials(device_id={self.device_id!r})"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One item of the device table."""

    device_id: str
    token: str
    user_id: str
    status: str
    kind: str
    created_at: str
    updated_at: str

    def __repr__(self) -> str:
        """Show the record without its token."""
        # Without the token: records end up in logs and diagnostics.
        fields = f"device_id={self.device_id!r}, kind={self.kind!r}, status={self.status!r}"
        return f"DeviceRecord({fields})"

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> DeviceRecord:
        """Read a DynamoDB item."""
        return cls(
            device_id=str(item["device_id"]),
            token=str(item["token"]),
            user_id=str(item.get("user_id", "")),
            status=str(item.get("status", "")),
            kind=str(item.get("kind", "board")),
            created_at=str(item.get("created_at", "")),
            updated_at=str(item.get("updated_at", "")),
        )


def check_device_id(device_id: str, kind: DeviceKind | None = None) -> None:
    """Boards are MACs (12 lowercase hex); any id must be a valid principal id (alphanumeric)."""
    if kind is not None and kind not in DEVICE_KINDS:
        raise InvalidDeviceIdError(f"Unknown device kind {kind!r} (board or bridge)")
    if not isinstance(device_id, str) or not PRINCIPAL_ID.fullmatch(device_id):
        raise InvalidDeviceIdError(
            f"Not a valid device id (1-128 letters or digits): {device_id!r}"
        )
    if kind == "board" and not BOARD_ID.fullmatch(device_id):
        raise InvalidDeviceIdError(
            f"Not a board id (the MAC as 12 lowercase hex characters): {device_id!r}"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _known(device_id: str) -> Iterator[None]:
    """Treat a failed `attribute_exists(device_id)` condition as a device not registered."""
    try:
        yield
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            raise UnknownDeviceError(f"Device {device_id} is not registered") from err
        raise


class DeviceRegistry:
    """Register, rotate, revoke and delete devices (every call blocks)."""

    def __init__(self, open_table: Callable[[], Any]) -> None:
        """Set up the registry; the table is opened on first use.

        `open_table` returns the boto3 DynamoDB Table resource; it is called on first use,
        so a registry can be made in the event loop (building boto3 resources reads files).
        """
        self._open_table = open_table

    @cached_property
    def _table(self) -> Any:
        return self._open_table()

    def register(
        self, device_id: str, user_id: str, kind: DeviceKind = "board"
    ) -> DeviceCredentials:
        """Create or replace the device with a fresh token (any old token stops working)."""
        check_device_id(device_id, kind)
        token = new_token()
        now = _now()
        with translated_errors("Registering the device"):
            existing = self._table.get_item(Key={"device_id": device_id}, ConsistentRead=True).get(
                "Item"
            )
            self._table.put_item(
                Item={
                    "device_id": device_id,
                    "token": token,
                    "user_id": user_id,
                    "status": ACTIVE,
                    "kind": kind,
                    "created_at": existing.get("created_at", now) if existing else now,
                    "updated_at": now,
                }
            )
        return DeviceCredentials(device_id, token)

    def get(self, device_id: str) -> DeviceRecord | None:
        """Return the device's record, or None."""
        check_device_id(device_id)
        with translated_errors("Reading the device"):
            item = self._table.get_item(Key={"device_id": device_id}, ConsistentRead=True).get(
                "Item"
            )
        return DeviceRecord.from_item(item) if item else None

    def find_by_token(self, token: str) -> DeviceRecord | None:
        """Return the device holding a token (as the authorizer looks it up), or None."""
        if not token:
            return None
        with translated_errors("Looking up the token"):
            items = self._table.query(
                IndexName=TOKEN_INDEX, KeyConditionExpression=Key("token").eq(token)
            )["Items"]
        return DeviceRecord.from_item(items[0]) if len(items) == 1 else None

    def rotate_token(self, device_id: str) -> DeviceCredentials:
        """Issue a new token for an existing device; the old one stops working at once."""
        check_device_id(device_id)
        token = new_token()
        with translated_errors("Rotating the token"), _known(device_id):
            self._table.update_item(
                Key={"device_id": device_id},
                UpdateExpression="SET #token = :token, #status = :active, updated_at = :now",
                ConditionExpression="attribute_exists(device_id)",
                ExpressionAttributeNames={"#token": "token", "#status": "status"},
                ExpressionAttributeValues={":token": token, ":active": ACTIVE, ":now": _now()},
            )
        return DeviceCredentials(device_id, token)

    def revoke(self, device_id: str) -> None:
        """Keep the record but refuse its token from now on."""
        check_device_id(device_id)
        with translated_errors("Revoking the device"), _known(device_id):
            self._table.update_item(
                Key={"device_id": device_id},
                UpdateExpression="SET #status = :revoked, updated_at = :now",
                ConditionExpression="attribute_exists(device_id)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":revoked": REVOKED, ":now": _now()},
            )

    def delete(self, device_id: str) -> None:
        """Remove the device (idempotent); its token stops working at the next connection."""
        check_device_id(device_id)
        with translated_errors("Deleting the device"):
            self._table.delete_item(Key={"device_id": device_id})
