"""The legacy Konnected firmware's local API: client, models and zones. No Home Assistant imports."""

from __future__ import annotations

from .client import (
    BoardClient,
    BoardConnectionError,
    BoardError,
    BoardResponseError,
    BoardTimeoutError,
)
from .models import BoardStatus, board_id_from_mac, is_supported, zones_for_model

__all__ = [
    "BoardClient",
    "BoardConnectionError",
    "BoardError",
    "BoardResponseError",
    "BoardStatus",
    "BoardTimeoutError",
    "board_id_from_mac",
    "is_supported",
    "zones_for_model",
]
