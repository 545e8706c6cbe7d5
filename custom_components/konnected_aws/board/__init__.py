"""The legacy Konnected firmware's local API: client, models and zones. No Home Assistant imports."""

from __future__ import annotations

from .client import (
    BoardClient,
    BoardConnectionError,
    BoardError,
    BoardLockedError,
    BoardResponseError,
    BoardSettingsNotStoredError,
    BoardTimeoutError,
    UnstorableSettingError,
)
from .discovery import find_board_port
from .models import (
    MINIMUM_FIRMWARE,
    PORT_RANGE,
    BoardStatus,
    FirmwareSupport,
    FirmwareVersion,
    Pulse,
    board_id_from_mac,
    firmware_support,
    is_supported,
    parse_firmware_version,
    usual_port_from_mac,
    zones_for_model,
)

__all__ = [
    "MINIMUM_FIRMWARE",
    "PORT_RANGE",
    "BoardClient",
    "BoardConnectionError",
    "BoardError",
    "BoardLockedError",
    "BoardResponseError",
    "BoardSettingsNotStoredError",
    "BoardStatus",
    "BoardTimeoutError",
    "FirmwareSupport",
    "FirmwareVersion",
    "Pulse",
    "UnstorableSettingError",
    "board_id_from_mac",
    "find_board_port",
    "firmware_support",
    "is_supported",
    "parse_firmware_version",
    "usual_port_from_mac",
    "zones_for_model",
]
