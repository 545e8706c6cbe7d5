"""switch.lua's pulse patterns and what the board reports about them."""

from __future__ import annotations

import asyncio

import pytest

from devtools.board_simulator import SimulatedBoard

from .conftest import (
    IDLE,
    RELEASES,
    FakeAws,
    MakeBoard,
    call,
    command,
    fake_files,
    publish_payload,
    topics,
    wait_for,
)

# scale 0.01: 1000 ms of firmware time is 10 ms here.
PINNED_OUT = {"settings": IDLE, "actuators": [{"pin": 8, "trigger": 1}]}


async def count_edges(board: SimulatedBoard, seconds: float) -> int:
    """Level changes of the output during `seconds`."""
    edges, last = 0, board.level("out")
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.005)
        if board.level("out") != last:
            edges, last = edges + 1, board.level("out")
    return edges


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_momentary_with_pause_and_no_times_pulses_forever(make_sim: MakeBoard, sw_version: str) -> None:
    """`times` nil becomes -1 in turnOffIn: with a pause the output keeps pulsing; the answer
    says 1 (the -1 answer is only for an explicit times = -1)."""
    board = await make_sim(sw_version, files=PINNED_OUT)
    answer = await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 3000, "pause": 3000})
    assert answer.json() == {"pin": 8, "state": 1}
    assert await count_edges(board, 0.7) >= 8


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_momentary_without_pause_is_one_pulse(make_sim: MakeBoard, sw_version: str) -> None:
    board = await make_sim(sw_version, files=PINNED_OUT)
    await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 3000})
    assert board.level("out") == 1
    assert await count_edges(board, 0.3) == 1
    assert board.level("out") == 0


async def test_times_minus_one_answers_minus_one(make_sim: MakeBoard) -> None:
    board = await make_sim("3.1.5", files={"settings": IDLE, "actuators": [{"zone": "out", "trigger": 1}]})
    answer = await call(board, "PUT", "/zone", {"zone": "out", "state": 1, "momentary": 3000, "pause": 3000, "times": -1})
    assert answer.json() == {"zone": "out", "state": -1}
    assert await count_edges(board, 0.4) >= 4


async def test_finite_pattern(make_sim: MakeBoard) -> None:
    """times = 3: on, off, on, off, on, off; then it stays off."""
    board = await make_sim("3.1.5", files=PINNED_OUT)
    await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 3000, "pause": 3000, "times": 3})
    assert await count_edges(board, 0.5) == 5
    assert board.level("out") == 0


async def test_a_new_command_stops_an_endless_pattern_at_its_next_off(make_sim: MakeBoard) -> None:
    """Loading switch.lua again replaces the global `infiniteLoops`: the running pattern stops
    at its next off step, but an `on` step already scheduled still happens once."""
    board = await make_sim("3.1.5", files=PINNED_OUT)
    await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 10000, "pause": 20000})
    await wait_for(lambda: board.level("out") == 0, 1)  # now in the 200 ms pause
    await call(board, "PUT", "/device", {"pin": 8, "state": 0})
    await wait_for(lambda: board.level("out") == 1, 1)  # the pending `on` step runs anyway
    await wait_for(lambda: board.level("out") == 0, 1)
    assert await count_edges(board, 0.5) == 0


async def test_a_command_for_another_output_stops_the_siren(make_sim: MakeBoard) -> None:
    """`infiniteLoops` is one global table for every pin."""
    board = await make_sim("3.1.5", files={"settings": IDLE, "actuators": [{"pin": 8, "trigger": 1}, {"pin": 7, "trigger": 1}]})
    await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 3000, "pause": 3000})
    await call(board, "PUT", "/device", {"pin": 7, "state": 1})
    await asyncio.sleep(0.1)
    assert await count_edges(board, 0.3) == 0


async def test_a_new_command_does_not_cancel_a_finite_pattern(make_sim: MakeBoard) -> None:
    """A pulse's pending off step runs even after a plain `on` command."""
    board = await make_sim("3.1.5", files=PINNED_OUT)
    await call(board, "PUT", "/device", {"pin": 8, "state": 1, "momentary": 20000, "times": 1})
    await call(board, "PUT", "/device", {"pin": 8, "state": 1})
    await wait_for(lambda: board.level("out") == 0, 1)


# --- over MQTT ----------------------------------------------------------------------------


async def connected_board(make_sim: MakeBoard, fake_aws: FakeAws, sw_version: str) -> SimulatedBoard:
    board = await make_sim(sw_version, files=fake_files(fake_aws.url, zones=sw_version == "3.1.5"))
    await wait_for(board.mqtt_connected.is_set)
    await wait_for(lambda: len(fake_aws.peers[-1].mqtt) >= 5)  # CONNECT, SUBSCRIBE, input, output, heartbeat
    return board


def reports(fake_aws: FakeAws, skip: int) -> list[dict[str, object]]:
    sent = [packet for packet in fake_aws.peers[-1].mqtt if packet[0] >> 4 == 3][skip:]
    return [{key: value for key, value in publish_payload(packet).items() if key != "device_id"} for packet in sent]


async def test_aws_report_of_an_endless_pulse_is_off_after_one_momentary(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """aws_iot.lua (v3.x): the end state, then a revert to off after `momentary` (times nil
    counts as 1) while switch.lua keeps pulsing: the cloud is told `off` for a siren that runs."""
    board = await connected_board(make_sim, fake_aws, "3.1.5")
    device = board.device_id
    fake_aws.peers[-1].send(command(topics(device)["switch"], {"zone": "out", "state": 1, "momentary": 5000, "pause": 5000}))
    await wait_for(lambda: len(reports(fake_aws, 3)) >= 2, 2)
    assert reports(fake_aws, 3)[:2] == [{"zone": "out", "state": 1}, {"zone": "out", "state": 0}]
    assert await count_edges(board, 0.4) >= 4  # still pulsing


async def test_aws_report_on_232_is_the_level_right_after_switching(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """v2.3.2: `{pin = payload.pin, state = gpio.read(payload.pin)}` and no revert report; the
    pin is echoed as the command had it (a string stays a string)."""
    board = await connected_board(make_sim, fake_aws, "2.3.2")
    fake_aws.peers[-1].send(command(topics(board.device_id)["switch"], {"pin": "8", "state": 1, "momentary": 2000}))
    await wait_for(lambda: len(reports(fake_aws, 3)) >= 1, 2)
    await asyncio.sleep(0.3)
    assert reports(fake_aws, 3) == [{"pin": "8", "state": 1}]
    assert board.level("out") == 0


async def test_aws_zone_command_on_301_restarts_the_board(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """Before v3.1.0 switch.lua only reads `pin`: gpio.write(nil) raises in the websocket
    callback (luaL_pcallx): the board restarts 2 s later without reporting anything."""
    board = await connected_board(make_sim, fake_aws, "3.0.1")
    fake_aws.peers[-1].send(command(topics(board.device_id)["switch"], {"zone": "out", "state": 1}))
    await wait_for(lambda: board.boots == 2, 4)
    assert "#1 to 'write'" in board.lua_errors[0]


async def test_aws_times_zero_restarts_the_board(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """times 0: revertIn = (momentary + pause) * 0 - pause <= 0, which tmr.alarm refuses."""
    board = await connected_board(make_sim, fake_aws, "3.1.5")
    fake_aws.peers[-1].send(command(topics(board.device_id)["switch"], {"zone": "out", "state": 1, "momentary": 500, "times": 0}))
    await wait_for(lambda: bool(board.lua_errors), 2)
    assert "wrong arg range" in board.lua_errors[0]
    await wait_for(lambda: board.boots == 2, 4)
