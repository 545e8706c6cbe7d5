"""The board's own bytes: the firmware's CONNECT (empty client id, keep-alive 0), one MQTT packet
per WebSocket message, and the WebSocket framing rules a server enforces."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
import contextlib
import json
import os
import struct

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from devtools.iot_emulator import IotEmulator
from devtools.iot_emulator.broker import PacketWriter, effective_keep_alive
from devtools.iot_emulator.wire import is_single_packet

from .conftest import (
    BOARD,
    FIRMWARE_CONNECT,
    PINGREQ,
    Deploy,
    EmulatorFactory,
    connect_packet,
    konnected_account,
    packet_types,
    parse_publish,
    publish_packet,
    raw_connect,
    receive,
    subscribe_packet,
    wait_for,
)

ACCEPTED = bytes([0x20, 0x02, 0x00, 0x00])


async def _board(
    emulator: IotEmulator, connect: bytes = FIRMWARE_CONNECT
) -> tuple[ClientConnection, bytes]:
    account = await konnected_account(emulator)
    headers = IotEmulator.authorizer_headers(account.board_token, account.board_signature)
    return await raw_connect(emulator.ws_url, headers, connect)


async def test_the_firmware_connect_gets_an_assigned_client_id(iot_emulator: IotEmulator) -> None:
    """Empty client id with a clean session: accepted, with an id AWS assigns (MQTT-3.1.3-6); the
    policy's iot:Connect is checked against that id and lifecycle events carry it."""
    websocket, connack = await _board(iot_emulator)
    async with websocket:
        assert connack == ACCEPTED
        (client_id,) = iot_emulator.by_client
        assert client_id and iot_emulator.by_client[client_id].principal_id == BOARD
        await websocket.send(subscribe_packet(f"konnected/{BOARD}/switch"))
        assert packet_types([await receive(websocket)]) == [9]
        await wait_for(lambda: iot_emulator.is_subscribed(client_id, f"konnected/{BOARD}/switch"))


@pytest.mark.parametrize(
    ("connect", "connack"),
    [
        (connect_packet("", clean=False), bytes([0x20, 0x02, 0x00, 0x02])),
        (connect_packet("x" * 129), bytes([0x20, 0x02, 0x00, 0x02])),
        (connect_packet("konnected-bridge-hassbridge1"), bytes([0x20, 0x02, 0x00, 0x05])),
    ],
    ids=["empty-id-persistent-session", "id-over-128-bytes", "id-the-board-policy-denies"],
)
async def test_client_ids_that_are_refused(
    iot_emulator: IotEmulator, connect: bytes, connack: bytes
) -> None:
    """MQTT-3.1.3-8 (empty id needs a clean session), AWS's 128-byte client id limit,
    iot:Connect."""
    websocket, answer = await _board(iot_emulator, connect)
    async with websocket:
        assert answer == connack
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(websocket.recv(), 5)
    assert iot_emulator.by_client == {}


def test_keep_alive_values() -> None:
    """0 is AWS's 1,200 s default; other values are held within 30-1,200 s."""
    assert [effective_keep_alive(value) for value in (0, 1, 29, 30, 60, 1200, 1201, 65535)] == [
        1200,
        30,
        30,
        30,
        60,
        1200,
        1200,
        1200,
    ]


