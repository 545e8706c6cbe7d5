"""Topics and payloads the legacy Konnected firmware uses in AWS IoT mode.

The firmware publishes to whatever topics it is provisioned with (`aws.topics` in
`PUT /settings`, see docs/protocol.md). We provision every board with topics under
`konnected/<device_id>/`, the prefix the authorizer's policy allows.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
from typing import Any, Final

from ..board.models import Pulse, switch_command, zone_of
from ..board.wire import PayloadError, decode_json

_LOGGER = logging.getLogger(__name__)

TOPIC_PREFIX: Final = "konnected"
SENSOR_SUFFIX: Final = "sensor"
HEARTBEAT_SUFFIX: Final = "heartbeat"
SWITCH_SUFFIX: Final = "switch"

# What the bridge subscribes to: every board's reports, never their command topics.
BRIDGE_SUBSCRIPTIONS: Final = (
    f"{TOPIC_PREFIX}/+/{SENSOR_SUFFIX}",
    f"{TOPIC_PREFIX}/+/{HEARTBEAT_SUFFIX}",
)

# The firmware queues one report per change and sends them one by one; a payload
# larger than this is not something it produces.
MAX_PAYLOAD_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class BoardTopics:
    """The three topics one board is provisioned with."""

    sensor: str
    heartbeat: str
    switch: str

    def as_firmware_settings(self) -> dict[str, str]:
        """Return the `aws.topics` object of the firmware's settings."""
        return {"sensor": self.sensor, "heartbeat": self.heartbeat, "switch": self.switch}


def board_topics(device_id: str) -> BoardTopics:
    """Topics for one board; all under the prefix its policy allows."""
    base = f"{TOPIC_PREFIX}/{device_id}"
    return BoardTopics(
        sensor=f"{base}/{SENSOR_SUFFIX}",
        heartbeat=f"{base}/{HEARTBEAT_SUFFIX}",
        switch=f"{base}/{SWITCH_SUFFIX}",
    )


@dataclass(frozen=True, slots=True)
class ZoneState:
    """A binary zone or an actuator reported its level (1 high, 0 low, -1 repeating forever)."""

    device_id: str
    zone: str
    state: int


@dataclass(frozen=True, slots=True)
class DhtReading:
    """Temperature (°C) and humidity (%) from a DHT sensor."""

    device_id: str
    zone: str
    temperature: float
    humidity: float


@dataclass(frozen=True, slots=True)
class Ds18b20Reading:
    """Temperature (°C) from one DS18B20 probe on a zone's 1-Wire bus."""

    device_id: str
    zone: str
    temperature: float
    address: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The board's status, published at connect and every five minutes."""

    device_id: str
    status: dict[str, Any]

    @property
    def zone_states(self) -> dict[str, int]:
        """Current levels of the binary zones, as the firmware keeps them."""
        states: dict[str, int] = {}
        sensors = self.status.get("sensors")
        if not isinstance(sensors, list):
            return states
        for sensor in sensors:
            if not isinstance(sensor, dict):
                continue
            zone = zone_of(sensor)
            level = sensor.get("state")
            if zone is not None and isinstance(level, int) and level in (0, 1):
                states[zone] = level
        return states


type BoardMessage = ZoneState | DhtReading | Ds18b20Reading | Heartbeat

def _number(value: Any) -> float | None:
    """DHT values arrive as strings ("22.5"), DS18B20 values as numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def device_id_of_topic(topic: str) -> str | None:
    """Return the device id in `konnected/<device_id>/<suffix>`, or None for a foreign topic."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_PREFIX or not parts[1]:
        return None
    return parts[1]


def parse_message(topic: str, payload: bytes) -> BoardMessage | None:
    """Turn one MQTT message into a typed report, or None (logged) when it is not one."""
    parts = topic.split("/")
    device_id = device_id_of_topic(topic)
    if device_id is None or parts[2] not in (SENSOR_SUFFIX, HEARTBEAT_SUFFIX):
        _LOGGER.debug("Dropping message on foreign topic %s", topic)
        return None
    if len(payload) > MAX_PAYLOAD_BYTES:
        _LOGGER.debug("Dropping oversized message (%d bytes) on %s", len(payload), topic)
        return None
    try:
        body = decode_json(payload, max_bytes=MAX_PAYLOAD_BYTES)
    except PayloadError as err:
        _LOGGER.debug("Dropping malformed message on %s: %s", topic, err)
        return None
    if not isinstance(body, dict):
        _LOGGER.debug("Dropping non-object JSON on %s", topic)
        return None
    # The firmware stamps its own id into every report; a mismatch is not from that board.
    claimed = body.get("device_id")
    if claimed is not None and claimed != device_id:
        _LOGGER.debug("Dropping report on %s claiming another device", topic)
        return None
    if parts[2] == HEARTBEAT_SUFFIX:
        return Heartbeat(device_id=device_id, status=body)
    return _parse_report(device_id, topic, body)


def _parse_report(device_id: str, topic: str, body: dict[str, Any]) -> BoardMessage | None:
    zone = zone_of(body)
    if zone is None:
        _LOGGER.debug("Dropping report without zone or known pin on %s", topic)
        return None
    if "humi" in body:
        temperature, humidity = _number(body.get("temp")), _number(body.get("humi"))
        if temperature is None or humidity is None:
            _LOGGER.debug("Dropping DHT report with bad values on %s", topic)
            return None
        return DhtReading(device_id, zone, temperature, humidity)
    if "temp" in body:
        temperature = _number(body.get("temp"))
        address = body.get("addr")
        if temperature is None or not isinstance(address, str):
            _LOGGER.debug("Dropping DS18B20 report with bad values on %s", topic)
            return None
        return Ds18b20Reading(device_id, zone, temperature, address)
    state = body.get("state")
    if isinstance(state, str) and state.lstrip("-").isdigit():
        state = int(state)
    if isinstance(state, bool) or not isinstance(state, int) or state not in (-1, 0, 1):
        _LOGGER.debug("Dropping zone report with bad state on %s", topic)
        return None
    return ZoneState(device_id, zone, state)


@dataclass(frozen=True, slots=True)
class ActuatorCommand:
    """What the firmware's switch handler runs, sent on the board's switch topic.

    `momentary_ms` unset: hold `state`. Set: a pulse of `times` pulses (unset: 1; -1: until the
    next command) `pause_ms` apart (see board.models.Pulse). A meaningless combination raises
    ValueError when the command is built.
    """

    zone: str
    state: int
    momentary_ms: int | None = None
    times: int | None = None
    pause_ms: int | None = None

    def __post_init__(self) -> None:
        """Check the pattern once, where the command is made."""
        if self.momentary_ms is None and (self.times is not None or self.pause_ms is not None):
            raise ValueError("times and pause only apply to a pulse (momentary_ms)")
        switch_command(self.zone, self.state, self.pulse)

    @property
    def pulse(self) -> Pulse | None:
        """The pattern, or None for a plain level."""
        if self.momentary_ms is None:
            return None
        return Pulse(self.momentary_ms, 1 if self.times is None else self.times, self.pause_ms or 0)

    def payload(self) -> bytes:
        """JSON the firmware decodes with sjson (pin-keyed, see board.models.switch_command)."""
        body = switch_command(self.zone, self.state, self.pulse)
        return json.dumps(body, separators=(",", ":")).encode()
