"""Zones wired to relays, sirens or buzzers."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later

from .board.models import firmware_support
from .const import DOMAIN
from .entity import KonnectedEntity
from .hub import KonnectedHub
from .iot.connection import BridgeNotConnectedError
from .iot.messages import ActuatorCommand
from .platform import async_setup_board_platform
from .runtime import BoardInfo, KonnectedConfigEntry
from .zones import OutputAction, ZoneConfig, ZoneType

# Commands go out over one MQTT connection; let them queue there, not here.
PARALLEL_UPDATES = 0

# The firmware reports -1 while an output repeats forever.
REPEATING_FOREVER = -1
# How long after a pulse should have ended its level is read back (boards before 2.3.4).
PULSE_END_MARGIN_S = 1.0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per output zone."""
    hub = entry.runtime_data.hub

    def board_entities(info: BoardInfo, zones: Collection[str] | None) -> list[KonnectedEntity]:
        entities: list[KonnectedEntity] = []
        for zone, config in info.zones.items():
            if config.type is ZoneType.SWITCH and (zones is None or zone in zones):
                entities.append(ZoneSwitch(hub, info, zone, config))
                entities.extend(ZoneActionSwitch(hub, info, zone, config, action) for action in config.actions)
        return entities

    async_setup_board_platform(entry, Platform.SWITCH, async_add_entities, board_entities)


class ZoneSwitch(KonnectedEntity, SwitchEntity):
    """An output; momentary settings make `turn_on` a pulse or a repeating pattern."""

    _attr_translation_key = "output"

    def __init__(
        self, hub: KonnectedHub, info: BoardInfo, zone: str, config: ZoneConfig, key: str | None = None
    ) -> None:
        """Set up the output from its settings."""
        super().__init__(hub, info, key or zone, zone)
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
        return level in (REPEATING_FOREVER, self._config.trigger)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Drive the output to its trigger level (a pulse when momentary is set)."""
        await self._send(self._on_command(self._config.momentary_ms, self._config.repeat, self._config.pause_ms))

    def _on_command(self, momentary_ms: int | None, repeat: int | None, pause_ms: int | None) -> ActuatorCommand:
        return ActuatorCommand(
            zone=self._zone, state=self._config.trigger, momentary_ms=momentary_ms, times=repeat, pause_ms=pause_ms
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
        pulse = command.pulse
        if pulse is not None and pulse.duration_ms is not None and not self._reports_pulse_end:
            # Before 2.3.4 the board never says a pulse ended: read the level once it should have.
            self.async_on_remove(
                async_call_later(
                    self.hass,
                    pulse.duration_ms / 1000 + PULSE_END_MARGIN_S,
                    HassJob(self._async_read_back_level),
                )
            )

    @callback
    def _async_read_back_level(self, _now: datetime) -> None:
        self._hub.async_schedule_refresh(self._info.board_id)

    @property
    def _reports_pulse_end(self) -> bool:
        return firmware_support(self._info.sw_version).reports_pulse_end


class ZoneActionSwitch(ZoneSwitch):
    """One more named pattern on an output (like the old integration's `more_states`).

    On while the output is on, and turning it on sends this action's pattern.
    """

    _attr_translation_key = "output_action"

    def __init__(
        self, hub: KonnectedHub, info: BoardInfo, zone: str, config: ZoneConfig, action: OutputAction
    ) -> None:
        """Make the unique id from the action's key; its name is what the user called it."""
        super().__init__(hub, info, zone, config, key=f"{zone}_{action.key}")
        self._action = action
        self._attr_translation_key = "output_action"
        self._attr_translation_placeholders = {"zone": zone, "action": action.key}
        # The zone's own name belongs to its first action; this one has its own or a default.
        self.__dict__.pop("_attr_name", None)
        if action.name:
            self._attr_name = action.name

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send this action's pattern at the output's on level."""
        action = self._action
        await self._send(self._on_command(action.momentary_ms, action.repeat, action.pause_ms))
