"""Zones wired to contacts or detectors, and each board's connectivity."""

from __future__ import annotations

from collections.abc import Collection

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import KonnectedEntity
from .hub import KonnectedHub
from .platform import async_setup_board_platform
from .runtime import BoardInfo, KonnectedConfigEntry
from .zones import ZoneConfig, ZoneType

# Entities only receive pushed reports; nothing to throttle.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor per sensor zone and a connectivity sensor per board."""
    hub = entry.runtime_data.hub

    def board_entities(info: BoardInfo, zones: Collection[str] | None) -> list[KonnectedEntity]:
        entities: list[KonnectedEntity] = [] if zones is not None else [BoardConnectivitySensor(hub, info)]
        entities.extend(
            ZoneBinarySensor(hub, info, zone, config)
            for zone, config in info.zones.items()
            if config.type is ZoneType.BINARY_SENSOR and (zones is None or zone in zones)
        )
        return entities

    async_setup_board_platform(entry, Platform.BINARY_SENSOR, async_add_entities, board_entities)


class ZoneBinarySensor(KonnectedEntity, BinarySensorEntity):
    """A zone input: on when the circuit is open (the firmware reports high), unless inverted."""

    _attr_translation_key = "zone"

    def __init__(self, hub: KonnectedHub, info: BoardInfo, zone: str, config: ZoneConfig) -> None:
        """Set up the zone from its settings."""
        super().__init__(hub, info, zone, zone)
        self._zone = self._report_key = zone
        self._invert = config.invert
        self._attr_translation_placeholders = {"zone": zone}
        if config.name:
            self._attr_name = config.name
        if config.device_class:
            self._attr_device_class = BinarySensorDeviceClass(config.device_class)

    @property
    def is_on(self) -> bool | None:
        """None until the board has told us its level."""
        level = self.board.zone_levels.get(self._zone)
        if level is None:
            return None
        return (level == 1) != self._invert


class BoardConnectivitySensor(KonnectedEntity, BinarySensorEntity):
    """Whether the board reports through AWS IoT."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, hub: KonnectedHub, info: BoardInfo) -> None:
        """One per board."""
        super().__init__(hub, info, "connectivity")

    @property
    def available(self) -> bool:
        """Known as long as Home Assistant itself is connected to AWS IoT."""
        return self._hub.connected

    @property
    def is_on(self) -> bool:
        """Heard from within two heartbeat periods."""
        return self.board.online
