"""Firmware releases, the Pro, output commands and ports, as the firmware source defines them."""

from __future__ import annotations

import pytest

from custom_components.konnected_aws.board.models import (
    MAX_TIMER_MS,
    MINIMUM_FIRMWARE,
    PORT_RANGE,
    BoardStatus,
    FirmwareVersion,
    Pulse,
    firmware_support,
    parse_firmware_version,
    port_from_chip_id,
    pulse_problem,
    switch_command,
    usual_port_from_mac,
)

MAC = "88:40:f5:20:99:48"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.3.2", FirmwareVersion(2, 3, 2)),
        ("3.1.5", FirmwareVersion(3, 1, 5)),
        (" v3.0.1 ", FirmwareVersion(3, 0, 1)),
        ("3.1", FirmwareVersion(3, 1, 0)),
        ("3.1.5-beta2", FirmwareVersion(3, 1, 5, "-beta2")),
        ("2.10.0", FirmwareVersion(2, 10, 0)),
    ],
)
def test_versions_parse(text: str, expected: FirmwareVersion) -> None:
    """device.lua's swVersion, with a tolerated `v` prefix and a kept suffix."""
    assert parse_firmware_version(text) == expected


@pytest.mark.parametrize("text", [None, "", "three", "3", "3.x.1", "3.1.5 beta", 315, True, "1.2.3.4"])
def test_not_versions(text: object) -> None:
    """Anything else is no version."""
    assert parse_firmware_version(text) is None


def test_versions_order_by_number_not_text() -> None:
    """2.10 > 2.9 and a suffix does not rank."""
    assert FirmwareVersion(2, 10, 0) > FirmwareVersion(2, 9, 9)
    assert FirmwareVersion(3, 1, 5, "-rc1") == FirmwareVersion(3, 1, 5)
    assert str(FirmwareVersion(3, 1, 5, "-rc1")) == "3.1.5-rc1"


@pytest.mark.parametrize(
    ("sw_version", "problem"),
    [
        ("2.2.7", "firmware_too_old"),  # no AWS IoT mode at all
        ("2.3.0", "firmware_too_old"),  # AWS IoT with SigV4 keys only (aws_iot.lua aws_sign_url)
        ("2.3.1", "firmware_too_old"),
        ("2.3.2", None),  # custom authorizer headers (mqtt_ws.lua Client(aws_settings))
        ("2.3.5", None),
        ("3.0.1", None),
        ("3.1.5", None),
        ("3.2.0", None),
        (None, "firmware_unknown"),
        ("dev", "firmware_unknown"),
    ],
)
def test_firmware_support(sw_version: str | None, problem: str | None) -> None:
    """Supported from 2.3.2; older or unknown releases say why."""
    support = firmware_support(sw_version)
    assert support.problem == problem
    assert support.supported is (problem is None)
    if problem == "firmware_too_old":
        assert "update the firmware" in support.explanation
        assert str(MINIMUM_FIRMWARE) in support.explanation
    if problem == "firmware_unknown":
        assert "no firmware version" in support.explanation


def test_firmware_capabilities_by_release() -> None:
    """What each release does differently (tags v2.3.2, v2.3.4, v3.0.0, v3.1.0)."""
    old, mid, new = firmware_support("2.3.2"), firmware_support("3.0.1"), firmware_support("3.1.5")
    assert (old.reports_pulse_end, mid.reports_pulse_end, new.reports_pulse_end) == (False, True, True)
    assert (old.sets_off_level_at_boot, mid.sets_off_level_at_boot) == (False, True)
    assert (old.restarts_without_aws, mid.restarts_without_aws) == (False, True)
    assert (old.accepts_zone_keys, mid.accepts_zone_keys, new.accepts_zone_keys) == (False, False, True)
    assert not firmware_support(None).reports_pulse_end


def test_status_support_problem() -> None:
    """An ESP8266 board on 3.1.5 is fine; the Pro and old releases are not."""
    board = BoardStatus.from_json({"mac": MAC, "swVersion": "3.1.5"})
    assert not board.is_pro
    assert board.support_problem is None
    old = BoardStatus.from_json({"mac": MAC, "swVersion": "2.3.1"})
    assert old.support_problem == "firmware_too_old"
    assert BoardStatus.from_json({"mac": MAC}).support_problem == "firmware_unknown"


