"""Zone change → Home Assistant state latency, and the bridge's throughput and CPU per message.

Everything on 127.0.0.1: simulated board → amqtt broker (custom authorizer, policies) → the
bridge's one MQTT-over-WebSocket connection → entity state. Numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from custom_components.konnected_aws.cloud import AwsCredentials, CloudAccount
from custom_components.konnected_aws.cloud.signing import sign_token
from custom_components.konnected_aws.const import DOMAIN
from devtools.iot_emulator import IotEmulator
from tests.conftest import BoardFactory
from tests.test_end_to_end import adopt, setup_account, wait_for

ZONE_CHANGES = 300
BURST = 2000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def test_bridge_latency_and_throughput(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Print p50/p99 latency, messages per second and CPU per message."""
    board = await make_board("88:40:f5:20:99:48")
    await setup_account(hass, iot_emulator)
    await adopt(hass, board)
    entity_id = er.async_get(hass).async_get_entity_id("binary_sensor", DOMAIN, f"{board.device_id}_1")
    assert entity_id is not None
    await wait_for(lambda: hass.states.get(entity_id).state == "off")

    changed = asyncio.Event()

    @callback
    def on_change(event: Event) -> None:
        if event.data["entity_id"] == entity_id:
            changed.set()

    hass.bus.async_listen("state_changed", on_change)

    # Latency: one change at a time, from the simulated input edge to the new state.
    latencies: list[float] = []
    for index in range(ZONE_CHANGES):
        changed.clear()
        started = time.perf_counter()
        board.set_zone("1", (index + 1) % 2)
        await asyncio.wait_for(changed.wait(), 5)
        latencies.append((time.perf_counter() - started) * 1000)

    # Throughput: a burst published as fast as the broker takes it, under the board's principal.
    cloud = CloudAccount(AwsCredentials("a", "b", iot_emulator.region), endpoint_url=iot_emulator.aws_endpoint_url)
    record = await hass.async_add_executor_job(cloud.registry.get, board.device_id)
    key = await hass.async_add_executor_job(cloud.load_private_key)
    assert record is not None
    received = 0
    done = asyncio.Event()

    @callback
    def count(event: Event) -> None:
        nonlocal received
        if event.data["entity_id"] == entity_id:
            received += 1
            if received >= BURST:
                done.set()

    hass.bus.async_listen("state_changed", count)
    publisher = iot_emulator.mqtt_client(record.token, sign_token(key, record.token))
    state = int(hass.states.get(entity_id).state == "on")
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    async with publisher:
        for _ in range(BURST):
            state = 1 - state
            payload = json.dumps({"zone": "1", "state": state, "device_id": board.device_id})
            await publisher.publish(f"konnected/{board.device_id}/sensor", payload, qos=1)
        await asyncio.wait_for(done.wait(), 60)
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before

    print(
        "\nBENCHMARK konnected_aws bridge (simulator, broker, HA in one process, 2 cores)\n"
        f"  zone change -> HA state, n={ZONE_CHANGES}: p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {percentile(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms\n"
        f"  burst of {BURST} reports: {BURST / wall:.0f} messages/s end to end, "
        f"{cpu / BURST * 1e6:.0f} us CPU per message (broker + authorizer policy + bridge + HA state)"
    )
    assert len(latencies) == ZONE_CHANGES
