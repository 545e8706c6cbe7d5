"""The local HTTP API as the firmware serves it: framing, JSON, routes, crashes, per release."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from devtools.board_simulator import SimulatedBoard

from .conftest import (
    FAST,
    IDLE,
    RELEASES,
    MakeBoard,
    call,
    http_request,
    raw_request,
    wait_for,
)


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_status_line_without_reason_and_connection_closed(make_sim: MakeBoard, sw_version: str) -> None:
    """httpd_res.lua: `HTTP/1.1 200`, the answer, then the board closes the connection."""
    board = await make_sim(sw_version)
    answer = await call(board, "GET", "/status")
    assert answer.closed
    assert answer.status_line == "HTTP/1.1 200"
    assert answer.headers["content-length"] == str(len(answer.body))
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.json()["swVersion"] == sw_version


@pytest.mark.parametrize(("sw_version", "content_headers"), [("2.3.2", True), ("3.0.1", False), ("3.1.5", False)])
async def test_empty_answer_headers(make_sim: MakeBoard, sw_version: str, content_headers: bool) -> None:
    """An empty answer: v2.3.2 still sends Content-Type/Length 0, v3.x sends neither."""
    board = await make_sim(sw_version, reboot_delay=5.0)
    answer = await call(board, "GET", "/settings")
    assert answer.closed and answer.status == 200 and answer.body == b""
    assert ("content-length" in answer.headers) is content_headers
    assert ("content-type" in answer.headers) is content_headers


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_factory_board_json_has_no_null(make_sim: MakeBoard, sw_version: str) -> None:
    """sjson: an empty table is `[]` (so a factory board's settings are `[]`), nil never appears."""
    board = await make_sim(sw_version)
    answer = await call(board, "GET", "/status")
    body = answer.body.decode()
    assert '"settings":[]' in body
    assert '"sensors":[]' in body
    assert "null" not in body


async def test_inputs_known_before_any_connection(make_sim: MakeBoard) -> None:
    """The 200 ms poll runs from boot: levels over HTTP although AWS is unreachable; before the
    first poll an input has no `state` at all (no null)."""
    files = {
        "settings": {"endpoint_type": "aws_iot", "endpoint": "ws://127.0.0.1:1/mqtt", "aws": {"topics": {}}},
        "sensors": [{"pin": 1}, {"pin": 2}],
    }
    board = SimulatedBoard("5c:cf:7f:00:00:01", sw_version="3.0.1", timing=replace(FAST, poll_interval=0.6))
    board.files.update(files)
    board.set_zone("2", 1)
    await board.start()
    try:
        early = await call(board, "GET", "/device")
        assert early.json() == [{"pin": 1}, {"pin": 2}]
        assert b"null" not in early.body
        await asyncio.sleep(0.7)
        assert (await call(board, "GET", "/device")).json() == [{"pin": 1, "state": 0}, {"pin": 2, "state": 1}]
        assert not board.mqtt_connected.is_set()
    finally:
        await board.close()


async def test_input_changes_wait_for_the_poll(make_sim: MakeBoard) -> None:
    """A level is what the last 200 ms poll saw, not what the pin is now."""
    board = await make_sim("3.1.5", files={"settings": IDLE, "sensors": [{"zone": "1"}]}, poll_interval=0.5)
    await asyncio.sleep(0.6)
    board.set_zone("1", 1)
    assert (await call(board, "GET", "/device")).json() == [{"zone": "1", "state": 0}]
    await asyncio.sleep(0.6)
    assert (await call(board, "GET", "/device")).json() == [{"zone": "1", "state": 1}]


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_pin_given_as_string_is_answered_as_number(make_sim: MakeBoard, sw_version: str) -> None:
    """switch.lua: `pin = tonumber(payload.pin)`; the answer carries the number."""
    board = await make_sim(sw_version)
    answer = await call(board, "PUT", "/device", {"pin": "8", "state": "1"})
    assert answer.json() == {"pin": 8, "state": 1}
    assert board.level("out") == 1


async def test_reading_one_output_needs_pin_and_zone(make_sim: MakeBoard) -> None:
    """v3.1.5 server_device.lua: a missing pin or zone means `all` (the inputs); with both,
    the pin is read and echoed as the query string had it."""
    board = await make_sim("3.1.5", files={"settings": IDLE, "sensors": [{"zone": "1"}], "actuators": [{"zone": "out", "trigger": 0}]})
    await asyncio.sleep(0.3)
    assert (await call(board, "GET", "/device?pin=8")).json() == [{"zone": "1", "state": 0}]
    assert (await call(board, "GET", "/zone?zone=out")).json() == [{"zone": "1", "state": 0}]
    assert (await call(board, "GET", "/device?pin=8&zone=out")).json() == [{"pin": "8", "state": 1}]


async def test_zone_path_only_on_315(make_sim: MakeBoard) -> None:
    """`/zone` is routed from v3.1.5; before, an unknown path is never answered and the
    server's 10 s inactivity timeout closes the connection."""
    new = await make_sim("3.1.5")
    assert (await call(new, "PUT", "/zone", {"zone": "out", "state": 1})).json() == {"zone": "out", "state": 1}
    old = await make_sim("3.0.1", mac="5c:cf:7f:00:00:02", http_idle_timeout=0.5)
    silent = await call(old, "PUT", "/zone", {"zone": "out", "state": 1}, timeout=0.3)
    assert silent.raw == b"" and not silent.closed
    dropped = await call(old, "GET", "/nothing", timeout=2.0)
    assert dropped.raw == b"" and dropped.closed


@pytest.mark.parametrize(("sw_version", "status"), [("2.3.2", 204), ("3.0.1", 200), ("3.1.5", 200)])
async def test_options(make_sim: MakeBoard, sw_version: str, status: int) -> None:
    board = await make_sim(sw_version)
    answer = await call(board, "OPTIONS", "/settings")
    assert answer.status == status
    assert answer.headers["access-control-allow-methods"] == "POST, GET, PUT, OPTIONS"


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_body_in_a_second_segment(make_sim: MakeBoard, sw_version: str) -> None:
    """server_receiver.lua collects segments until Content-Length bytes of body are there."""
    board = await make_sim(sw_version)
    request = http_request("PUT", "/device", {"pin": 8, "state": 1})
    head, body = request.split(b"\r\n\r\n", 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", board.http_port)
    writer.write(head + b"\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.write(body)
    answer = await asyncio.wait_for(reader.read(), 2)
    writer.close()
    assert answer.endswith(b'{"pin":8,"state":1}')


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_a_lua_error_in_a_request_freezes_and_restarts(make_sim: MakeBoard, sw_version: str) -> None:
    """An unknown zone (or a PUT /settings that is not JSON) raises in the `net` receive
    callback, which NodeMCU calls unprotected: PANIC, no answer, the watchdog restarts the chip.
    A lenient board answering an error status would fail here."""
    board = await make_sim(sw_version, panic_restart_delay=0.3)
    answer = await call(board, "PUT", "/device", {"zone": "9", "state": 1}, timeout=1.0)
    assert answer.raw == b""
    assert board.panics == 1
    await wait_for(lambda: board.boots == 2, 3)
    answer = await raw_request(board.http_port, http_request("PUT", "/settings", b"x=1", content_type="text/plain"), timeout=1.0)
    assert answer.raw == b""
    await wait_for(lambda: board.boots == 3, 3)
    assert board.settings == {}


async def test_device_xml_and_udn(make_sim: MakeBoard) -> None:
    """ssdp.lua: serialNumber is the chip id in decimal, the UDN ends in it in hex, unpadded."""
    board = await make_sim("3.1.5", mac="5c:cf:7f:0a:0b:0c")
    answer = await call(board, "GET", "/Device.xml")
    text = answer.body.decode()
    assert answer.headers["content-type"] == "text/xml"
    assert f"<serialNumber>{0x0A0B0C}</serialNumber>" in text
    assert "<UDN>uuid:8f655392-a778-4fee-97b9-4825918a0b0c</UDN>" in text
    assert "<modelNumber>3.1.5</modelNumber>" in text


@pytest.mark.parametrize(("sw_version", "hw_version", "settings_shown"), [("2.3.2", "2.3.0", {"endpoint", "endpoint_type", "blink"}), ("3.1.5", "3.0.0", {"endpoint", "endpoint_type"})])
async def test_status_settings_per_release(make_sim: MakeBoard, sw_version: str, hw_version: str, settings_shown: set[str]) -> None:
    """v2.3.2 shows the settings table minus token and aws; v2.3.4+ only endpoint and type."""
    settings = {"endpoint": "ws://127.0.0.1:1/mqtt", "endpoint_type": "rest", "blink": True, "token": "secret", "aws": {"token": "secret"}}
    board = await make_sim(sw_version, files={"settings": settings})
    status = (await call(board, "GET", "/status")).json()
    assert status["hwVersion"] == hw_version
    assert set(status["settings"]) == settings_shown
    assert "secret" not in str(status)


async def test_stall_and_garble_hooks(make_sim: MakeBoard) -> None:
    """Test hooks (not firmware): a board that never answers, a board whose answer is cut."""
    board = await make_sim("3.1.5")
    board.stall_http = True
    assert (await call(board, "GET", "/status", timeout=0.3)).raw == b""
    board.stall_http = False
    board.garble_http = True
    answer = await call(board, "GET", "/status")
    with pytest.raises(ValueError):
        answer.json()