@pytest.mark.parametrize(
    "body",
    [
        {"mac": MAC, "chipId": "123456", "model": "Konnected Pro", "swVersion": "1.0.0"},
        {"mac": MAC, "model": "Konnected Pro"},
        {"chipId": 123456, "model": "Konnected Pro"},  # no MAC: still recognised, to be refused clearly
        {"mac": MAC, "chipId": "abc"},
    ],
)
def test_the_pro_is_recognised(body: dict[str, object]) -> None:
    """HA core's konnected: the Pro's status has `chipId` and model "Konnected Pro"."""
    status = BoardStatus.from_json(body)
    assert status.is_pro
    assert status.support_problem == "pro_not_supported"


def test_status_settings_of_a_factory_board() -> None:
    """sjson encodes an empty settings table as `[]`; absent endpoint_type means REST."""
    status = BoardStatus.from_json({"mac": MAC, "settings": []})
    assert status.settings == {}
    assert status.endpoint is None
    assert status.endpoint_type == "rest"
    provisioned = BoardStatus.from_json(
        {"mac": MAC, "settings": {"endpoint": "wss://x/mqtt", "endpoint_type": "aws_iot"}}
    )
    assert (provisioned.endpoint, provisioned.endpoint_type) == ("wss://x/mqtt", "aws_iot")


def test_status_with_odd_types_does_not_crash() -> None:
    """Types the firmware never sends are dropped, not trusted."""
    status = BoardStatus.from_json(
        {"mac": MAC, "swVersion": ["3"], "port": "8000", "rssi": True, "ip": 5, "settings": {"endpoint": 7}}
    )
    assert (status.sw_version, status.port, status.rssi, status.ip, status.endpoint) == (None, None, None, None, None)


@pytest.mark.parametrize(
    ("momentary", "times", "pause", "problem"),
    [
        (500, 1, 0, None),
        (100, 3, 200, None),
        (100, -1, 200, None),
        (0, 1, 0, ("momentary", "momentary_out_of_range")),  # tmr refuses 0 (Range: 1-6870947)
        (MAX_TIMER_MS + 1, 1, 0, ("momentary", "momentary_out_of_range")),
        (100, 0, 0, ("times", "repeat_invalid")),
        (100, -2, 200, ("times", "repeat_invalid")),
        (100, 3, 0, ("times", "repeat_without_pause")),  # switch.lua repeats only with a pause
        (100, -1, 0, ("times", "repeat_without_pause")),
        (100, 1, 200, ("pause", "pause_without_repeat")),
        (100, 3, MAX_TIMER_MS + 1, ("pause", "pause_out_of_range")),
        (600_000, 10, 600_000, ("times", "pattern_too_long")),  # the revert timer would be refused
    ],
)
def test_pulse_problems(momentary: int, times: int, pause: int, problem: tuple[str, str] | None) -> None:
    """switch.lua and NodeMCU's tmr limits."""
    assert pulse_problem(momentary, times, pause) == problem
    if problem is None:
        Pulse(momentary, times, pause)
    else:
        with pytest.raises(ValueError, match=problem[1]):
            Pulse(momentary, times, pause)


def test_pulse_duration_is_the_firmware_revert_time() -> None:
    """aws_iot.lua: (momentary + pause) * times - pause; endless has none."""
    assert Pulse(500).duration_ms == 500
    assert Pulse(100, 3, 200).duration_ms == 700
    assert Pulse(100, -1, 200).duration_ms is None
    assert Pulse(100, -1, 200).endless


def test_switch_command_is_pin_keyed_and_always_complete() -> None:
    """Pins for every release; a pulse always has times and a non-zero pause."""
    assert switch_command("out", 1) == {"pin": 8, "state": 1}
    assert switch_command("3", 0) == {"pin": 5, "state": 0}
    assert switch_command("1", 1, Pulse(500)) == {"pin": 1, "state": 1, "momentary": 500, "times": 1, "pause": 1}
    assert switch_command("6", 1, Pulse(100, -1, 200)) == {
        "pin": 9,
        "state": 1,
        "momentary": 100,
        "times": -1,
        "pause": 200,
    }
    with pytest.raises(ValueError):
        switch_command("7", 1)
    with pytest.raises(ValueError):
        switch_command("out", 2)


def test_ports() -> None:
    """device.lua: chip id / 1000 + 8000; the chip id is 24 bits."""
    assert port_from_chip_id(0) == 8000
    assert port_from_chip_id(2136392) == 10136
    assert port_from_chip_id(0xFFFFFF) == PORT_RANGE[1] == 24777
    assert usual_port_from_mac("88:40:f5:20:99:48") == 0x209948 // 1000 + 8000
