"""The two zone forms of the board flows: what each zone is wired as, then only that type's settings.

Shared by adopting a board by address and by reconfiguring an adopted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

import probatio as vol

from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .const import CONF_BLINK
from .zones import DEFAULT_POLL_INTERVAL_MINUTES, ZoneConfig, ZoneType, pulse_errors

ZONE_TYPES: Final = [str(zone_type) for zone_type in ZoneType]
BINARY_DEVICE_CLASSES: Final = sorted(str(device_class) for device_class in BinarySensorDeviceClass)
DEFAULT_DEVICE_CLASS: Final = "door"
# A pulse the user has not shaped yet: half a second, once.
DEFAULT_PULSE_MS: Final = 500
REPEAT_FOREVER: Final = -1

# The fields each zone type asks for; nothing else is shown for it.
FIELDS_BY_TYPE: Final[dict[ZoneType, tuple[str, ...]]] = {
    ZoneType.BINARY_SENSOR: ("name", "device_class", "invert"),
    ZoneType.SWITCH: ("name", "trigger", "momentary_ms", "pause_ms", "repeat"),
    ZoneType.DHT: ("name", "poll_interval"),
    ZoneType.DS18B20: ("name", "poll_interval"),
}


def zone_key(zone: str) -> str:
    """Form key of a zone (`zone_1`, `zone_out`)."""
    return f"zone_{zone}"


def zone_types_schema(zone_names: tuple[str, ...], zones: Mapping[str, ZoneConfig], blink: bool) -> vol.Schema:
    """Step one: one choice per zone, and the board's LED."""
    select = SelectSelector(
        SelectSelectorConfig(options=ZONE_TYPES, translation_key="zone_type", mode=SelectSelectorMode.DROPDOWN)
    )
    fields: dict[Any, Any] = {
        vol.Required(zone_key(zone), default=str(zones.get(zone, ZoneConfig()).type)): select for zone in zone_names
    }
    fields[vol.Required(CONF_BLINK, default=blink)] = BooleanSelector()
    return vol.Schema(fields)


def zone_types_from_form(zone_names: tuple[str, ...], user_input: Mapping[str, Any]) -> dict[str, ZoneType]:
    """Return the chosen type of every zone that is wired to something."""
    types = {zone: ZoneType(user_input.get(zone_key(zone), ZoneType.DISABLED)) for zone in zone_names}
    return {zone: zone_type for zone, zone_type in types.items() if zone_type is not ZoneType.DISABLED}


def _field(name: str, config: ZoneConfig) -> tuple[Any, Any]:
    """One setting's marker (with a sensible default) and selector."""
    box = NumberSelectorMode.BOX
    match name:
        case "name":
            return vol.Optional("name", default=config.name or ""), TextSelector()
        case "device_class":
            return vol.Required("device_class", default=config.device_class or DEFAULT_DEVICE_CLASS), SelectSelector(
                SelectSelectorConfig(options=BINARY_DEVICE_CLASSES, translation_key="device_class")
            )
        case "invert":
            return vol.Required("invert", default=config.invert), BooleanSelector()
        case "trigger":
            return vol.Required("trigger", default=str(config.trigger)), SelectSelector(
                SelectSelectorConfig(options=["1", "0"], translation_key="trigger")
            )
        case "momentary_ms":
            return vol.Required("momentary_ms", default=config.momentary_ms or 0), NumberSelector(
                NumberSelectorConfig(min=0, max=600_000, step=1, mode=box, unit_of_measurement="ms")
            )
        case "pause_ms":
            return vol.Required("pause_ms", default=config.pause_ms or 0), NumberSelector(
                NumberSelectorConfig(min=0, max=600_000, step=1, mode=box, unit_of_measurement="ms")
            )
        case "repeat":
            return vol.Required("repeat", default=config.repeat or 1), NumberSelector(
                NumberSelectorConfig(min=REPEAT_FOREVER, max=1000, step=1, mode=box)
            )
        case _:  # poll_interval
            return vol.Required("poll_interval", default=config.poll_interval), NumberSelector(
                NumberSelectorConfig(min=1, max=1440, step=1, mode=box, unit_of_measurement="min")
            )


def zone_settings_schema(types: Mapping[str, ZoneType], zones: Mapping[str, ZoneConfig]) -> vol.Schema:
    """Step two: a section per wired zone with only its type's settings."""
    fields: dict[Any, Any] = {}
    for zone, zone_type in types.items():
        current = zones.get(zone)
        config = current if current is not None and current.type is zone_type else ZoneConfig(type=zone_type)
        fields[vol.Required(zone_key(zone))] = section(
            vol.Schema(dict(_field(name, config) for name in FIELDS_BY_TYPE[zone_type])), {"collapsed": False}
        )
    return vol.Schema(fields)


def zones_from_settings(
    types: Mapping[str, ZoneType], user_input: Mapping[str, Any], current: Mapping[str, ZoneConfig]
) -> tuple[dict[str, ZoneConfig], dict[str, str]]:
    """Zone settings from step two, or form errors keyed by the zone's section.

    An output that stays an output keeps its further actions (carried over from `more_states`).
    """
    zones: dict[str, ZoneConfig] = {}
    errors: dict[str, str] = {}
    for zone, zone_type in types.items():
        form = user_input.get(zone_key(zone), {})
        name = str(form.get("name") or "").strip() or None
        match zone_type:
            case ZoneType.BINARY_SENSOR:
                zones[zone] = ZoneConfig(
                    type=zone_type,
                    name=name,
                    device_class=form.get("device_class") or DEFAULT_DEVICE_CLASS,
                    invert=bool(form.get("invert", False)),
                )
            case ZoneType.SWITCH:
                config, error = _output_from_form(name, form)
                if error:
                    errors[zone_key(zone)] = error
                previous = current.get(zone)
                if previous is not None and previous.type is ZoneType.SWITCH:
                    config = replace(config, actions=previous.actions)
                zones[zone] = config
            case _:
                zones[zone] = ZoneConfig(
                    type=zone_type,
                    name=name,
                    poll_interval=int(form.get("poll_interval") or DEFAULT_POLL_INTERVAL_MINUTES),
                )
    return zones, errors


def _output_from_form(name: str | None, form: Mapping[str, Any]) -> tuple[ZoneConfig, str | None]:
    """Return an output: steady (no pulse length) or pulsed `repeat` times with `pause` between pulses.

    The firmware pulses forever when a pulse has no count (switch.lua), so a count is always kept,
    and combinations that mean nothing are refused (zones.pulse_errors) rather than guessed.
    """
    momentary = int(form.get("momentary_ms") or 0)
    pause = int(form.get("pause_ms") or 0)
    repeat = int(form.get("repeat", 1))
    trigger = int(form.get("trigger", "1"))
    if repeat == 0:
        return ZoneConfig(type=ZoneType.SWITCH, name=name, trigger=trigger), "repeat_invalid"
    if errors := pulse_errors(momentary, pause, repeat):
        return ZoneConfig(type=ZoneType.SWITCH, name=name, trigger=trigger), next(iter(errors.values()))
    if not momentary:
        return ZoneConfig(type=ZoneType.SWITCH, name=name, trigger=trigger), None
    return (
        ZoneConfig(
            type=ZoneType.SWITCH,
            name=name,
            trigger=trigger,
            momentary_ms=momentary,
            pause_ms=pause or None,
            repeat=None if repeat == 1 else repeat,
        ),
        None,
    )
