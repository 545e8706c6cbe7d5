"""What each zone of a board is set up as, and how that maps to the firmware's settings.

Stored in the board's config subentry under `zones`, keyed by zone name. Entity unique
ids depend only on the board id and zone (never on these settings), so editing a zone
never renames its entity.

An output's pulse settings, as the firmware's switch.lua runs them (every release 2.3.x–3.1.5):
- `momentary_ms`: turning on drives the trigger level for this many ms, then the off level.
  Unset: turning on holds the level until turned off.
- `repeat`: how many pulses (unset: 1; -1: until turned off). switch.lua repeats only when a
  pause is given, so a repeat needs `pause_ms`.
- `pause_ms`: off time between two pulses; only with a repeat.
Turning off sends the off level without a pulse; it stops an endless pattern (switch.lua resets
`infiniteLoops`), but a finite pattern's remaining pulses still run (their timers are not
cancelled). Combinations that mean nothing are refused (`pulse_errors` for forms; constructing a
ZoneConfig raises ValueError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final, Self

from .board import BoardStatus, Pulse, zones_for_model
from .board.models import MAX_TIMER_MS, pin_of_zone, pulse_problem


class ZoneType(StrEnum):
    """What is wired to a zone."""

    DISABLED = "disabled"
    BINARY_SENSOR = "binary_sensor"
    SWITCH = "switch"
    DHT = "dht"
    DS18B20 = "ds18b20"


DEFAULT_POLL_INTERVAL_MINUTES: Final = 3  # the firmware's own default


@dataclass(frozen=True, slots=True)
class OutputAction:
    """One more named pulse pattern on an output, like a `more_states` switch of 2026.5.4.

    Lives in `ZoneConfig.actions`: the zone's own name and momentary/pause/repeat stay the
    output's first action (entity `<board>_<zone>`); each OutputAction is one more switch entity with unique id `<board>_<zone>_<key>`, driving
    the same output at the zone's `trigger` level with its own pattern. `key` is given once and
    never changes, so editing or removing another action never renames this one's entity.
    """

    key: str
    name: str | None = None
    momentary_ms: int | None = None
    pause_ms: int | None = None
    repeat: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the board subentry (inside the zone's `actions` list)."""
        return {
            "key": self.key,
            "name": self.name,
            "momentary_ms": self.momentary_ms,
            "pause_ms": self.pause_ms,
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read the stored form; a pattern stored before it was checked is made safe."""
        momentary, pause, repeat = _stored_pulse(
            *(_optional_int(data.get(key)) for key in ("momentary_ms", "pause_ms", "repeat"))
        )
        return cls(
            key=str(data["key"]),
            name=data.get("name") or None,
            momentary_ms=momentary,
            pause_ms=pause,
            repeat=repeat,
        )

    @property
    def pulse(self) -> Pulse | None:
        """What this action sends (None: the output just turns on)."""
        if self.momentary_ms is None:
            return None
        return Pulse(self.momentary_ms, 1 if self.repeat is None else self.repeat, self.pause_ms or 0)



@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """One zone's settings; pulse fields must stay unset (None) on anything but an output."""

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
    # Further named pulse patterns on an output, each its own switch (like `more_states`).
    actions: tuple[OutputAction, ...] = ()

    def __post_init__(self) -> None:
        """Refuse settings that mean nothing (see the module's docstring)."""
        if self.trigger not in (0, 1):
            raise ValueError(f"trigger is 0 or 1, not {self.trigger!r}")
        pulse_fields = (self.momentary_ms, self.pause_ms, self.repeat)
        if self.type is not ZoneType.SWITCH and any(value is not None for value in pulse_fields):
            raise ValueError(f"pulse settings only apply to outputs, not to {self.type}")
        errors = pulse_errors(self.momentary_ms, self.pause_ms, self.repeat)
        # The form's "0 = unset" is None here.
        for name in ("momentary_ms", "pause_ms", "repeat"):
            if getattr(self, name) == 0:
                errors.setdefault(name, "zero_is_unset")
        if errors:
            raise ValueError(f"Invalid output settings: {errors}")

    @property
    def pulse(self) -> Pulse | None:
        """What turning the output on sends, or None for a plain on."""
        if self.momentary_ms is None:
            return None
        return Pulse(self.momentary_ms, 1 if self.repeat is None else self.repeat, self.pause_ms or 0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read stored settings; unknown keys are ignored so older entries still load.

        Pulse settings stored before they were validated are reduced to what is safe: a pause
        without a repeat (which made switch.lua pulse forever while Home Assistant showed off) or a
        repeat without a pause (the firmware pulsed once) become a single pulse.
        """
        zone_type = ZoneType(data.get("type", ZoneType.DISABLED))
        momentary, pause, repeat = (
            _optional_int(data.get(key)) for key in ("momentary_ms", "pause_ms", "repeat")
        )
        if zone_type is not ZoneType.SWITCH:
            momentary = pause = repeat = None
        momentary, pause, repeat = _stored_pulse(momentary, pause, repeat)
        return cls(
            type=zone_type,
            name=data.get("name") or None,
            device_class=data.get("device_class") or None,
            invert=bool(data.get("invert", False)),
            trigger=1 if data.get("trigger", 1) else 0,
            momentary_ms=momentary,
            pause_ms=pause,
            repeat=repeat,
            poll_interval=int(data.get("poll_interval") or DEFAULT_POLL_INTERVAL_MINUTES),
            actions=tuple(
                OutputAction.from_dict(action)
                for action in data.get("actions") or ()
                if zone_type is ZoneType.SWITCH and isinstance(action, Mapping) and action.get("key")
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the subentry."""
        data = asdict(self)
        data["type"] = str(self.type)
        data["actions"] = [action.as_dict() for action in self.actions]
        return data


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


# Form field → the firmware command key pulse_problem names.
_PULSE_FIELDS: Final = {"momentary": "momentary_ms", "times": "repeat", "pause": "pause_ms"}


def pulse_errors(momentary_ms: int | None, pause_ms: int | None, repeat: int | None) -> dict[str, str]:
    """Form check of an output's pulse settings: {field: translation key}, empty when fine.

    Takes the form's values, where 0 (or None) leaves a setting unset and a repeat of 1 is the
    default single pulse. Keys: `pause_without_momentary`, `repeat_without_momentary`,
    `momentary_out_of_range`, `repeat_invalid`, `repeat_without_pause`, `pause_without_repeat`,
    `pause_out_of_range`, `pattern_too_long` (finite patterns and each interval end at
    MAX_TIMER_MS, NodeMCU's longest timer: 1 h 54 min).
    """
    momentary, pause = momentary_ms or 0, pause_ms or 0
    times = repeat or 1
    if momentary == 0:
        errors: dict[str, str] = {}
        if pause != 0:
            errors["pause_ms"] = "pause_without_momentary"
        if times != 1:
            errors["repeat"] = "repeat_without_momentary"
        return errors
    problem = pulse_problem(momentary, times, pause)
    if problem is None:
        return {}
    field_name, key = problem
    return {_PULSE_FIELDS[field_name]: key}


type _PulseFields = tuple[int | None, int | None, int | None]


def _stored_pulse(momentary: int | None, pause: int | None, repeat: int | None) -> _PulseFields:
    """Reduce stored pulse settings to a valid pattern (see ZoneConfig.from_dict)."""
    if not momentary:
        return None, None, None
    if repeat in (0, 1):
        repeat = None
    if repeat is None or not pause:
        return (momentary, None, None) if 1 <= momentary <= MAX_TIMER_MS else (None, None, None)
    if not pulse_errors(momentary, pause, repeat):
        return momentary, pause, repeat
    return _stored_pulse(momentary, None, None)


def zones_from_data(data: Mapping[str, Any]) -> dict[str, ZoneConfig]:
    """All zones of a board subentry's `zones` mapping."""
    return {str(zone): ZoneConfig.from_dict(config) for zone, config in data.items()}


def firmware_zone_settings(zones: Mapping[str, ZoneConfig]) -> dict[str, list[dict[str, Any]]]:
    """Return the zone lists of the firmware's `PUT /settings` body, keyed by pin.

    Every release reads `pin`; `zone` only from 3.1.0 (application.lua), and a zone-keyed list
    makes an older board raise at every boot. Reports then carry `pin`, which zone_of maps back.
    """
    sensors: list[dict[str, Any]] = []
    actuators: list[dict[str, Any]] = []
    dht_sensors: list[dict[str, Any]] = []
    ds18b20_sensors: list[dict[str, Any]] = []
    for zone, config in sorted(zones.items()):
        match config.type:
            case ZoneType.BINARY_SENSOR:
                sensors.append({"pin": pin_of_zone(zone)})
            case ZoneType.SWITCH:
                actuators.append({"pin": pin_of_zone(zone), "trigger": config.trigger})
            case ZoneType.DHT:
                dht_sensors.append({"pin": pin_of_zone(zone), "poll_interval": config.poll_interval})
            case ZoneType.DS18B20:
                ds18b20_sensors.append({"pin": pin_of_zone(zone), "poll_interval": config.poll_interval})
            case ZoneType.DISABLED:
                pass
    return {
        "sensors": sensors,
        "actuators": actuators,
        "dht_sensors": dht_sensors,
        "ds18b20_sensors": ds18b20_sensors,
    }


def needs_reprovisioning(old: Mapping[str, ZoneConfig], new: Mapping[str, ZoneConfig]) -> bool:
    """Tell whether the board itself must learn the change (it reboots to apply it)."""
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
