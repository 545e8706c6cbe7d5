"""Temperature and humidity from DHT and DS18B20 zones, and the board's Wi-Fi signal."""

from __future__ import annotations

from collections.abc import Collection

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import KonnectedEntity
from .hub import HEARTBEAT_KEY, KonnectedHub, signal_new_probe
from .platform import async_setup_board_platform
from .runtime import BoardInfo, KonnectedConfigEntry
from .zones import ZoneType

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add climate sensors per DHT zone, one per DS18B20 probe as probes appear."""
    runtime = entry.runtime_data
    hub = runtime.hub

    def board_entities(info: BoardInfo, zones: Collection[str] | None) -> list[KonnectedEntity]:
        entities: list[KonnectedEntity] = [] if zones is not None else [SignalStrengthSensor(hub, info)]
        for zone, config in info.zones.items():
            if zones is not None and zone not in zones:
                continue
            if config.type is ZoneType.DHT:
                entities.append(DhtTemperatureSensor(hub, info, zone))
                entities.append(DhtHumiditySensor(hub, info, zone))
            elif config.type is ZoneType.DS18B20:
                # Probes heard before come back at once; others as they report.
                entities.extend(
                    ProbeTemperatureSensor(hub, info, zone, address)
                    for address in hub.track_board(info.board_id).probes.get(zone, {})
                )
        return entities

    async_setup_board_platform(entry, Platform.SENSOR, async_add_entities, board_entities)

    @callback
    def add_probe(board_id: str, zone: str, address: str) -> None:
        info = runtime.boards.get(board_id)
        if info is None or zone not in info.zones or info.zones[zone].type is not ZoneType.DS18B20:
            return
        async_add_entities(
            [ProbeTemperatureSensor(hub, info, zone, address)],
            config_subentry_id=info.subentry_id,
        )

    entry.async_on_unload(async_dispatcher_connect(hass, signal_new_probe(entry.entry_id), add_probe))


class _ClimateSensor(KonnectedEntity, SensorEntity):
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(
        self, hub: KonnectedHub, info: BoardInfo, zone: str, key: str, label: str
    ) -> None:
        super().__init__(hub, info, f"{zone}_{key}", zone)
        self._zone = self._report_key = zone
        self._attr_translation_placeholders = {"zone": zone, "label": label}
        # A zone the user named overrides the translated name.
        name = info.zones[zone].name
        if name:
            self._attr_name = f"{name} {label}"


class DhtTemperatureSensor(_ClimateSensor):
    """Temperature of a DHT sensor."""

    _attr_device_class = SensorDeviceClass.TEMPERATURE
    _attr_native_unit_of_measurement = UnitOfTemperature.CELSIUS
    _attr_translation_key = "zone_temperature"

    def __init__(self, hub: KonnectedHub, info: BoardInfo, zone: str) -> None:
        """One per DHT zone."""
        super().__init__(hub, info, zone, "temperature", "temperature")

    @property
    def native_value(self) -> float | None:
        """Last reading, None before the first."""
        reading = self.board.climate.get(self._zone)
        return None if reading is None else reading[0]


class DhtHumiditySensor(_ClimateSensor):
    """Relative humidity of a DHT sensor."""

    _attr_device_class = SensorDeviceClass.HUMIDITY
    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_translation_key = "zone_humidity"

    def __init__(self, hub: KonnectedHub, info: BoardInfo, zone: str) -> None:
        """One per DHT zone."""
        super().__init__(hub, info, zone, "humidity", "humidity")

    @property
    def native_value(self) -> float | None:
        """Last reading, None before the first."""
        reading = self.board.climate.get(self._zone)
        return None if reading is None else reading[1]


class ProbeTemperatureSensor(_ClimateSensor):
    """One DS18B20 probe; several can share a zone's 1-Wire bus."""

    _attr_device_class = SensorDeviceClass.TEMPERATURE
    _attr_native_unit_of_measurement = UnitOfTemperature.CELSIUS
    _attr_translation_key = "probe_temperature"

    def __init__(self, hub: KonnectedHub, info: BoardInfo, zone: str, address: str) -> None:
        """One per probe address."""
        super().__init__(hub, info, zone, address.replace(":", "").lower(), address)
        self._address = address

    @property
    def native_value(self) -> float | None:
        """Last reading of this probe."""
        return self.board.probes.get(self._zone, {}).get(self._address)


class SignalStrengthSensor(KonnectedEntity, SensorEntity):
    """Wi-Fi RSSI from the board's heartbeat; rarely interesting, so off by default."""

    _attr_device_class = SensorDeviceClass.SIGNAL_STRENGTH
    _attr_native_unit_of_measurement = SIGNAL_STRENGTH_DECIBELS_MILLIWATT
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_entity_registry_enabled_default = False
    _attr_translation_key = "signal_strength"
    _report_key = HEARTBEAT_KEY

    def __init__(self, hub: KonnectedHub, info: BoardInfo) -> None:
        """One per board."""
        super().__init__(hub, info, "rssi")

    @property
    def native_value(self) -> int | None:
        """From the latest heartbeat."""
        heartbeat = self.board.heartbeat or {}
        rssi = heartbeat.get("rssi")
        return rssi if isinstance(rssi, int) and not isinstance(rssi, bool) else None
