"""Zone settings: pins for the firmware, and only pulse patterns that mean what they say."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.konnected_aws.board import Pulse
from custom_components.konnected_aws.board.models import MAX_TIMER_MS
from custom_components.konnected_aws.zones import (
    ZoneConfig,
    ZoneType,
    firmware_zone_settings,
    needs_reprovisioning,
    pulse_errors,
)

SWITCH = ZoneType.SWITCH


def test_firmware_settings_use_pins() -> None:
    """Every release reads `pin` (zone keys only from 3.1.0): zones 3→5, 4→6, 5→7, 6→9, out→8."""
    zones = {
        "1": ZoneConfig(type=ZoneType.BINARY_SENSOR),
        "3": ZoneConfig(type=ZoneType.BINARY_SENSOR),
        "6": ZoneConfig(type=ZoneType.DS18B20, poll_interval=10),
        "4": ZoneConfig(type=ZoneType.DHT),
        "5": ZoneConfig(type=SWITCH, trigger=0),
        "out": ZoneConfig(type=SWITCH, momentary_ms=500),
        "2": ZoneConfig(),
    }
    assert firmware_zone_settings(zones) == {
        "sensors": [{"pin": 1}, {"pin": 5}],
        "actuators": [{"pin": 7, "trigger": 0}, {"pin": 8, "trigger": 1}],
        "dht_sensors": [{"pin": 6, "poll_interval": 3}],
        "ds18b20_sensors": [{"pin": 9, "poll_interval": 10}],
    }
    assert all("zone" not in entry for entries in firmware_zone_settings(zones).values() for entry in entries)


def test_pulse_changes_do_not_need_the_board() -> None:
    """Pulse settings travel with each command; only types, triggers and intervals reprovision."""
    plain = {"out": ZoneConfig(type=SWITCH)}
    pulsed = {"out": ZoneConfig(type=SWITCH, momentary_ms=300, repeat=-1, pause_ms=300)}
    assert not needs_reprovisioning(plain, pulsed)
    assert needs_reprovisioning(plain, {"out": ZoneConfig(type=SWITCH, trigger=0)})


@pytest.mark.parametrize(
    ("momentary", "pause", "repeat", "errors"),
    [
        (0, 0, 0, {}),  # a plain output
        (None, None, None, {}),
        (0, 0, 1, {}),  # 1 is the default single pulse
        (500, 0, 0, {}),
        (500, None, 1, {}),
        (100, 200, 3, {}),
        (100, 200, -1, {}),
        (0, 200, 0, {"pause_ms": "pause_without_momentary"}),
        (0, 0, 3, {"repeat": "repeat_without_momentary"}),
        (0, 200, -1, {"pause_ms": "pause_without_momentary", "repeat": "repeat_without_momentary"}),
        (100, 200, 0, {"pause_ms": "pause_without_repeat"}),  # was: pulses forever, shown as off
        (100, 0, 3, {"repeat": "repeat_without_pause"}),  # the firmware would pulse once
        (100, 0, -1, {"repeat": "repeat_without_pause"}),
        (100, 200, -3, {"repeat": "repeat_invalid"}),
        (-5, 0, 0, {"momentary_ms": "momentary_out_of_range"}),
        (MAX_TIMER_MS + 1, 0, 0, {"momentary_ms": "momentary_out_of_range"}),
        (600_000, 600_000, 1000, {"repeat": "pattern_too_long"}),
    ],
)
def test_pulse_errors_for_the_form(
    momentary: int | None, pause: int | None, repeat: int | None, errors: dict[str, str]
) -> None:
    """The form's values (0 = unset) checked against switch.lua's semantics."""
    assert pulse_errors(momentary, pause, repeat) == errors


@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentary_ms": 100, "pause_ms": 200},  # pause without repeat
        {"momentary_ms": 100, "repeat": 3},  # repeat without pause
        {"pause_ms": 200},
        {"repeat": -1},
        {"momentary_ms": 100, "repeat": 0},
        {"momentary_ms": 0},
        {"momentary_ms": 100, "repeat": 2, "pause_ms": 0},
        {"trigger": 2},
    ],
)
def test_meaningless_switch_settings_cannot_be_built(kwargs: dict[str, Any]) -> None:
    """ZoneConfig refuses them outright."""
    with pytest.raises(ValueError):
        ZoneConfig(type=SWITCH, **kwargs)


def test_pulse_settings_only_on_outputs() -> None:
    """A binary sensor with a momentary time is not a thing."""
    with pytest.raises(ValueError, match="only apply to outputs"):
        ZoneConfig(type=ZoneType.BINARY_SENSOR, momentary_ms=100)


def test_pulse_of_a_zone() -> None:
    """What turning on sends: nothing extra, one pulse, or a pattern."""
    assert ZoneConfig(type=SWITCH).pulse is None
    assert ZoneConfig(type=SWITCH, momentary_ms=500).pulse == Pulse(500, 1, 0)
    assert ZoneConfig(type=SWITCH, momentary_ms=100, repeat=-1, pause_ms=50).pulse == Pulse(100, -1, 50)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"momentary_ms": 100, "pause_ms": 200}, (100, None, None)),  # the endless siren shown as off
        ({"momentary_ms": 100, "pause_ms": 200, "repeat": 0}, (100, None, None)),
        ({"momentary_ms": 100, "repeat": 5}, (100, None, None)),  # the firmware pulsed once
        ({"momentary_ms": 100, "repeat": 5, "pause_ms": 50}, (100, 50, 5)),
        ({"momentary_ms": 100, "repeat": 1, "pause_ms": 50}, (100, None, None)),
        ({"momentary_ms": 600000, "repeat": 1000, "pause_ms": 600000}, (600000, None, None)),
        ({"momentary_ms": 0, "repeat": 3, "pause_ms": 50}, (None, None, None)),
        ({"momentary_ms": MAX_TIMER_MS + 1}, (None, None, None)),
        ({"momentary_ms": "250", "pause_ms": "", "repeat": None}, (250, None, None)),
    ],
)
def test_stored_settings_load_as_safe_patterns(stored: dict[str, object], expected: tuple[object, ...]) -> None:
    """Entries saved before validation load (never raise) as the safe pattern they come closest to."""
    config = ZoneConfig.from_dict({"type": "switch", **stored})
    assert (config.momentary_ms, config.pause_ms, config.repeat) == expected


def test_stored_pulse_fields_on_other_types_are_dropped() -> None:
    """Old entries could keep pulse numbers on a zone later made a sensor."""
    config = ZoneConfig.from_dict({"type": "binary_sensor", "momentary_ms": 100, "repeat": 3})
    assert (config.momentary_ms, config.pause_ms, config.repeat) == (None, None, None)


def test_round_trip() -> None:
    """as_dict → from_dict keeps a valid configuration."""
    config = ZoneConfig(type=SWITCH, name="Siren", trigger=0, momentary_ms=100, repeat=-1, pause_ms=100)
    assert ZoneConfig.from_dict(config.as_dict()) == config
