"""PUT /settings, what each release does with zone keys at boot, the settings lock, restarts."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import IDLE, RELEASES, MakeBoard, call, raw_request, wait_for

ZONED = {
    "settings": IDLE,
    "sensors": [{"zone": "1"}, {"zone": "2"}],
    "actuators": [{"zone": "out", "trigger": 1}],
}
PINNED = {
    "settings": IDLE,
    "sensors": [{"pin": 1}, {"pin": 2}],
    "actuators": [{"pin": 8, "trigger": 1}],
}


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_pins_work_on_every_release(make_sim: MakeBoard, sw_version: str) -> None:
    board = await make_sim(sw_version, files=PINNED)
    board.set_zone("2", 1)
    await asyncio.sleep(0.3)
    assert (await call(board, "GET", "/device")).json() == [{"pin": 1, "state": 0}, {"pin": 2, "state": 1}]
    assert board.lua_errors == []
    assert board.boots == 1


async def test_zones_work_from_310(make_sim: MakeBoard) -> None:
    board = await make_sim("3.1.5", files=ZONED)
    await asyncio.sleep(0.3)
    assert (await call(board, "GET", "/device")).json() == [{"zone": "1", "state": 0}, {"zone": "2", "state": 0}]
    assert board.lua_errors == []


async def test_301_with_zone_keys_fails_at_every_boot(make_sim: MakeBoard) -> None:
    """v3.0.1 application.lua `gpio.mode(sensor.pin, ...)` with pin nil raises in the SNTP
    callback (luaL_pcallx): server.lua already listens, so HTTP answers for the 2 s until
    default_onerror restarts the chip; the inputs are never polled. Every boot, forever."""
    board = await make_sim("3.0.1", files=ZONED, error_restart_delay=0.4)
    status = (await call(board, "GET", "/status")).json()
    assert status["sensors"] == [{"zone": "1"}, {"zone": "2"}]  # never polled: no state
    assert (await call(board, "GET", "/device")).body == b"[[],[]]"  # {pin=nil,state=nil}: empty tables
    assert board.lua_errors == ["bad argument (#1 to 'mode'): number expected, got nil"]
    await wait_for(lambda: board.boots >= 3, 3)
    assert len(board.lua_errors) >= 3
    # Provisioning pins in a window between restarts repairs it.
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none", "sensors": [{"pin": 1}], "actuators": []})
    assert answer.status == 200
    boots = board.boots
    await wait_for(lambda: board.boots > boots, 3)
    errors = len(board.lua_errors)
    await asyncio.sleep(0.8)
    assert len(board.lua_errors) == errors
    assert (await call(board, "GET", "/device")).json() == [{"pin": 1, "state": 0}]


async def test_301_zone_keyed_actuator_also_fails(make_sim: MakeBoard) -> None:
    """An output keyed by zone: `gpio.write(actuator.pin, initialState)` with nil."""
    board = await make_sim("3.0.1", files={"settings": IDLE, "actuators": [{"zone": "out", "trigger": 1}]}, error_restart_delay=5)
    await wait_for(lambda: bool(board.lua_errors))
    assert "#1 to 'write'" in board.lua_errors[0]


async def test_232_with_zone_keys_is_unreachable(make_sim: MakeBoard) -> None:
    """NodeMCU 2.2 runs the SNTP callback unprotected: the same error is a PANIC, the CPU
    spins until the watchdog resets it, and HTTP never answers in between."""
    board = await make_sim("2.3.2", files=ZONED, panic_restart_delay=0.2)
    assert board.panics == 1
    with pytest.raises(OSError):
        await call(board, "GET", "/status")
    await wait_for(lambda: board.panics >= 3, 3)


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_put_settings_stores_and_restarts(make_sim: MakeBoard, sw_version: str) -> None:
    """Stored as given (only the keys present), the board restarts 2 s (scaled) later; a list
    left out keeps the old file; a string pin stays a string."""
    board = await make_sim(sw_version, files=PINNED, reboot_delay=0.3)
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none", "token": "t", "sensors": [{"pin": "5"}]})
    assert answer.status == 200 and answer.body == b""
    assert board.settings == {"endpoint_type": "none", "token": "t"}
    assert board.files["sensors"] == [{"pin": "5"}]
    assert board.files["actuators"] == [{"pin": 8, "trigger": 1}]
    assert board.boots == 1
    await wait_for(lambda: board.boots == 2, 3)
    await asyncio.sleep(0.3)
    assert (await call(board, "GET", "/device")).json() == [{"pin": "5", "state": 0}]


@pytest.mark.parametrize(("sw_version", "stored"), [("2.3.2", True), ("3.0.1", False), ("3.1.5", False)])
async def test_json_null_in_settings(make_sim: MakeBoard, sw_version: str, stored: bool) -> None:
    """NodeMCU 2.2 has sjson.NULL and variables_build skips it; NodeMCU 3.0 dropped it, so a
    null reaches table.concat: a Lua error in the HTTP callback (PANIC), nothing stored."""
    board = await make_sim(sw_version, panic_restart_delay=0.2, reboot_delay=5)
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none", "blink": None}, timeout=1)
    if stored:
        assert answer.status == 200
        assert board.settings == {"endpoint_type": "none"}
    else:
        assert answer.raw == b""
        assert board.panics == 1
        assert board.settings == {}


@pytest.mark.parametrize("sw_version", ["3.0.1", "3.1.5"])
async def test_settings_lock(make_sim: MakeBoard, sw_version: str) -> None:
    """server_lock.lua: PUT /lock with a password locks, PUT /settings then answers 409 with
    the firmware's exact body; the wrong password 403; the right one unlocks."""
    board = await make_sim(sw_version, reboot_delay=5)
    assert (await call(board, "GET", "/lock")).json() == {"state": "unlocked"}
    assert (await call(board, "PUT", "/lock", {})).status == 400
    assert (await call(board, "PUT", "/lock", {"pwd": "secret"})).json() == {"state": "locked"}
    refused = await call(board, "PUT", "/settings", {"endpoint_type": "none"})
    assert refused.status == 409
    assert refused.body == b'{ "msg":"settings are locked" }'
    assert board.settings == {}
    wrong = await call(board, "PUT", "/lock", {"pwd": "guess"})
    assert (wrong.status, wrong.json()) == (403, {"msg": "incorrect value for pwd"})
    # The lock survives a restart (device_config.lc).
    await board.reboot()
    assert (await call(board, "GET", "/lock")).json() == {"state": "locked"}
    assert (await call(board, "PUT", "/lock", {"pwd": "secret"})).json() == {"state": "unlocked"}
    assert (await call(board, "PUT", "/settings", {"endpoint_type": "none"})).status == 200


async def test_no_lock_on_232(make_sim: MakeBoard) -> None:
    """v2.3.2 has no /lock route (never answered) and no lock check."""
    board = await make_sim("2.3.2", reboot_delay=5)
    assert (await call(board, "PUT", "/lock", {"pwd": "x"}, timeout=0.3)).raw == b""
    assert (await call(board, "PUT", "/settings", {"endpoint_type": "none"})).status == 200


async def test_restart_and_restore(make_sim: MakeBoard) -> None:
    """GET /settings?restart=true restarts 2 s later; restore=true also wipes the WiFi
    configuration (node.restore), so the board comes back as a setup access point only."""
    board = await make_sim("3.1.5", reboot_delay=0.2)
    assert (await call(board, "GET", "/settings?restart=true")).status == 200
    await wait_for(lambda: board.boots == 2, 3)
    await asyncio.sleep(0.2)
    assert (await call(board, "GET", "/settings?restore=true")).status == 200
    await wait_for(lambda: board.boots == 3, 3)
    assert not board.wifi_configured
    with pytest.raises(OSError):
        await raw_request(board.http_port, b"GET /status HTTP/1.1\r\n\r\n")
