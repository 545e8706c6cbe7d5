"""Diagnostics: the account's setup, the bridge and every board, with secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import CONF_ACCESS_KEY_ID, CONF_BRIDGE_TOKEN, CONF_SECRET_ACCESS_KEY
from .runtime import BoardInfo, KonnectedConfigEntry

# Keys of the board's own status that identify it on the network.
TO_REDACT = {CONF_ACCESS_KEY_ID, CONF_SECRET_ACCESS_KEY, CONF_BRIDGE_TOKEN, "token", "token_signature", "mac", "ip", "gw"}


def _board_diagnostics(entry: KonnectedConfigEntry, info: BoardInfo) -> dict[str, Any]:
    hub = entry.runtime_data.hub
    state = hub.track_board(info.board_id)
    return {
        "info": {**asdict(info), "zones": {zone: config.as_dict() for zone, config in info.zones.items()}},
        "online": state.online,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "zone_levels": state.zone_levels,
        "climate": state.climate,
        "probes": state.probes,
        "heartbeat": async_redact_data(state.heartbeat or {}, TO_REDACT),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: KonnectedConfigEntry
) -> dict[str, Any]:
    """Everything needed to debug a setup, nothing that grants access."""
    runtime = entry.runtime_data
    return {
        "entry": async_redact_data(dict(entry.data), TO_REDACT),
        "bridge": {
            "connected": runtime.hub.connected,
            "last_error": runtime.hub.connection.last_error,
            "url": runtime.iot_url,
        },
        "boards": {
            board_id: _board_diagnostics(entry, info) for board_id, info in runtime.boards.items()
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: KonnectedConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One board's part of the diagnostics."""
    for info in entry.runtime_data.boards.values():
        if any(identifier[1] == info.board_id for identifier in device.identifiers):
            return _board_diagnostics(entry, info)
    return {}
