"""DHT and DS18B20 readings as the integer firmware formats them, and when they are read."""

from __future__ import annotations

import asyncio

import pytest

from devtools.board_simulator import SimulatedBoard
from devtools.board_simulator.hardware import (
    DhtReading,
    dht_strings,
    ds18b20_c_string,
    ds18b20_lua_string,
    parse_rom,
)

from .conftest import FakeAws, MakeBoard, fake_files, publish_payload, wait_for

PROBE = "28:FF:64:1E:0F:24:A1:3F"
OTHER_PROBE = "28:00:00:00:00:00:00:1E"


@pytest.mark.parametrize(
    ("temperature", "humidity", "strings"),
    [
        (21.4, 48.0, ("21.400", "48.0")),  # temp .. "." .. temp_dec, temp_dec in thousandths
        (-5.3, 40.1, ("-5.300", "40.100")),
        (-0.5, 33.3, ("0.500", "33.300")),  # the integer part of -0.5 is 0: the sign is lost
        (25.6, 51.2, ("1.0", "2.0")),  # both low bytes 0: dht.c reads it as a DHT11
    ],
)
def test_dht_strings(temperature: float, humidity: float, strings: tuple[str, str]) -> None:
    assert dht_strings(DhtReading(temperature, humidity)) == strings


def test_no_dht_no_reading() -> None:
    assert dht_strings(None) is None


@pytest.mark.parametrize(
    ("celsius", "lua_module", "c_module"),
    [
        (19.5, "19.5", "19.500"),
        (20.0625, "20.1", "20.62"),  # C: 62 thousandths printed without the leading zero
        (-0.5, "-0.5", "0.500"),
        (85.0, None, "85.0"),  # ds18b20.lua skips the power-on value
    ],
)
def test_ds18b20_strings(celsius: float, lua_module: str | None, c_module: str) -> None:
    rom = parse_rom(PROBE)
    assert ds18b20_lua_string(rom, celsius) == lua_module
    assert ds18b20_c_string(rom, celsius) == c_module


def test_a_probe_needs_a_valid_rom_code() -> None:
    with pytest.raises(ValueError, match="CRC"):
        parse_rom("28:FF:64:1E:0F:24:A1:3C")


def sensor_reports(fake_aws: FakeAws) -> list[dict[str, object]]:
    return [
        publish_payload(packet)
        for peer in fake_aws.peers
        for packet in peer.mqtt
        if packet[0] >> 4 == 3 and "temp" in publish_payload(packet)
    ]


async def test_dht_read_at_boot_then_every_poll_interval(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """application.lua reads a DHT at boot and then every poll_interval minutes (3 if unset)."""
    files = {**fake_files(fake_aws.url, zones=False), "dht_sensors": [{"pin": 6, "poll_interval": 1}]}
    board = SimulatedBoard("5c:cf:7f:12:34:56", sw_version="3.0.1")
    board.timing.scale = 0.01  # 1 minute = 0.6 s
    board.timing.reconnect_delay = 0.05
    board.files.update(files)
    board.set_dht("4", 21.4, 48.0)
    await board.start()
    try:
        await wait_for(lambda: len(sensor_reports(fake_aws)) >= 1)
        assert {key: value for key, value in sensor_reports(fake_aws)[0].items() if key != "device_id"} == {"pin": 6, "temp": "21.400", "humi": "48.0"}
        board.set_dht("4", 22.0, 50.0)
        await wait_for(lambda: len(sensor_reports(fake_aws)) >= 2, 2)
        assert sensor_reports(fake_aws)[1]["temp"] == "22.0"
    finally:
        await board.close()


async def test_ds18b20_probes_found_at_the_first_search_only(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """ds18b20.lua searches the bus while it knows no sensor; once it found one, later probes
    are not seen until the board restarts."""
    files = {**fake_files(fake_aws.url), "ds18b20_sensors": [{"zone": "6", "poll_interval": 1}]}
    board = SimulatedBoard("5c:cf:7f:12:34:56", sw_version="3.1.5")
    board.timing.scale = 0.01
    board.timing.reconnect_delay = 0.05
    board.timing.ds18b20_conversion = 0.05
    board.files.update(files)
    board.set_probe("6", PROBE, 19.5)
    await board.start()
    try:
        await wait_for(lambda: len(sensor_reports(fake_aws)) >= 1)
        assert {key: value for key, value in sensor_reports(fake_aws)[0].items() if key != "device_id"} == {"zone": "6", "temp": "19.5", "addr": PROBE}
        board.set_probe("6", OTHER_PROBE, 18.0)
        await asyncio.sleep(1.5)  # two more polls
        assert {report["addr"] for report in sensor_reports(fake_aws)} == {PROBE}
        await board.reboot()
        await wait_for(lambda: OTHER_PROBE in {report["addr"] for report in sensor_reports(fake_aws)}, 3)
    finally:
        await board.close()
