"""The device registry against moto's DynamoDB (the table made by ensure)."""

from __future__ import annotations

import pytest

from custom_components.konnected_aws.cloud import CloudAccount, DeviceRegistry
from custom_components.konnected_aws.cloud.errors import (
    CloudError,
    InvalidDeviceIdError,
    UnknownDeviceError,
)

BOARD = "8840f5209948"


@pytest.fixture
def registry(account: CloudAccount) -> DeviceRegistry:
    """The registry on a freshly set up account."""
    account.ensure()
    return account.registry


def test_register_creates_an_active_device_with_a_fresh_token(registry: DeviceRegistry) -> None:
    """Each registration gets its own token; the record follows the contract's schema."""
    first = registry.register(BOARD, "user-1")
    record = registry.get(BOARD)
    assert record is not None
    assert (record.device_id, record.token, record.user_id, record.status, record.kind) == (
        BOARD,
        first.token,
        "user-1",
        "active",
        "board",
    )
    assert record.created_at.endswith("+00:00") and record.updated_at == record.created_at
    second = registry.register(BOARD, "user-1")
    assert second.token != first.token
    assert registry.find_by_token(first.token) is None
    again = registry.get(BOARD)
    assert again is not None and again.created_at == record.created_at


def test_find_by_token(registry: DeviceRegistry) -> None:
    """The token index finds the one device; unknown or empty tokens find nothing."""
    board = registry.register(BOARD, "user")
    bridge = registry.register("bridge0123", "user", kind="bridge")
    found = registry.find_by_token(board.token)
    assert found is not None and found.device_id == BOARD
    found_bridge = registry.find_by_token(bridge.token)
    assert found_bridge is not None and found_bridge.kind == "bridge"
    assert registry.find_by_token("unknown-token-unknown-token") is None
    assert registry.find_by_token("") is None


def test_rotate_token(registry: DeviceRegistry) -> None:
    """A rotated token replaces the old one at once and re-activates a revoked device."""
    old = registry.register(BOARD, "user")
    registry.revoke(BOARD)
    new = registry.rotate_token(BOARD)
    assert new.device_id == BOARD and new.token != old.token
    record = registry.get(BOARD)
    assert record is not None and (record.token, record.status) == (new.token, "active")
    assert registry.find_by_token(old.token) is None


def test_revoke_keeps_the_record(registry: DeviceRegistry) -> None:
    """Revoked: the token still identifies the device, but its status says no."""
    credentials = registry.register(BOARD, "user")
    registry.revoke(BOARD)
    record = registry.get(BOARD)
    assert record is not None and record.status == "revoked" and record.token == credentials.token


def test_delete_is_idempotent(registry: DeviceRegistry) -> None:
    """Deleting twice is fine; afterwards the device and its token are gone."""
    credentials = registry.register(BOARD, "user")
    registry.delete(BOARD)
    registry.delete(BOARD)
    assert registry.get(BOARD) is None
    assert registry.find_by_token(credentials.token) is None


def test_unknown_device(registry: DeviceRegistry) -> None:
    """Rotating or revoking an unregistered device is a clear error, and creates nothing."""
    with pytest.raises(UnknownDeviceError, match="000000000000 is not registered"):
        registry.rotate_token("000000000000")
    with pytest.raises(UnknownDeviceError):
        registry.revoke("000000000000")
    assert registry.get("000000000000") is None


@pytest.mark.parametrize(
    ("device_id", "kind"),
    [
        ("8840F5209948", "board"),  # uppercase MAC
        ("88:40:f5:20:99:48", "board"),
        ("8840f520994", "board"),
        ("8840f5209948aa", "board"),
        ("not-a-mac", "board"),
        ("", "bridge"),
        ("bridge-1", "bridge"),  # principal ids are alphanumeric
        ("konnected/+/#", "bridge"),
        ("a" * 129, "bridge"),
        (BOARD, "camera"),
        # `re.match` with `^...$` lets a trailing newline through; fullmatch does not.
        (f"{BOARD}\n", "board"),
        ("bridge0123\n", "bridge"),
    ],
)
def test_invalid_device_ids_are_refused(
    registry: DeviceRegistry, device_id: str, kind: str
) -> None:
    """Ids that could not be a principal id or a topic level never reach the table."""
    with pytest.raises(InvalidDeviceIdError):
        registry.register(device_id, "user", kind=kind)  # type: ignore[arg-type]
    assert isinstance(InvalidDeviceIdError("x"), ValueError | CloudError)


def test_other_operations_validate_ids(registry: DeviceRegistry) -> None:
    """get, rotate, revoke and delete refuse malformed ids too."""
    for operation in (registry.get, registry.rotate_token, registry.revoke, registry.delete):
        for device_id in ("konnected/#", f"{BOARD}\n"):
            with pytest.raises(InvalidDeviceIdError):
                operation(device_id)


def test_reprs_hide_tokens(registry: DeviceRegistry) -> None:
    """Credentials and records can be logged without leaking the token."""
    credentials = registry.register(BOARD, "user")
    record = registry.get(BOARD)
    assert credentials.token not in repr(credentials)
    assert credentials.token not in repr(record)


def test_missing_table_is_a_cloud_error(account: CloudAccount) -> None:
    """Registering before setup (no table) is a CloudError, not a botocore exception."""
    with pytest.raises(CloudError, match="ResourceNotFoundException"):
        account.registry.register(BOARD, "user")


def test_the_table_opens_on_first_use_only() -> None:
    """Home Assistant gets the registry in its event loop; building the boto3 resource reads
    botocore's data files, so that waits for the first call (made in the executor)."""
    opened: list[str] = []

    class Table:
        def delete_item(self, **kwargs: object) -> None:
            opened.append("delete")

    def open_table() -> Table:
        opened.append("open")
        return Table()

    registry = DeviceRegistry(open_table)
    assert opened == []
    registry.delete(BOARD)
    registry.delete(BOARD)
    assert opened == ["open", "delete", "delete"]