async def test_keep_alive_zero_means_1200_seconds(
    make_emulator: EmulatorFactory, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """A silent firmware connection is dropped after 1.5 x 1,200 s (here scaled by 1/1000: 1.8 s),
    with MQTT_KEEP_ALIVE_TIMEOUT; one that sends anything at least that often stays."""
    emulator = await make_emulator(time_scale=0.001)
    authorizer = await deploy(emulator)("tester")
    chatty, _ = await raw_connect(emulator.ws_url, authorizer.headers(), connect_packet("chatty"))
    await chatty.send(subscribe_packet("$aws/events/presence/disconnected/+"))
    received = [await receive(chatty)]
    silent, _ = await raw_connect(emulator.ws_url, authorizer.headers(), connect_packet("silent"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 2.6:
        await chatty.send(PINGREQ)
        with contextlib.suppress(TimeoutError):
            received.append(await receive(chatty, 0.4))
    assert "chatty" in emulator.by_client
    assert "silent" not in emulator.by_client
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(silent.recv(), 1)
    await chatty.close()
    events = [parse_publish(packet) for packet in received if packet[0] >> 4 == 3]
    assert [(topic, json.loads(payload)["disconnectReason"]) for topic, payload in events] == [
        ("$aws/events/presence/disconnected/silent", "MQTT_KEEP_ALIVE_TIMEOUT")
    ]


async def test_a_keep_alive_below_30_seconds_counts_as_30(
    make_emulator: EmulatorFactory, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Keep-alive 1 s is not enforced as 1.5 s: AWS treats it as 30 s (45 s; 0.45 s scaled)."""
    emulator = await make_emulator(time_scale=0.01)
    authorizer = await deploy(emulator)("tester")
    websocket, connack = await raw_connect(
        emulator.ws_url, authorizer.headers(), connect_packet("short", keep_alive=1)
    )
    async with websocket:
        assert connack == ACCEPTED
        await asyncio.sleep(0.2)  # longer than 1.5 x 1 s x 1/100
        assert "short" in emulator.by_client
        await wait_for(lambda: "short" not in emulator.by_client, timeout=3)


async def test_every_packet_is_its_own_websocket_message(iot_emulator: IotEmulator) -> None:
    """The NodeMCU client parses one packet per message: a burst of commands to the board arrives
    as one PUBLISH per binary message, never two in one."""
    board, _ = await _board(iot_emulator)
    topic = f"konnected/{BOARD}/switch"
    token, signature = await asyncio.get_running_loop().run_in_executor(
        None, iot_emulator.signed_token, "hassbridge1"
    )
    bridge, _ = await raw_connect(
        iot_emulator.ws_url,
        IotEmulator.authorizer_headers(token, signature),
        connect_packet("konnected-bridge-hassbridge1-0001"),
    )
    async with board, bridge:
        await board.send(subscribe_packet(topic))
        messages = [await receive(board)]
        await wait_for(
            lambda: any(
                iot_emulator.is_subscribed(client_id, topic) for client_id in iot_emulator.by_client
            )
        )
        for index in range(40):
            await bridge.send(
                publish_packet(
                    topic, json.dumps({"zone": "out", "state": index % 2}).encode(), None
                )
            )
        async with asyncio.timeout(10):
            while len(messages) < 41:
                messages.append(await receive(board))
    assert all(isinstance(message, bytes) and is_single_packet(message) for message in messages)
    assert packet_types(messages) == [9] + [3] * 40


class _RecordingWebSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, message: bytes) -> None:
        self.sent.append(message)


async def test_the_writer_never_joins_packets() -> None:
    """Two packets written before one drain are two messages; a write of two packets is a bug."""
    socket = _RecordingWebSocket()
    writer = PacketWriter(socket)  # type: ignore[arg-type]
    writer.write(bytes([0x90, 0x03, 0x00, 0x01, 0x00]))
    writer.write(bytes([0xD0, 0x00]))
    await writer.drain()
    assert socket.sent == [bytes([0x90, 0x03, 0x00, 0x01, 0x00]), bytes([0xD0, 0x00])]
    with pytest.raises(ValueError, match="exactly one MQTT packet"):
        writer.write(bytes([0xD0, 0x00, 0xD0, 0x00]))


async def test_packets_before_the_connack_and_text_frames_close_the_connection(
    iot_emulator: IotEmulator,
) -> None:
    """AWS: the client waits for the CONNACK before other packets; MQTT over WebSocket is binary."""
    account = await konnected_account(iot_emulator)
    headers = IotEmulator.authorizer_headers(account.board_token, account.board_signature)
    async with websockets.connect(
        iot_emulator.ws_url,
        additional_headers=headers,
        subprotocols=[websockets.Subprotocol("mqtt")],
    ) as websocket:
        await websocket.send(FIRMWARE_CONNECT + subscribe_packet(f"konnected/{BOARD}/switch"))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(websocket.recv(), 5)
    websocket, _ = await raw_connect(iot_emulator.ws_url, headers)
    async with websocket:
        await websocket.send(publish_packet(f"konnected/{BOARD}/sensor", b"{}").decode("latin-1"))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(websocket.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


async def test_an_unmasked_client_frame_is_a_protocol_error(iot_emulator: IotEmulator) -> None:
    """RFC 6455 section 5.1: the server closes the connection with 1002 on an unmasked frame (what
    paho 2.1.0 sends as its pong)."""
    account = await konnected_account(iot_emulator)
    reader, writer = await asyncio.open_connection("127.0.0.1", iot_emulator.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:{iot_emulator.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
        "X-Amz-CustomAuthorizer-Name: konnected-aws\r\n"
        f"X-Amz-CustomAuthorizer-Signature: {account.board_signature}\r\n"
        f"Token: {account.board_token}\r\n\r\n"
    )
    writer.write(request.encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    # An unmasked pong, byte for byte what paho 2.1.0 sends: FIN + opcode 0xA, mask bit 0.
    writer.write(bytes([0x8A, 0x00]))
    frame = await asyncio.wait_for(reader.readexactly(4), 5)
    assert frame[0] == 0x88  # close
    assert struct.unpack("!H", frame[2:4])[0] == 1002
    writer.close()
