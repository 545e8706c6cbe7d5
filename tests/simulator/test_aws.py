"""The AWS IoT side: NodeMCU's WebSocket client and the firmware's own MQTT framing, against a
fake endpoint the test controls (for what AWS would rarely do on cue) and the IoT emulator."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from devtools.board_simulator import SimulatedBoard
from devtools.board_simulator.mqtt import CONNECT

from .conftest import (
    RELEASES,
    Account,
    FakeAws,
    MakeBoard,
    call,
    command,
    fake_files,
    puback_id,
    publish_payload,
    topics,
    wait_for,
)

DEVICE = "5ccf7f123456"
PING, CLOSE = 0x9, 0x8


async def test_upgrade_request_and_connect_packet(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """websocketclient.c writes the request header by header; mqtt_ws.lua sends the fixed
    14-byte CONNECT (MQTT 3.1.1, clean session, keepalive 0, empty client id) and then
    subscribes to the switch topic at QoS 0 with packet id 1."""
    await make_sim("3.1.5", files=fake_files(fake_aws.url))
    await wait_for(lambda: bool(fake_aws.peers) and len(fake_aws.peers[0].mqtt) >= 2)
    lines = fake_aws.peers[0].request.decode().split("\r\n")
    assert lines[0] == "GET /mqtt HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{fake_aws.port}"
    assert [line.split(":")[0] for line in lines[2:6]] == ["Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
    assert set(lines[6:10]) == {
        "sec-websocket-protocol: mqtt",
        "X-Amz-CustomAuthorizer-Name: konnected-aws",
        "X-Amz-CustomAuthorizer-Signature: c2ln",
        "Token: tok",
    }
    assert lines[10:] == ["User-Agent: ESP8266", "", ""]
    connect, subscribe = fake_aws.peers[0].mqtt[:2]
    assert connect == CONNECT == bytes.fromhex("100c00044d5154540402000000 00".replace(" ", ""))
    topic = topics(DEVICE)["switch"].encode()
    assert subscribe == bytes([0x82, 2 + 2 + len(topic) + 1, 0, 1, 0, len(topic)]) + topic + b"\x00"


@pytest.mark.parametrize(("token", "signature"), [(None, "c2ln"), ("tok", None)])
async def test_authorizer_headers_only_with_token_and_signature(make_sim: MakeBoard, fake_aws: FakeAws, token: str | None, signature: str | None) -> None:
    await make_sim("3.1.5", files=fake_files(fake_aws.url, token=token, signature=signature))
    await wait_for(lambda: bool(fake_aws.peers))
    request = fake_aws.peers[0].request.decode().lower()
    assert "x-amz-customauthorizer" not in request and "\r\ntoken:" not in request
    assert "sec-websocket-protocol: mqtt" in request


@pytest.mark.parametrize(("sw_version", "first_path"), [("2.3.2", "/mqtt-ats"), ("3.0.1", "/mqtt"), ("3.1.5", "/mqtt")])
async def test_ats_strip_on_the_first_attempt_only(make_sim: MakeBoard, fake_aws: FakeAws, sw_version: str, first_path: str) -> None:
    """v3.0.0+ string.gsub(endpoint, "-ats", "") for the first connect; reconnects as provisioned."""
    board = await make_sim(sw_version, files=fake_files(fake_aws.url + "-ats", zones=False))
    await wait_for(lambda: bool(fake_aws.peers))
    await wait_for(board.mqtt_connected.is_set)
    fake_aws.peers[0].drop()
    await wait_for(lambda: len(fake_aws.peers) >= 2)
    paths = [peer.request.split(b" ")[1].decode() for peer in fake_aws.peers]
    assert paths[:2] == [first_path, "/mqtt-ats"]


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_heartbeat_at_boot_but_not_on_a_reconnect(make_sim: MakeBoard, fake_aws: FakeAws, sw_version: str) -> None:
    """The heartbeat timer starts at the first CONNACK (200 ms, then 5 min); on a reconnect
    `heartbeat:start()` finds it running and does nothing. The outputs are reported again."""
    board = await make_sim(sw_version, files=fake_files(fake_aws.url, zones=False))
    await wait_for(lambda: bool(fake_aws.peers) and len(fake_aws.peers[0].mqtt) >= 5)
    first = [publish_payload(packet) for packet in fake_aws.peers[0].mqtt if packet[0] >> 4 == 3]
    assert [report.get("topic") for report in first] == [None, None, topics(DEVICE)["heartbeat"]]
    assert first[2]["swVersion"] == sw_version and "sensors" in first[2]
    fake_aws.peers[0].drop()
    await wait_for(lambda: len(fake_aws.peers) >= 2 and len(fake_aws.peers[1].mqtt) >= 3)
    await asyncio.sleep(0.5)
    again = [publish_payload(packet) for packet in fake_aws.peers[1].mqtt if packet[0] >> 4 == 3]
    assert [(report.get("pin"), report.get("topic")) for report in again] == [(8, None)]
    assert board.boots == 1


@pytest.mark.parametrize(("sw_version", "restarts"), [("2.3.2", False), ("3.0.1", True), ("3.1.5", True)])
async def test_restart_without_connack_within_10_s(make_sim: MakeBoard, fake_aws: FakeAws, sw_version: str, restarts: bool) -> None:
    """v3.0.0+ mqttTimeout: no CONNACK 10 s after boot, node.restart(); v2.3.2 waits forever."""
    fake_aws.connack = False
    board = await make_sim(sw_version, files=fake_files(fake_aws.url, zones=False), connect_timeout=0.4)
    await asyncio.sleep(1.0)
    assert (board.boots > 1) is restarts


@pytest.mark.parametrize(("sw_version", "restarts"), [("2.3.2", False), ("3.0.1", True), ("3.1.5", True)])
async def test_restart_after_the_tenth_offline(make_sim: MakeBoard, fake_aws: FakeAws, sw_version: str, restarts: bool) -> None:
    """v2.3.4+: the 10th `offline` since boot schedules a restart in 3 s; no more attempts."""
    fake_aws.upgrade_status = 401
    board = await make_sim(sw_version, files=fake_files(fake_aws.url, zones=False), offline_restart_delay=0.5)
    await wait_for(lambda: len(fake_aws.peers) >= 10)
    await asyncio.sleep(0.3)
    if restarts:
        assert len(fake_aws.peers) == 10
        await wait_for(lambda: board.boots == 2, 2)
    else:
        assert len(fake_aws.peers) > 10
        assert board.boots == 1


async def test_puback_retry_then_drop_and_restart(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """A report waits for its PUBACK; every 3 s without one it is sent again (new packet id,
    `retry` in the body); with retry > 10 the queue is dropped and the board restarts 30 s later."""
    fake_aws.puback = False
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), puback_timeout=0.05, retry_restart_delay=0.5)
    await wait_for(lambda: board.boots == 2, 5)
    publishes = [packet for packet in fake_aws.peers[0].mqtt if packet[0] >> 4 == 3]
    bodies = [publish_payload(packet) for packet in publishes]
    assert [body.pop("retry", None) for body in bodies] == [None, *range(1, 11)]
    assert all(body == bodies[0] for body in bodies)  # always the head of the queue
    assert len({puback_id(packet) for packet in publishes}) == len(publishes)  # a new packet id each time


async def test_one_mqtt_packet_per_websocket_message(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """mqtt_packet.parse reads the first packet of a message: a PUBLISH after a PUBACK in the
    same message is lost, and so is a PUBACK after a PUBLISH (the report is then retried)."""
    fake_aws.puback = False
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), puback_timeout=0.3)
    await wait_for(lambda: bool(fake_aws.peers) and len(fake_aws.peers[0].mqtt) >= 3)
    peer = fake_aws.peers[0]
    switch = command(topics(DEVICE)["switch"], {"zone": "out", "state": 1})
    peer.send(bytes([0x40, 0x02]) + puback_id(peer.mqtt[2]) + switch)
    await wait_for(lambda: len(peer.mqtt) == 4)  # the PUBACK was read: the next report went out
    assert board.commands == [] and board.level("out") == 0
    peer.send(switch + bytes([0x40, 0x02]) + puback_id(peer.mqtt[3]))
    await wait_for(lambda: board.level("out") == 1)
    await wait_for(lambda: len(peer.mqtt) >= 5)
    assert publish_payload(peer.mqtt[4]).get("retry") == 1  # its PUBACK was never read


async def test_ping_after_silence_and_drop_after_two_unanswered(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """websocketclient.c: a ping when nothing was received for 30 s; when it fires again with
    two pings unanswered, the connection is dropped (without a close frame)."""
    fake_aws.answer_pings = False
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), ws_ping_interval=0.2)
    await wait_for(lambda: len(fake_aws.peers) >= 2, 3)
    sent = [opcode for opcode, _ in fake_aws.peers[0].received]
    last_report = max(position for position, opcode in enumerate(sent) if opcode == 0x2)
    assert sent[last_report + 1 :] == [PING, PING]  # then dropped, without a close frame
    assert board.boots == 1


async def test_answered_pings_keep_the_connection(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    await make_sim("3.1.5", files=fake_files(fake_aws.url), ws_ping_interval=0.1)
    await asyncio.sleep(0.8)
    assert len(fake_aws.peers) == 1
    assert [opcode for opcode, _ in fake_aws.peers[0].received].count(PING) >= 3


# --- PUT /settings while in AWS mode ---------------------------------------------------------


async def reports_done(board: SimulatedBoard, fake_aws: FakeAws) -> None:
    """Connected and the boot reports acknowledged: any data from the server would re-arm the
    client's timer (also the force-close after ws:close()) for another 30 s."""
    await wait_for(board.mqtt_connected.is_set)
    await wait_for(lambda: len(fake_aws.peers[0].mqtt) >= 5)
    await asyncio.sleep(0.1)


