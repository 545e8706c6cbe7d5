"""Base class for every entity of a board."""

from __future__ import annotations

from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .hub import BoardState, KonnectedHub
from .runtime import BoardInfo


def board_device_info(info: BoardInfo) -> DeviceInfo:
    """Device registry entry of a board (shared with the adoption flow)."""
    return DeviceInfo(
        identifiers={(DOMAIN, info.board_id)},
        connections={(CONNECTION_NETWORK_MAC, info.mac)},
        manufacturer="Konnected",
        model=info.model,
        sw_version=info.sw_version,
        hw_version=info.hw_version,
        name=info.title,
        configuration_url=f"http://{info.host}:{info.port}",
    )


class KonnectedEntity(Entity):
    """An entity fed by one board's reports through the hub."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # Which reports update the entity (a zone id, or HEARTBEAT_KEY); None: availability only.
    _report_key: str | None = None

    def __init__(self, hub: KonnectedHub, info: BoardInfo, key: str, zone: str | None = None) -> None:
        """Bind to the board; `key` makes the unique id and never depends on settings.

        `zone` is the zone the entity belongs to (None for the board's own entities): when
        that zone's settings change, the entity is replaced; the others stay as they are.
        """
        self._hub = hub
        self._info = info
        self.zone = zone
        self._attr_unique_id = f"{info.board_id}_{key}"
        self._attr_device_info = board_device_info(info)

    @property
    def board_id(self) -> str:
        """The board this entity belongs to."""
        return self._info.board_id

    @property
    def board(self) -> BoardState:
        """The board's current state."""
        return self._hub.track_board(self._info.board_id)

    @property
    def available(self) -> bool:
        """Only while both the bridge and the board are reachable."""
        return self._hub.connected and self.board.online

    async def async_added_to_hass(self) -> None:
        """Follow the board's reports."""
        await super().async_added_to_hass()
        self.async_on_remove(self._hub.async_register_entity(self))
        self.async_on_remove(
            self._hub.async_add_listener(
                self._info.board_id, self.async_write_ha_state, self._report_key
            )
        )
