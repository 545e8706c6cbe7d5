"""Parsing the firmware's reports and building its commands (docs/protocol.md)."""

from __future__ import annotations

import json

import pytest

from custom_components.konnected_aws.iot.messages import (
    MAX_PAYLOAD_BYTES,
    ActuatorCommand,
    DhtReading,
    Ds18b20Reading,
    Heartbeat,
    ZoneState,
    board_topics,
    parse_message,
)

BOARD = "8840f5209948"
SENSOR_TOPIC = f"konnected/{BOARD}/sensor"


def test_board_topics_stay_under_the_policy_prefix() -> None:
    """All three topics are under konnected/<id>/, as the authorizer allows."""
    topics = board_topics(BOARD)
    assert topics.as_firmware_settings() == {
        "sensor": f"konnected/{BOARD}/sensor",
        "heartbeat": f"konnected/{BOARD}/heartbeat",
        "switch": f"konnected/{BOARD}/switch",
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"zone": 1, "state": 1, "device_id": BOARD}, ZoneState(BOARD, "1", 1)),
        ({"zone": "6", "state": 0}, ZoneState(BOARD, "6", 0)),
        ({"pin": 5, "state": 1}, ZoneState(BOARD, "3", 1)),
        ({"pin": "8", "state": 0}, ZoneState(BOARD, "out", 0)),
        ({"zone": "alarm", "state": -1}, ZoneState(BOARD, "out", -1)),
        ({"zone": "4", "temp": "22.5", "humi": "40.1"}, DhtReading(BOARD, "4", 22.5, 40.1)),
        (
            {"zone": 5, "temp": 21.5, "addr": "28:FF:00:11:22:33:44:55"},
            Ds18b20Reading(BOARD, "5", 21.5, "28:FF:00:11:22:33:44:55"),
        ),
    ],
)
def test_reports_parse(payload: dict[str, object], expected: object) -> None:
    """Every report shape the firmware publishes on its sensor topic."""
    assert parse_message(SENSOR_TOPIC, json.dumps(payload).encode()) == expected


def test_heartbeat_carries_zone_levels() -> None:
    """The heartbeat is the status document; its sensors list holds current levels."""
    status = {
        "mac": "88:40:f5:20:99:48",
        "sensors": [{"zone": 1, "state": 0}, {"pin": 6, "state": 1}, {"zone": 2}],
        "device_id": BOARD,
    }
    report = parse_message(f"konnected/{BOARD}/heartbeat", json.dumps(status).encode())
    assert isinstance(report, Heartbeat)
    assert report.zone_states == {"1": 0, "4": 1}


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("konnected/x/switch", b'{"zone":1,"state":1}'),  # our own commands
        ("other/x/sensor", b'{"zone":1,"state":1}'),
        ("konnected/x/sensor/extra", b'{"zone":1,"state":1}'),
        (SENSOR_TOPIC, b"not json"),
        (SENSOR_TOPIC, b"\xff\xfe"),
        (SENSOR_TOPIC, b"[1, 2]"),
        (SENSOR_TOPIC, b'{"state": 1}'),
        (SENSOR_TOPIC, b'{"zone": 1, "state": 7}'),
        (SENSOR_TOPIC, b'{"zone": 1, "state": true}'),
        (SENSOR_TOPIC, b'{"zone": 1, "temp": "hot", "humi": "1"}'),
        (SENSOR_TOPIC, b'{"zone": 1, "temp": 20}'),
        (SENSOR_TOPIC, b'{"pin": 3, "state": 1}'),
        (SENSOR_TOPIC, b'{"zone": 1, "state": 1, "device_id": "aaaaaaaaaaaa"}'),
        (SENSOR_TOPIC, b'{"zone": 1, "state": 1, "x": "' + b"a" * MAX_PAYLOAD_BYTES + b'"}'),
    ],
)
def test_bad_or_foreign_messages_are_dropped(topic: str, payload: bytes) -> None:
    """Nothing malformed or foreign turns into a report, and nothing raises."""
    assert parse_message(topic, payload) is None


def test_commands_match_the_firmware_switch_handler() -> None:
    """Pin-keyed (every release reads `pin`); a pulse always carries `times` and a non-zero `pause`."""
    assert json.loads(ActuatorCommand("out", 1).payload()) == {"pin": 8, "state": 1}
    assert json.loads(ActuatorCommand("3", 0).payload()) == {"pin": 5, "state": 0}
    # A single pulse: without `times`, switch.lua would repeat forever (times = -1).
    assert json.loads(ActuatorCommand("1", 1, momentary_ms=500).payload()) == {
        "pin": 1,
        "state": 1,
        "momentary": 500,
        "times": 1,
        "pause": 1,
    }
    assert json.loads(ActuatorCommand("2", 0, momentary_ms=100, times=-1, pause_ms=200).payload()) == {
        "pin": 2,
        "state": 0,
        "momentary": 100,
        "times": -1,
        "pause": 200,
    }
    assert json.loads(ActuatorCommand("6", 1, momentary_ms=100, times=3, pause_ms=50).payload())["pin"] == 9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"times": 3},  # repeat without a pulse
        {"pause_ms": 100},
        {"momentary_ms": 100, "pause_ms": 200},  # a pause without a repeat: endless on the board
        {"momentary_ms": 100, "times": 3},  # a repeat without a pause: one pulse on the board
        {"momentary_ms": 100, "times": 0},
        {"momentary_ms": 0},
    ],
)
def test_meaningless_commands_cannot_be_built(kwargs: dict[str, int]) -> None:
    """Refused where the command is made, not silently trimmed."""
    with pytest.raises(ValueError):
        ActuatorCommand("out", 1, **kwargs)


def test_command_for_an_unknown_zone_or_level_cannot_be_built() -> None:
    """Only the seven ESP8266 zones and levels 0/1."""
    with pytest.raises(ValueError):
        ActuatorCommand("7", 1)
    with pytest.raises(ValueError):
        ActuatorCommand("out", -1)


@pytest.mark.parametrize(
    "payload",
    [b"[" * 2000 + b"]" * 2000, b'{"zone":1,"state":1,"x":' + b"[" * 9 + b"]" * 9 + b"}"],
    ids=["deep", "just-too-deep"],
)
def test_deeply_nested_report_is_dropped(payload: bytes) -> None:
    """Within the size limit but nested beyond anything the firmware sends: dropped, no exception."""
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert parse_message(SENSOR_TOPIC, payload) is None