async def test_315_answers_settings_only_after_the_websocket_closed(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """v3.1.1+ closes the WebSocket first and answers (and saves) in the `offline` callback:
    a server that does not answer the close frame delays it by the 5 s force-close."""
    fake_aws.answer_close = False
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), ws_close_timeout=0.6, reboot_delay=5)
    await reports_done(board, fake_aws)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none"}, timeout=3)
    assert answer.status == 200
    assert loop.time() - started >= 0.5
    assert CLOSE in [opcode for opcode, _ in fake_aws.peers[0].received]
    assert board.settings == {"endpoint_type": "none"}
    await asyncio.sleep(0.3)
    assert len(fake_aws.peers) == 1  # the offline handler was replaced: no reconnect


async def test_301_answers_settings_at_once_and_stays_connected(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    fake_aws.answer_close = False
    board = await make_sim("3.0.1", files=fake_files(fake_aws.url, zones=False), reboot_delay=5)
    await wait_for(board.mqtt_connected.is_set)
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none"}, timeout=0.3)
    assert answer.status == 200
    assert CLOSE not in [opcode for opcode, _ in fake_aws.peers[0].received]


async def test_315_settings_never_answered_when_there_is_nothing_to_close(make_sim: MakeBoard) -> None:
    """An endpoint the WebSocket client cannot parse leaves it in state 0: ws:close() does
    nothing, no `offline` ever comes, the PUT is neither answered nor saved."""
    files = fake_files("http://127.0.0.1:1/mqtt")
    board = await make_sim("3.1.5", files=files, offline_restart_delay=5, connect_timeout=5)
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none"}, timeout=0.8)
    assert answer.raw == b""
    assert board.settings["endpoint_type"] == "aws_iot"


async def test_315_settings_lost_when_another_request_comes_first(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """`request` and `response` are globals: a GET /status served before the close completes
    leaves them nil, the `offline` callback fails (restart 2 s later), nothing is saved."""
    fake_aws.answer_close = False
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), ws_close_timeout=0.5, error_restart_delay=0.3)
    await reports_done(board, fake_aws)
    put = asyncio.create_task(call(board, "PUT", "/settings", {"endpoint_type": "none"}, timeout=1.5))
    await asyncio.sleep(0.1)
    assert (await call(board, "GET", "/status")).status == 200
    answer = await put
    assert answer.raw == b""
    assert board.settings["endpoint_type"] == "aws_iot"
    assert "global 'response'" in board.lua_errors[0]
    await wait_for(lambda: board.boots == 2, 2)


