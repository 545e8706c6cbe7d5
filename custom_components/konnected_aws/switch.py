"""Zones wired to relays, sirens or buzzers."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import KonnectedEntity
from .hub import KonnectedHub
from .iot.connection import BridgeNotConnectedError
from .iot.messages import ActuatorCommand
from .platform import async_setup_board_platform
from .runtime import BoardInfo, KonnectedConfigEntry
from .zones import ZoneConfig, ZoneType

# Commands go out over one MQTT connection; let them queue there, not here.
PARALLEL_UPDATES = 0

# The firmware reports -1 while an output repeats forever.
REPEATING_FOREVER = -1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per output zone."""
    hub = entry.runtime_data.hub

    def board_entities(info: BoardInfo, zones: Collection[str] | None) -> list[KonnectedEntity]:
        return [
            ZoneSwitch(hub, info, zone, config)
            for zone, config in info.zones.items()
            if config.type is ZoneType.SWITCH and (zones is None or zone in zones)
        ]

    async_setup_board_platform(entry, Platform.SWITCH, async_add_entities, board_entities)


class ZoneSwitch(KonnectedEntity, SwitchEntity):
    """An output; momentary settings make `turn_on` a pulse or a repeating pattern."""

    _attr_translation_key = "output"

    def __init__(self, hub: KonnectedHub, info: BoardInfo, zone: str, config: ZoneConfig) -> None:
        """Set up the output from its settings."""
        super().__init__(hub, info, zone, zone)
        self._zone = self._report_key = zone
        self._config = config
        self._attr_translation_placeholders = {"zone": zone}
        if zone == "out":
            self._attr_translation_key = "alarm_output"
        if config.name:
            self._attr_name = config.name

    @property
    def is_on(self) -> bool | None:
        """None until the board reports the output's level."""
        level = self.board.zone_levels.get(self._zone)
        if level is None:
            return None
        return level == REPEATING_FOREVER or level == self._config.trigger

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Drive the output to its trigger level (a pulse when momentary is set)."""
        config = self._config
        await self._send(
            ActuatorCommand(
                zone=self._zone,
                state=config.trigger,
                momentary_ms=config.momentary_ms,
                times=config.repeat,
                pause_ms=config.pause_ms,
            )
        )

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Drive the output to its idle level (also stops a repeating pattern)."""
        await self._send(ActuatorCommand(zone=self._zone, state=1 - self._config.trigger))

    async def _send(self, command: ActuatorCommand) -> None:
        # The state changes when the board reports it, not optimistically.
        try:
            await self._hub.async_send_command(self._info.board_id, command)
        except BridgeNotConnectedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="not_connected"
            ) from err
