"""The bridge side by side with Home Assistant's own `mqtt` binary_sensor, fed by the same broker.

Everything on 127.0.0.1 in one process: simulated board → amqtt broker (custom authorizer,
policies) → two consumers of the same board topic, each with its own MQTT-over-WebSocket
connection through the same authorizer:
- konnected_aws: the bridge and its zone binary_sensor;
- HA mqtt: the core `mqtt` integration (paho) and a YAML `mqtt` binary_sensor on the same zone.

Measured: zone change → state latency for both entities on the same changes, and for a burst
of reports (published under the board's principal) each consumer's throughput and CPU per
message, with the broker-and-publisher cost measured alone and subtracted. Numbers go to
docs/benchmarks.md. Run: `scripts/run python -m pytest benchmarks -s -p no:randomly`.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import statistics
import time
from typing import Any
from unittest.mock import patch

import aiomqtt
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.konnected_aws.iot.messages import board_topics
from devtools.board_simulator import SimulatedBoard
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from tests.conftest import BoardFactory
from tests.test_end_to_end import adopted_board, entity_id, wait_for

ZONE_CHANGES = 300
BURST = 2000
ROUNDS = 3
# HA's mqtt connects as a second bridge principal: the authorizer lets bridges read every board.
HA_MQTT_PRINCIPAL = "bridgebench"
HA_MQTT_CLIENT_ID = f"konnected-bridge-{HA_MQTT_PRINCIPAL}-benchmark"
HA_MQTT_ENTITY = "binary_sensor.zone_1_via_ha_mqtt"
KONNECTED = "konnected_aws"
HA_MQTT = "HA mqtt"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ha_mqtt_yaml(board: SimulatedBoard) -> dict[str, Any]:
    """What a user would write to follow zone 1 with HA's mqtt integration (all zones share a topic)."""
    return {
        "mqtt": {
            "binary_sensor": [
                {
                    "name": "Zone 1 via HA mqtt",
                    "unique_id": "benchmark_zone_1",
                    "state_topic": f"konnected/{board.device_id}/sensor",
                    "value_template": (
                        "{% if value_json.zone == '1' %}{{ 'ON' if value_json.state else 'OFF' }}"
                        "{% else %}{{ this.state | upper }}{% endif %}"
                    ),
                }
            ]
        }
    }