async def test_315_settings_never_answered_if_the_connect_completes_first(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """While the TCP/TLS connect is under way (state 2) no close frame can be sent; the
    upgrade answer then re-arms the client's only timer as the ping timer, so the force-close
    never fires: connected, and the PUT never answered."""
    board = await make_sim("3.1.5", files=fake_files(fake_aws.url), reconnect_delay=0.4, ws_close_timeout=1.0)
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none"}, timeout=1.8)
    assert answer.raw == b""
    assert board.mqtt_connected.is_set()
    assert board.settings["endpoint_type"] == "aws_iot"


# --- against the IoT emulator ------------------------------------------------------------------


async def bridge_client(account: Account) -> aiomqtt.Client:
    """A bridge principal (may publish to any board's switch topic)."""

    def register() -> tuple[str, str]:
        cloud = account.emulator.cloud_account()
        from custom_components.konnected_aws.cloud.signing import sign_token  # noqa: PLC0415

        token = cloud.registry.register("simtest", "user", kind="bridge").token
        return token, sign_token(cloud.load_private_key(), token)

    token, signature = await asyncio.get_running_loop().run_in_executor(None, register)
    return aiomqtt.Client(
        "127.0.0.1",
        account.emulator.port,
        identifier="konnected-bridge-simtest-0001",
        transport="websockets",
        websocket_path="/mqtt",
        websocket_headers=account.emulator.authorizer_headers(token, signature, account.authorizer),
        timeout=3,
    )


@pytest.mark.parametrize("sw_version", RELEASES)
async def test_emulator_accepts_the_firmware_and_delivers_commands(make_sim: MakeBoard, account: Account, sw_version: str) -> None:
    """The firmware's CONNECT (empty client id, keepalive 0) is accepted, its subscription is
    in place, every report is acknowledged in a message of its own (no retries), and a command
    reaches the board as a QoS 0 PUBLISH it can parse."""
    zones = sw_version == "3.1.5"
    board = await make_sim(sw_version, files=await account.aws_files(DEVICE, zones=zones))
    await wait_for(board.mqtt_connected.is_set, 10)
    emulator = account.emulator
    client_ids = [client for client, auth in emulator.by_client.items() if auth.principal_id == DEVICE]
    assert len(client_ids) == 1
    await wait_for(lambda: emulator.is_subscribed(client_ids[0], topics(DEVICE)["switch"]))
    await wait_for(lambda: any(topic.endswith("/heartbeat") for topic, _ in board.published))
    async with await bridge_client(account) as bridge:
        output = {"zone": "out"} if zones else {"pin": 8}
        await bridge.publish(topics(DEVICE)["switch"], json.dumps({**output, "state": 1}), qos=1)
        await wait_for(lambda: board.level("out") == 1)
    await asyncio.sleep(0.3)
    assert all("retry" not in body for _, body in board.published)
    assert board.lua_errors == []
    assert len(emulator.by_client) == 1  # only the board now; it never reconnected


async def test_emulator_refuses_a_board_without_authorizer_headers(make_sim: MakeBoard, account: Account) -> None:
    files = await account.aws_files(DEVICE)
    del files["settings"]["aws"]["token_signature"]
    board = await make_sim("3.1.5", files=files, connect_timeout=0.8, offline_restart_delay=5)
    # Refused at CONNECT (the firmware ignores the CONNACK code): the broker closes the socket,
    # and the board restarts, by its watchdog or after its 10th `offline`.
    await wait_for(lambda: board.boots >= 2, 20)
    assert not account.emulator.by_client
    assert "X-Amz-CustomAuthorizer" not in board.websocket.upgrade_request.decode() if board.websocket else True


async def test_emulator_settings_answered_after_the_close_echo(make_sim: MakeBoard, account: Account) -> None:
    """The broker answers the board's close frame, so v3.1.5's deferred PUT /settings answer
    comes quickly (and the board then restarts into the new settings)."""
    board = await make_sim("3.1.5", files=await account.aws_files(DEVICE), reboot_delay=0.2)
    await wait_for(board.mqtt_connected.is_set, 10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await call(board, "PUT", "/settings", {"endpoint_type": "none", "sensors": [], "actuators": []}, timeout=3)
    assert answer.status == 200
    assert loop.time() - started < 1.0
    await wait_for(lambda: board.boots == 2, 3)


async def test_301_given_zone_keys_never_connects(make_sim: MakeBoard, fake_aws: FakeAws) -> None:
    """application.lua fails before aws_iot() runs: no WebSocket at all, at every boot."""
    board = await make_sim("3.0.1", files=fake_files(fake_aws.url, zones=True), error_restart_delay=0.2)
    await wait_for(lambda: board.boots >= 4, 5)
    assert fake_aws.peers == []
    assert not board.mqtt_connected.is_set()
    assert len(board.lua_errors) >= 3
