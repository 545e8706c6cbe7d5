"""The firmware's own MQTT: `mqtt_packet.lua` (packets) and `mqtt_ws.lua` (the client).

The client runs on NodeMCU's WebSocket client. Not a general MQTT implementation: exactly what the Lua sends
and parses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from .lua import LuaError, index, sjson_encode, truthy, type_name
from .runtime import Boot
from .websocket import NodeWebSocket

# mqtt_ws.lua `connection` handler: MQTT 3.1.1, clean session, keepalive 0, empty client id.
CONNECT: Final = bytes([0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00])
CONNACK, PUBLISH, PUBACK = 2, 3, 4


def _length(value: int) -> bytes:
    """lengthStr: the remaining-length varint."""
    out = bytearray()
    while True:
        digit = value & 127
        value >>= 7
        out.append(digit | (128 if value > 0 else 0))
        if value == 0:
            return bytes(out)


def _number(value: int) -> bytes:
    """numberStr: two bytes, big endian (only the low 16 bits of the Lua counter)."""
    return bytes([(value >> 8) & 255, value & 255])


def _text(value: bytes) -> bytes:
    return _number(len(value)) + value


def subscribe_packet(message_id: int, topic: bytes) -> bytes:
    """mqtt_packet.subscribe with one topic at QoS 0."""
    topics = _text(topic) + bytes([0])
    return bytes([0x82]) + _length(2 + len(topics)) + _number(message_id) + topics


def publish_packet(message_id: int, topic: bytes, payload: bytes) -> bytes:
    """mqtt_packet.publish, always QoS 1 (0x32), never retained, never DUP."""
    return bytes([0x32]) + _length(2 + len(topic) + len(payload) + 2) + _text(topic) + _number(message_id) + payload


def parse(message: bytes) -> dict[str, Any]:
    """Parse as mqtt_packet.parse.

    The first byte's type; PUBLISH as if QoS 0 (topic, then the rest of
    the WebSocket message is the payload); PUBACK's id from bytes 3-4. One packet per message:
    whatever follows in the same message is never looked at.
    """
    if not message:
        raise LuaError("bad argument #1 to 'rshift' (number expected, got nil)")
    packet: dict[str, Any] = {"cmd": message[0] >> 4}
    if packet["cmd"] == PUBLISH:
        position = 1
        while True:
            if position >= len(message):
                raise LuaError("attempt to compare nil with number")
            if message[position] < 128:
                break
            position += 1
        position += 1
        if position + 1 >= len(message):
            raise LuaError("attempt to perform arithmetic on a nil value")
        topic_length = message[position] * 256 + message[position + 1]
        position += 2
        packet["topic"] = message[position : position + topic_length]
        packet["payload"] = message[position + topic_length :]
    elif packet["cmd"] == PUBACK:
        if len(message) < 4:
            raise LuaError("bad argument #1 to 'lshift' (number expected, got nil)")
        packet["message_id"] = (message[2] << 8) + message[3]
    return packet


def _header_value(value: Any) -> str:
    """websocket.c config: lua_tostring of each value (a table has no string: the C strdup crashes)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise LuaError(f"cannot send a {type_name(value)} as a header value")


class MqttClient:
    """mqtt_ws.lua `Client(aws_settings)`: one per boot; its message id counter survives reconnects."""

    def __init__(self, boot: Boot, websocket: NodeWebSocket, aws_settings: Any, connected: asyncio.Event) -> None:
        """Set up the client's WebSocket headers.

        Headers: `sec-websocket-protocol: mqtt`, and the authorizer's three only when both
        token and signature are set (a nil authorizer name leaves its header out).
        """
        self.boot = boot
        self.ws = websocket
        self.connected = connected  # for tests: CONNACK seen and the WebSocket not closed since
        self.msg_id = 1
        self.events: dict[str, Callable[..., None]] = {}
        headers = [("sec-websocket-protocol", "mqtt")]
        if truthy(index(aws_settings, "token")) and truthy(index(aws_settings, "token_signature")):
            for name, key in (
                ("X-Amz-CustomAuthorizer-Name", "authorizer"),
                ("X-Amz-CustomAuthorizer-Signature", "token_signature"),
                ("Token", "token"),
            ):
                if index(aws_settings, key) is not None:
                    headers.append((name, _header_value(index(aws_settings, key))))
        websocket.config(headers)
        websocket.on_receive = self._receive
        websocket.on_close = self._closed
        websocket.on_connection = self._connected
        self.sent: list[bytes] = []  # every packet handed to ws:send, for tests

    def on(self, event: str, callback: Callable[..., None]) -> None:
        """client:on(event, cb): one callback per event, the last one set wins."""
        self.events[event] = callback

    def emit(self, event: str, *args: Any) -> None:
        """Call the callback registered for `event`, if any."""
        callback = self.events.get(event)
        if callback is not None:
            callback(*args)

    def connect(self, url: object) -> None:
        """Connect the WebSocket to `url`."""
        self.ws.connect(url)

    def close(self) -> None:
        """Close the WebSocket."""
        self.ws.close()

    def subscribe(self, topic: Any) -> None:
        """client:subscribe(topic): `{[topic] = 0}` (nil topic: "table index is nil")."""
        if topic is None:
            raise LuaError("table index is nil")
        if not isinstance(topic, str):
            raise LuaError(f"attempt to get length of a {type_name(topic)} value")
        self._send(subscribe_packet(self.msg_id, topic.encode()))
        self.msg_id += 1

    def publish(self, topic: Any, message: Any) -> None:
        """client:publish(topic, table): sjson-encoded, QoS 1, with the next message id."""
        payload = sjson_encode(message) if isinstance(message, (dict, list)) else message
        if not isinstance(topic, str):
            raise LuaError(f"attempt to index a {type_name(topic)} value (topic:len)")
        if not isinstance(payload, str):
            raise LuaError(f"attempt to index a {type_name(payload)} value (payload:len)")
        self._send(publish_packet(self.msg_id, topic.encode(), payload.encode()))
        self.msg_id += 1

    def _send(self, packet: bytes) -> None:
        self.ws.send(packet, 2)
        self.sent.append(packet)

    def _receive(self, message: bytes, opcode: int) -> None:
        parsed = parse(message)
        if parsed["cmd"] == PUBACK:
            self.emit("puback", parsed["message_id"])
        elif parsed["cmd"] == PUBLISH:
            self.emit("message", parsed["topic"], parsed["payload"])
        elif parsed["cmd"] == CONNACK:
            self.connected.set()
            self.emit("connect")

    def _closed(self, status: int) -> None:
        self.connected.clear()
        self.emit("offline")

    def _connected(self) -> None:
        self.ws.send(CONNECT, 2)
