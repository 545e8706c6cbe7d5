"""MQTT 3.1.1 framing and the CONNECT packet (OASIS MQTT 3.1.1, sections 2.2 and 3.1).

The emulator reads the CONNECT itself, before amqtt sees anything, because AWS IoT decides
there what amqtt cannot: custom authentication from the username, the client id (empty ones,
takeover) and the keep-alive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import struct
from typing import Final

CONNECT: Final = 1
DISCONNECT: Final = 14
PROTOCOL_NAME: Final = "MQTT"
PROTOCOL_LEVEL_311: Final = 4
CONNACK_ACCEPTED: Final = 0
CONNACK_UNACCEPTABLE_PROTOCOL: Final = 1
CONNACK_IDENTIFIER_REJECTED: Final = 2
CONNACK_NOT_AUTHORIZED: Final = 5


class MalformedPacket(ValueError):
    """Bytes that are not a well-formed MQTT packet."""


def packet_length(data: bytes | bytearray) -> int | None:
    """Return the length of the first packet in `data`, None when more bytes are needed."""
    multiplier, value = 1, 0
    for index in range(1, 5):
        if index >= len(data):
            return None
        byte = data[index]
        value += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return index + 1 + value
        multiplier *= 128
    raise MalformedPacket("Remaining length longer than 4 bytes")


def is_single_packet(data: bytes | bytearray) -> bool:
    """Tell whether `data` is exactly one complete packet."""
    try:
        return packet_length(data) == len(data)
    except MalformedPacket:
        return False


def _remaining_length(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _binary(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def take(self, count: int) -> bytes:
        if self.position + count > len(self.data):
            raise MalformedPacket("CONNECT ends early")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def binary(self) -> bytes:
        return self.take(struct.unpack("!H", self.take(2))[0])

    def string(self) -> str:
        try:
            return self.binary().decode()
        except UnicodeDecodeError as err:
            raise MalformedPacket("A CONNECT string is not UTF-8") from err


@dataclass(frozen=True, slots=True)
class ConnectPacket:
    """A parsed CONNECT."""

    protocol_name: str
    protocol_level: int
    clean_session: bool
    keep_alive: int
    client_id: str
    will: tuple[str, bytes, int, bool] | None
    username: str | None
    password: bytes | None

    @classmethod
    def parse(cls, packet: bytes) -> ConnectPacket:
        """One whole CONNECT packet; MalformedPacket for anything else."""
        if not packet or packet[0] != CONNECT << 4:
            raise MalformedPacket("The first packet is not a CONNECT")
        length = packet_length(packet)
        if length != len(packet):
            raise MalformedPacket("Not exactly one packet")
        cursor = _Cursor(packet)
        cursor.take(1)
        while cursor.take(1)[0] & 0x80:  # the remaining length, already checked
            pass
        protocol_name = cursor.string()
        protocol_level = cursor.take(1)[0]
        flags = cursor.take(1)[0]
        keep_alive = struct.unpack("!H", cursor.take(2))[0]
        if flags & 0x01:
            raise MalformedPacket("[MQTT-3.1.2-3] reserved flag set")
        client_id = cursor.string()
        will = None
        if flags & 0x04:
            will = (cursor.string(), cursor.binary(), (flags >> 3) & 0x03, bool(flags & 0x20))
        elif flags & 0x38:
            raise MalformedPacket("[MQTT-3.1.2-11] will QoS or retain without the will flag")
        username = cursor.string() if flags & 0x80 else None
        if flags & 0x40 and not flags & 0x80:
            raise MalformedPacket("[MQTT-3.1.2-22] password without user name")
        password = cursor.binary() if flags & 0x40 else None
        if cursor.position != len(packet):
            raise MalformedPacket("Bytes after the CONNECT payload")
        return cls(
            protocol_name,
            protocol_level,
            bool(flags & 0x02),
            keep_alive,
            client_id,
            will,
            username,
            password,
        )

    def to_bytes(self) -> bytes:
        """Return the packet encoded again (after `with_client_id` or `without_credentials`)."""
        flags = (0x02 if self.clean_session else 0) | (0x80 if self.username is not None else 0)
        flags |= 0x40 if self.password is not None else 0
        body = _string(self.protocol_name) + bytes([self.protocol_level])
        payload = _string(self.client_id)
        if self.will is not None:
            topic, message, qos, retain = self.will
            flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
            payload += _string(topic) + _binary(message)
        if self.username is not None:
            payload += _string(self.username)
        if self.password is not None:
            payload += _binary(self.password)
        body += bytes([flags]) + struct.pack("!H", self.keep_alive) + payload
        return bytes([CONNECT << 4]) + _remaining_length(len(body)) + body

    def for_broker(self, client_id: str) -> ConnectPacket:
        """Return what the embedded broker is given.

        The final client id, no credentials (already used) and no keep-alive (the emulator enforces AWS's).
        """
        return replace(self, client_id=client_id, username=None, password=None, keep_alive=0)


def connack(return_code: int) -> bytes:
    """CONNACK without a session present."""
    return bytes([0x20, 0x02, 0x00, return_code])