async def add_ha_mqtt(hass: HomeAssistant, emulator: IotEmulator, board: SimulatedBoard) -> MockConfigEntry:
    """HA's mqtt entry over WebSocket through the custom authorizer, as its own bridge principal.

    Birth and will messages are off: they go to `homeassistant/status`, which the bridge policy
    (like any least-privilege AWS IoT policy) does not allow, and AWS drops the connection then.
    """
    cloud = emulator.cloud_account()
    await hass.async_add_executor_job(cloud.registry.register, HA_MQTT_PRINCIPAL, "benchmark", "bridge")
    token, signature = await hass.async_add_executor_job(emulator.signed_token, HA_MQTT_PRINCIPAL)
    entry = MockConfigEntry(
        domain="mqtt",
        data={
            "broker": "127.0.0.1",
            "port": emulator.port,
            "transport": "websockets",
            "ws_path": "/mqtt",
            "ws_headers": emulator.authorizer_headers(token, signature),
            "client_id": HA_MQTT_CLIENT_ID,
            "protocol": "3.1.1",
        },
        options={"birth_message": {}, "will_message": {}, "discovery": False},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    await load_ha_mqtt(hass, entry, board)
    return entry


async def load_ha_mqtt(hass: HomeAssistant, entry: MockConfigEntry, board: SimulatedBoard) -> None:
    """Set the mqtt entry up; it reads its entities from configuration.yaml each time."""
    with patch("homeassistant.config.load_yaml_config_file", return_value=ha_mqtt_yaml(board)):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()


class StateWatch:
    """When each watched entity last changed state, and how often."""

    def __init__(self, hass: HomeAssistant, entity_ids: dict[str, str]) -> None:
        self._names = {entity: name for name, entity in entity_ids.items()}
        self.changed_at: dict[str, float] = {}
        self.counts = dict.fromkeys(entity_ids, 0)
        self.unsubscribe = hass.bus.async_listen("state_changed", self._on_change)

    @callback
    def _on_change(self, event: Event[EventStateChangedData]) -> None:
        name = self._names.get(event.data["entity_id"])
        if name is not None:
            self.changed_at[name] = time.perf_counter()
            self.counts[name] += 1


@dataclass
class BurstResult:
    wall: float
    cpu: float

    def per_message_us(self) -> float:
        return self.cpu / BURST * 1e6


async def burst(
    publisher: aiomqtt.Client, device_id: str, watch: StateWatch, consumer: str | None, currently_on: bool
) -> BurstResult:
    """BURST zone-1 reports as fast as the broker acknowledges them; done when `consumer` saw all.

    Each report flips the zone, starting from the opposite of the current state, so each is a
    state change.
    """
    before = watch.counts.get(consumer, 0) if consumer else 0
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for index in range(BURST):
        payload = json.dumps({"zone": "1", "state": (index + int(not currently_on)) % 2, "device_id": device_id})
        await publisher.publish(board_topics(device_id).sensor, payload, qos=1)
    if consumer is not None:
        await wait_for(lambda: watch.counts[consumer] - before >= BURST, timeout=120)
    return BurstResult(time.perf_counter() - wall_before, time.process_time() - cpu_before)


def median_result(results: list[BurstResult]) -> BurstResult:
    """The round with the median CPU time."""
    return sorted(results, key=lambda result: result.cpu)[len(results) // 2]


async def test_bridge_side_by_side_with_ha_mqtt(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Print latency p50/p99, throughput and CPU per message for both consumers."""
    board, konnected_entry = await adopted_board(hass, iot_emulator, make_board)
    konnected_entry_id = konnected_entry.entry_id
    sensor_topic = board_topics(board.device_id).sensor
    mqtt_entry = await add_ha_mqtt(hass, iot_emulator, board)
    entities = {KONNECTED: entity_id(hass, "binary_sensor", f"{board.device_id}_1"), HA_MQTT: HA_MQTT_ENTITY}
    # HA's mqtt connects and subscribes in the background (subscriptions are debounced).
    await wait_for(lambda: iot_emulator.is_subscribed(HA_MQTT_CLIENT_ID, sensor_topic))
    board.set_zone("1", 1)
    await wait_for(lambda: all(hass.states.get(entity).state == STATE_ON for entity in entities.values()))

    # Latency: one change at a time from the simulated input edge; both entities see each change.
    watch = StateWatch(hass, entities)
    latencies: dict[str, list[float]] = {name: [] for name in entities}
    for index in range(ZONE_CHANGES):
        watch.changed_at.clear()
        started = time.perf_counter()
        board.set_zone("1", index % 2)
        await wait_for(lambda: len(watch.changed_at) == len(entities), timeout=5)
        for name, at in watch.changed_at.items():
            latencies[name].append((at - started) * 1000)

    def is_on(entity: str) -> bool:
        return hass.states.get(entity).state == STATE_ON

    konnected_client = konnected_entry.runtime_data.hub.connection.client_id

    async def load_only(consumer: str | None) -> None:
        """Exactly one consumer (or none) connected and subscribed."""
        for entry_id in (konnected_entry_id, mqtt_entry.entry_id):
            if hass.config_entries.async_get_entry(entry_id).state is ConfigEntryState.LOADED:  # type: ignore[union-attr]
                assert await hass.config_entries.async_unload(entry_id)
        if consumer == KONNECTED:
            assert await hass.config_entries.async_setup(konnected_entry_id)
            await wait_for(lambda: iot_emulator.is_subscribed(konnected_client, "konnected/+/sensor"))
        elif consumer == HA_MQTT:
            await load_ha_mqtt(hass, mqtt_entry, board)
            await wait_for(lambda: iot_emulator.is_subscribed(HA_MQTT_CLIENT_ID, sensor_topic))

    # Bursts, one consumer at a time and none (publisher and broker alone), interleaved over
    # several rounds so drift hits all three alike; the median round counts.
    token, signature = await hass.async_add_executor_job(iot_emulator.signed_token, board.device_id)
    rounds: dict[str | None, list[BurstResult]] = {None: [], KONNECTED: [], HA_MQTT: []}
    async with iot_emulator.mqtt_client(token, signature) as publisher:
        for _ in range(ROUNDS):
            for consumer, consumer_rounds in rounds.items():
                await load_only(consumer)
                currently_on = consumer is not None and is_on(entities[consumer])
                consumer_rounds.append(await burst(publisher, board.device_id, watch, consumer, currently_on))
    watch.unsubscribe()
    baseline = median_result(rounds[None])
    results = {name: median_result(rounds[name]) for name in entities}

    lines = [
        "",
        "BENCHMARK side by side (simulator, broker, HA in one process, 2 cores)",
        f"  zone change -> HA state, n={ZONE_CHANGES}, same changes for both:",
    ]
    for name, values in latencies.items():
        lines.append(
            f"    {name:14} p50 {statistics.median(values):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms  "
            f"max {max(values):6.2f} ms"
        )
    lines.append(
        f"  burst of {BURST} QoS 1 reports, median of {ROUNDS} rounds; publisher + broker alone: {BURST / baseline.wall:.0f} msg/s, "
        f"{baseline.per_message_us():.0f} us CPU/msg"
    )
    for name, result in results.items():
        lines.append(
            f"    {name:14} {BURST / result.wall:5.0f} msg/s end to end, {result.per_message_us():5.0f} us CPU/msg in total, "
            f"{result.per_message_us() - baseline.per_message_us():5.0f} us CPU/msg for the consumer"
        )
    print("\n".join(lines))
    assert all(len(values) == ZONE_CHANGES for values in latencies.values())
