"""What each zone of a board is set up as, and how that maps to the firmware's settings.

Stored in the board's config subentry under `zones`, keyed by zone name. Entity unique
ids depend only on the board id and zone (never on these settings), so editing a zone
never renames its entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final, Self

from .board import BoardStatus, zones_for_model


class ZoneType(StrEnum):
    """What is wired to a zone."""

    DISABLED = "disabled"
    BINARY_SENSOR = "binary_sensor"
    SWITCH = "switch"
    DHT = "dht"
    DS18B20 = "ds18b20"


DEFAULT_POLL_INTERVAL_MINUTES: Final = 3  # the firmware's own default


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """One zone's settings; fields that do not apply to its type are ignored."""

    type: ZoneType = ZoneType.DISABLED
    name: str | None = None
    device_class: str | None = None
    invert: bool = False
    # Level that turns the output on (1 high, 0 low): firmware-side, needs re-provisioning.
    trigger: int = 1
    momentary_ms: int | None = None
    pause_ms: int | None = None
    repeat: int | None = None
    poll_interval: int = DEFAULT_POLL_INTERVAL_MINUTES

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read stored settings; unknown keys are ignored so older entries still load."""
        return cls(
            type=ZoneType(data.get("type", ZoneType.DISABLED)),
            name=data.get("name") or None,
            device_class=data.get("device_class") or None,
            invert=bool(data.get("invert", False)),
            trigger=1 if data.get("trigger", 1) else 0,
            momentary_ms=_optional_int(data.get("momentary_ms")),
            pause_ms=_optional_int(data.get("pause_ms")),
            repeat=_optional_int(data.get("repeat")),
            poll_interval=int(data.get("poll_interval") or DEFAULT_POLL_INTERVAL_MINUTES),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the subentry."""
        data = asdict(self)
        data["type"] = str(self.type)
        return data


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def zones_from_data(data: Mapping[str, Any]) -> dict[str, ZoneConfig]:
    """All zones of a board subentry's `zones` mapping."""
    return {str(zone): ZoneConfig.from_dict(config) for zone, config in data.items()}


def firmware_zone_settings(zones: Mapping[str, ZoneConfig]) -> dict[str, list[dict[str, Any]]]:
    """The zone lists of the firmware's `PUT /settings` body."""
    sensors: list[dict[str, Any]] = []
    actuators: list[dict[str, Any]] = []
    dht_sensors: list[dict[str, Any]] = []
    ds18b20_sensors: list[dict[str, Any]] = []
    for zone, config in sorted(zones.items()):
        match config.type:
            case ZoneType.BINARY_SENSOR:
                sensors.append({"zone": zone})
            case ZoneType.SWITCH:
                actuators.append({"zone": zone, "trigger": config.trigger})
            case ZoneType.DHT:
                dht_sensors.append({"zone": zone, "poll_interval": config.poll_interval})
            case ZoneType.DS18B20:
                ds18b20_sensors.append({"zone": zone, "poll_interval": config.poll_interval})
            case ZoneType.DISABLED:
                pass
    return {
        "sensors": sensors,
        "actuators": actuators,
        "dht_sensors": dht_sensors,
        "ds18b20_sensors": ds18b20_sensors,
    }


def needs_reprovisioning(old: Mapping[str, ZoneConfig], new: Mapping[str, ZoneConfig]) -> bool:
    """True when the board itself must learn the change (it reboots to apply it)."""
    return firmware_zone_settings(old) != firmware_zone_settings(new)


def default_zones(status: BoardStatus) -> dict[str, ZoneConfig]:
    """Zones to start with: what the board is already set up for, else contacts and one output."""
    configured: dict[str, ZoneConfig] = {}
    for zone in status.sensors:
        configured[zone] = ZoneConfig(type=ZoneType.BINARY_SENSOR, device_class="opening")
    for zone in status.actuators:
        configured[zone] = ZoneConfig(type=ZoneType.SWITCH)
    for zone in status.dht_sensors:
        configured[zone] = ZoneConfig(type=ZoneType.DHT)
    for zone in status.ds18b20_sensors:
        configured[zone] = ZoneConfig(type=ZoneType.DS18B20)
    if configured:
        return configured
    zones = {
        zone: ZoneConfig(type=ZoneType.BINARY_SENSOR, device_class="opening")
        for zone in zones_for_model(status.model)
        if zone != "out"
    }
    zones["out"] = ZoneConfig(type=ZoneType.SWITCH)
    return zones
