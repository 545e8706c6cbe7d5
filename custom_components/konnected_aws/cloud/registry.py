"""Devices in the DynamoDB table the authorizer reads (schema: docs/architecture.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from boto3.dynamodb.conditions import Key

from ._boto import translated_errors
from .errors import InvalidDeviceIdError
from .signing import new_token

TOKEN_INDEX: Final = "token-index"
BOARD_ID: Final = re.compile(r"^[0-9a-f]{12}$")
# principalId limit of AWS IoT: alphanumeric, at most 128 characters.
PRINCIPAL_ID: Final = re.compile(r"^[A-Za-z0-9]{1,128}$")

type DeviceKind = Literal["board", "bridge"]


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """A device id and its (secret) token."""

    device_id: str
    token: str

    def __repr__(self) -> str:
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
        return f"DeviceRecord(device_id={self.device_id!r}, kind={self.kind!r}, status={self.status!r})"

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


def check_device_id(device_id: str, kind: DeviceKind) -> None:
    """Boards are MACs (12 lowercase hex); any id must be a valid principal id."""
    if kind == "board" and not BOARD_ID.match(device_id):
        raise InvalidDeviceIdError(f"Not a board id (12 lowercase hex characters): {device_id!r}")
    if not PRINCIPAL_ID.match(device_id):
        raise InvalidDeviceIdError(f"Not a valid device id: {device_id!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DeviceRegistry:
    """Register, rotate, revoke and delete devices."""

    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource."""
        self._table = table

    def register(self, device_id: str, user_id: str, kind: DeviceKind = "board") -> DeviceCredentials:
        """Create or replace the device with a fresh token (any old token stops working)."""
        check_device_id(device_id, kind)
        token = new_token()
        now = _now()
        with translated_errors("Registering the device"):
            existing = self._table.get_item(Key={"device_id": device_id}).get("Item")
            self._table.put_item(
                Item={
                    "device_id": device_id,
                    "token": token,
                    "user_id": user_id,
                    "status": "active",
                    "kind": kind,
                    "created_at": existing.get("created_at", now) if existing else now,
                    "updated_at": now,
                }
            )
        return DeviceCredentials(device_id, token)

    def get(self, device_id: str) -> DeviceRecord | None:
        """The device's record, or None."""
        with translated_errors("Reading the device"):
            item = self._table.get_item(Key={"device_id": device_id}, ConsistentRead=True).get("Item")
        return DeviceRecord.from_item(item) if item else None

    def find_by_token(self, token: str) -> DeviceRecord | None:
        """The device holding a token (as the authorizer looks it up)."""
        with translated_errors("Looking up the token"):
            items = self._table.query(IndexName=TOKEN_INDEX, KeyConditionExpression=Key("token").eq(token))[
                "Items"
            ]
        return DeviceRecord.from_item(items[0]) if len(items) == 1 else None

    def rotate_token(self, device_id: str) -> DeviceCredentials:
        """A new token for an existing device; the old one stops working at once."""
        token = new_token()
        with translated_errors("Rotating the token"):
            self._table.update_item(
                Key={"device_id": device_id},
                UpdateExpression="SET #token = :token, #status = :active, updated_at = :now",
                ConditionExpression="attribute_exists(device_id)",
                ExpressionAttributeNames={"#token": "token", "#status": "status"},
                ExpressionAttributeValues={":token": token, ":active": "active", ":now": _now()},
            )
        return DeviceCredentials(device_id, token)

    def revoke(self, device_id: str) -> None:
        """Keep the record but refuse its token from now on."""
        with translated_errors("Revoking the device"):
            self._table.update_item(
                Key={"device_id": device_id},
                UpdateExpression="SET #status = :revoked, updated_at = :now",
                ConditionExpression="attribute_exists(device_id)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":revoked": "revoked", ":now": _now()},
            )

    def delete(self, device_id: str) -> None:
        """Remove the device (idempotent)."""
        with translated_errors("Deleting the device"):
            self._table.delete_item(Key={"device_id": device_id})
