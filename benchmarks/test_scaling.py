"""How adoption, start-up and storms of reports scale with the number of boards (issue 14).

Everything real, in one process on 127.0.0.1: the IoT emulator (moto, the amqtt broker with the
emulated custom authorizer running the shipped Lambda), full simulated boards (firmware HTTP API,
SSDP, MQTT over WebSocket under their own tokens) and a real Home Assistant test instance.

- Fleet: N boards are powered on, registered and provisioned with the integration's own adoption
  code (`async_adopt_board`: AWS registration, `PUT /settings`, first report through AWS IoT),
  their subentries added to the stopped entry, and the entry started once. Then Home Assistant
  restarts (entry unloaded, its in-memory board states dropped), inputs change while it is
  down, and the measured start-up runs until every entity shows its board's true level.
- Adoption among N = 1, 50, 200: the N-th board is adopted through the discovery flow as a
  warm-up, then one more simulated board is discovered and adopted with one click through the
  real SSDP config flow. Measured: wall time, process CPU, the update listener's in-place
  apply (`async_sync_boards`) and its re-reading of every subentry, state writes, existing
  entities whose state changed ("blinked"), bridge reconnects.
- Storms at 200 boards: every input of every board flips at once; every board loses power and
  boots at the same moment (outputs, heartbeat and every input reported at boot); the broker
  restarts (everything reconnects at once). Reports the broker acknowledged (boards publish
  with QoS 1) are compared with those the bridge handed to the hub, and the time until every
  entity is right is taken from the state machine's events.

Numbers go to docs/benchmarks.md. Run:
`scripts/run python -m pytest benchmarks/test_scaling.py -s -p no:randomly`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
import gc
import statistics
import time
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

import custom_components.konnected_aws as integration
from custom_components.konnected_aws import boards as board_changes
from custom_components.konnected_aws.adoption import async_adopt_board, async_read_board
from custom_components.konnected_aws.boards import async_sync_boards
from custom_components.konnected_aws.config_flow import board_title
from custom_components.konnected_aws.const import DOMAIN, SUBENTRY_BOARD
from custom_components.konnected_aws.iot.messages import BoardMessage
from custom_components.konnected_aws.runtime import (
    BoardInfo,
    KonnectedConfigEntry,
    adopted_boards,
)
from custom_components.konnected_aws.zones import default_zones
from devtools.board_simulator import ZONE_TO_PIN, SimulatedBoard
from devtools.iot_emulator import IotEmulator
from devtools.iot_emulator.broker import Authorization
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from tests.conftest import BoardFactory
from tests.test_end_to_end import adopt, entity_id, setup_account, wait_for

EXISTING_BOARDS = (1, 50, 200)
STORM_BOARDS = 200
INPUT_ZONES = ("1", "2", "3", "4", "5", "6")
# Boards registered and provisioned at once while the fleet is built (not measured).
BUILD_CONCURRENCY = 10
# After an adoption: how long late effects (refreshes, availability checks) get to show.
SETTLE_SECONDS = 1.0
CONVERGE_TIMEOUT = 120.0
LOCALHOST = "127.0.0.1"
WARM_UP_MAC = "02:cc:00:00:00:01"
NEWCOMER_MAC = "02:cc:00:00:00:02"


def fleet_mac(index: int) -> str:
    return f"02:bb:00:00:{index >> 8:02x}:{index & 0xFF:02x}"


def level_pattern(index: int, shift: int) -> dict[str, int]:
    """A different input high on each board (and per `shift`), all others low."""
    high = INPUT_ZONES[(index + shift) % len(INPUT_ZONES)]
    return {zone: int(zone == high) for zone in INPUT_ZONES}


def on_off(level: int) -> str:
    return STATE_ON if level else STATE_OFF


def expected_states(hass: HomeAssistant, boards: list[SimulatedBoard]) -> dict[str, str]:
    """Every entity with a state and what it must show: each input's level, the output, online."""
    expected: dict[str, str] = {}
    for board in boards:
        for zone in INPUT_ZONES:
            expected[entity_id(hass, "binary_sensor", f"{board.device_id}_{zone}")] = on_off(board.level(zone))
        expected[entity_id(hass, "switch", f"{board.device_id}_out")] = on_off(board.level("out"))
        expected[entity_id(hass, "binary_sensor", f"{board.device_id}_connectivity")] = STATE_ON
    return expected


class StateWrites:
    """Every state write (changed or only reported) while it listens, per entity."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.changed: Counter[str] = Counter()
        self.reported: Counter[str] = Counter()
        self.went_unavailable: set[str] = set()
        self._unsubscribe = [
            hass.bus.async_listen("state_changed", self._on_changed),
            # Home Assistant wants a filter on this frequent event; every write counts here.
            hass.bus.async_listen("state_reported", self._on_reported, event_filter=self._every),
        ]

    @staticmethod
    @callback
    def _every(_data: Any) -> bool:
        return True

    @callback
    def _on_changed(self, event: Event[EventStateChangedData]) -> None:
        self.changed[event.data["entity_id"]] += 1
        new_state = event.data["new_state"]
        if new_state is not None and new_state.state == STATE_UNAVAILABLE:
            self.went_unavailable.add(event.data["entity_id"])

    @callback
    def _on_reported(self, event: Event[Any]) -> None:
        self.reported[event.data["entity_id"]] += 1

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()


class Convergence:
    """When every expected entity last became right (event-driven: no polling in the timing)."""

    def __init__(self, hass: HomeAssistant, expected: dict[str, str]) -> None:
        self._hass = hass
        self._expected = expected
        self.wrong = {entity for entity, state in expected.items() if self._state(entity) != state}
        self.done = asyncio.Event()
        self.done_at = time.perf_counter()
        if not self.wrong:
            self.done.set()
        self._unsubscribe = hass.bus.async_listen("state_changed", self._on_changed)

    def _state(self, entity: str) -> str | None:
        state = self._hass.states.get(entity)
        return state.state if state is not None else None

    @callback
    def _on_changed(self, event: Event[EventStateChangedData]) -> None:
        entity = event.data["entity_id"]
        if entity not in self._expected:
            return
        if self._state(entity) == self._expected[entity]:
            self.wrong.discard(entity)
        else:
            self.wrong.add(entity)
        if not self.wrong and not self.done.is_set():
            self.done_at = time.perf_counter()
            self.done.set()

    async def wait(self, started: float, timeout: float = CONVERGE_TIMEOUT) -> float:
        """Seconds from `started` until everything was right."""
        try:
            async with asyncio.timeout(timeout):
                await self.done.wait()
        finally:
            self._unsubscribe()
        return self.done_at - started


class ReportCounter:
    """Reports the bridge handed to the hub, per board (wrapping the connection's callback)."""

    def __init__(self, entry: KonnectedConfigEntry) -> None:
        self.received: Counter[str] = Counter()
        connection = entry.runtime_data.hub.connection
        original = connection._on_message  # noqa: SLF001 - counting on the bridge's path

        def counting(report: BoardMessage) -> None:
            self.received[report.device_id] += 1
            original(report)

        connection._on_message = counting  # noqa: SLF001


class ConnectionChanges:
    """The bridge's connection changes (a reconnect shows as False then True)."""

    def __init__(self, entry: KonnectedConfigEntry) -> None:
        self.changes: list[bool] = []
        self.connected_at: float | None = None
        connection = entry.runtime_data.hub.connection
        original = connection._on_connection_change  # noqa: SLF001 - spying on the bridge

        def recording(connected: bool) -> None:
            self.changes.append(connected)
            if connected:
                self.connected_at = time.perf_counter()
            original(connected)

        connection._on_connection_change = recording  # noqa: SLF001


class GcPauses:
    """Time Python's cyclic garbage collector ran while active (it scales with the heap, not
    with what the code does: a large fleet makes every full collection longer)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _on_gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    @contextmanager
    def active(self) -> Iterator[None]:
        gc.callbacks.append(self._on_gc)
        try:
            yield
        finally:
            gc.callbacks.remove(self._on_gc)


@dataclass
class ApplyTiming:
    """The update listener's in-place apply (`async_sync_boards`) and, inside it, re-reading every
    board subentry (`adopted_boards`): wall time, and CPU time of the event loop's thread, which
    other processes on the shared cores do not inflate. The real functions, only timed."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    reread_cpu: list[float] = field(default_factory=list)

    @contextmanager
    def active(self) -> Iterator[None]:
        async def sync(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            await async_sync_boards(hass, entry)
            self.cpu.append(time.thread_time() - cpu)
            self.wall.append(time.perf_counter() - wall)

        def reread(entry: ConfigEntry) -> list[BoardInfo]:
            cpu = time.thread_time()
            try:
                return adopted_boards(entry)
            finally:
                self.reread_cpu.append(time.thread_time() - cpu)

        with patch.object(integration, "async_sync_boards", sync), patch.object(board_changes, "adopted_boards", reread):
            yield


@dataclass
class Fleet:
    entry: KonnectedConfigEntry
    boards: list[SimulatedBoard]
    setup_seconds: float = 0.0
    right_seconds: float = 0.0
    gc_seconds: float = 0.0
    entities: set[str] = field(default_factory=set)


async def build_fleet(
    hass: HomeAssistant, emulator: IotEmulator, make_board: BoardFactory, count: int
) -> Fleet:
    """`count` adopted boards, and Home Assistant restarted with all of them (start-up measured)."""
    entry_id = await setup_account(hass, emulator)
    entry: KonnectedConfigEntry = hass.config_entries.async_get_entry(entry_id)  # type: ignore[assignment]
    boards = list(await asyncio.gather(*(make_board(fleet_mac(index)) for index in range(count))))
    slots = asyncio.Semaphore(BUILD_CONCURRENCY)

    async def registered_and_provisioned(board: SimulatedBoard) -> ConfigSubentry:
        async with slots:
            status = await async_read_board(hass, LOCALHOST, board.http_port)
            data = await async_adopt_board(
                hass, entry, status, LOCALHOST, board.http_port, default_zones(status), blink=True
            )
        return ConfigSubentry(
            data=MappingProxyType(data),
            subentry_type=SUBENTRY_BOARD,
            title=board_title(status),
            unique_id=status.board_id,
        )

    subentries = await asyncio.gather(*(registered_and_provisioned(board) for board in boards))
    # All boards into the stopped entry at once, then a first start (entities registered).
    assert await hass.config_entries.async_unload(entry_id)
    for subentry in subentries:
        hass.config_entries.async_add_subentry(entry, subentry)
    fleet = Fleet(entry, boards)
    await start_up(hass, fleet)
    await restart(hass, fleet)
    fleet.entities = entities_of_entry(hass, entry)
    return fleet


async def start_up(hass: HomeAssistant, fleet: Fleet) -> None:
    """Set the entry up; measured until every entity shows its board's level."""
    gc_pauses = GcPauses()
    gc.collect()  # what earlier tests left behind is not collected on this start-up's time
    with gc_pauses.active():
        started = time.perf_counter()
        assert await hass.config_entries.async_setup(fleet.entry.entry_id)
        fleet.setup_seconds = time.perf_counter() - started
        convergence = Convergence(hass, expected_states(hass, fleet.boards))
        fleet.right_seconds = await convergence.wait(started)
    fleet.gc_seconds = gc_pauses.seconds
    await hass.async_block_till_done()  # the start-up's local reads are over


async def restart(hass: HomeAssistant, fleet: Fleet) -> None:
    """Home Assistant restarts; the boards stay on AWS IoT and their inputs change meanwhile."""
    assert await hass.config_entries.async_unload(fleet.entry.entry_id)
    hass.data[DOMAIN].pop(fleet.entry.entry_id, None)  # a restart forgets what was in memory
    for index, board in enumerate(fleet.boards):
        for zone, level in level_pattern(index, 0).items():
            board.set_zone(zone, level)
    # Reported to nobody (no bridge is subscribed); the start-up must read them locally. Wait
    # until the boards are done publishing, so that their traffic is not part of the start-up.
    await until_quiet(lambda: sum(len(board.published) for board in fleet.boards))
    await start_up(hass, fleet)


async def shut_down(hass: HomeAssistant, fleet: Fleet) -> None:
    """Bridge and boards off while the broker still runs: a connect caught by the broker's
    shutdown would hang in an executor thread past Home Assistant's stop."""
    await hass.config_entries.async_unload(fleet.entry.entry_id)
    await asyncio.gather(*(board.close() for board in fleet.boards))


@dataclass
class AdoptionCost:
    wall: float
    cpu: float
    gc: float
    apply_wall: float
    apply_cpu: float
    reread_cpu: float
    writes: int
    writes_existing: int
    reported_existing: int
    blinked: int
    reconnects: int


def entities_of_entry(hass: HomeAssistant, entry: KonnectedConfigEntry) -> set[str]:
    return {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }


async def adopt_into(hass: HomeAssistant, fleet: Fleet, board: SimulatedBoard) -> None:
    """Adopt through the discovery flow and wait until its entities show its levels."""
    await adopt(hass, board)
    fleet.boards.append(board)
    await Convergence(hass, expected_states(hass, [board])).wait(time.perf_counter())
    # Its boot reports go on after the first one; they must not fall into the next measurement.
    await until_quiet(lambda: len(board.published))
    fleet.entities = entities_of_entry(hass, fleet.entry)


async def measure_adoption(hass: HomeAssistant, fleet: Fleet, make_board: BoardFactory) -> AdoptionCost:
    """One click on a discovered board; everything Home Assistant writes meanwhile."""
    newcomer = await make_board(NEWCOMER_MAC)
    connection = ConnectionChanges(fleet.entry)
    writes = StateWrites(hass)
    apply, gc_pauses = ApplyTiming(), GcPauses()
    gc.collect()
    with apply.active(), gc_pauses.active():
        cpu_before, started = time.process_time(), time.perf_counter()
        await adopt(hass, newcomer)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        await asyncio.sleep(SETTLE_SECONDS)
    writes.stop()
    assert newcomer.device_id in fleet.entry.runtime_data.boards
    assert len(apply.cpu) == len(apply.reread_cpu) == 1, apply
    return AdoptionCost(
        wall=wall,
        cpu=cpu,
        gc=gc_pauses.seconds,
        apply_wall=apply.wall[0],
        apply_cpu=apply.cpu[0],
        reread_cpu=apply.reread_cpu[0],
        writes=sum(writes.changed.values()),
        writes_existing=sum(count for entity, count in writes.changed.items() if entity in fleet.entities),
        reported_existing=sum(count for entity, count in writes.reported.items() if entity in fleet.entities),
        blinked=len(fleet.entities & writes.changed.keys()),
        reconnects=connection.changes.count(False),
    )


@pytest.mark.parametrize("existing", EXISTING_BOARDS)
async def test_adoption_among_existing_boards(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, existing: int
) -> None:
    """Adopting one board costs the same and touches nothing else, whatever the fleet's size."""
    # The last existing board is adopted through the flow too: a warm-up, so that what is paid
    # once per process or per Home Assistant (imports, translations, the flow handler) is not
    # counted in the measured adoption.
    fleet = await build_fleet(hass, iot_emulator, make_board, existing - 1)
    try:
        await adopt_into(hass, fleet, await make_board(WARM_UP_MAC))
        cost = await measure_adoption(hass, fleet, make_board)
    finally:
        await shut_down(hass, fleet)
    print(
        f"\nBENCHMARK adoption among {existing} boards ({len(fleet.entities)} entities): "
        f"wall {cost.wall * 1000:.0f} ms, process CPU {cost.cpu * 1000:.0f} ms, garbage collector {cost.gc * 1000:.0f} ms "
        f"(with the settling second); in-place apply "
        f"{cost.apply_wall * 1000:.1f} ms wall, {cost.apply_cpu * 1000:.1f} ms CPU, of which re-reading every "
        f"subentry {cost.reread_cpu * 1000:.1f} ms; "
        f"state changes {cost.writes} (existing entities: {cost.writes_existing}, blinked {cost.blinked}, "
        f"same-state writes {cost.reported_existing}), bridge reconnects {cost.reconnects}; "
        f"start-up with {existing - 1} boards {fleet.setup_seconds * 1000:.0f} ms, all right after {fleet.right_seconds * 1000:.0f} ms"
    )
    assert cost.blinked == 0
    assert cost.writes_existing == 0
    assert cost.reconnects == 0


class AuthorizerTiming:
    """How long the emulator's custom authorizer (the shipped Lambda, run in-process) takes per connect."""

    def __init__(self, emulator: IotEmulator) -> None:
        self.durations: list[float] = []
        original = emulator._authorize  # noqa: SLF001 - timing the emulator, not changing it

        def timed(connection: ServerConnection, request: Request) -> Authorization | None:
            started = time.perf_counter()
            try:
                return original(connection, request)
            finally:
                self.durations.append(time.perf_counter() - started)

        emulator._authorize = timed  # type: ignore[method-assign]  # noqa: SLF001


@dataclass
class StormResult:
    all_connected: float | None
    bridge_connected: float | None
    all_right: float
    published: int
    received: int
    state_changes: int
    same_state_writes: int
    went_unavailable: int


async def storm(
    hass: HomeAssistant,
    fleet: Fleet,
    outage: Callable[[], Awaitable[None]],
    recovery: Callable[[], Awaitable[None]],
    *,
    reconnects: bool,
) -> StormResult:
    """`outage`, then `recovery` (timed from its start): reports delivered, time until right.

    Published reports are those the broker acknowledged (the boards publish with QoS 1);
    received are those the bridge handed to the hub.
    """
    boards = fleet.boards
    counter = ReportCounter(fleet.entry)
    connection = ConnectionChanges(fleet.entry)
    writes = StateWrites(hass)
    await outage()
    published_before = {board.device_id: len(board.published) for board in boards}
    received_before = sum(counter.received.values())
    started = time.perf_counter()
    await recovery()
    # The levels are final now; what already arrived is taken from the current states.
    convergence = Convergence(hass, expected_states(hass, boards))

    def published() -> int:
        return sum(len(board.published) - published_before[board.device_id] for board in boards)

    def received() -> int:
        return sum(counter.received.values()) - received_before

    async def all_connected() -> float:
        await asyncio.gather(*(board.mqtt_connected.wait() for board in boards))
        return time.perf_counter() - started

    connected_after = await asyncio.wait_for(all_connected(), CONVERGE_TIMEOUT) if reconnects else None
    right_after = await convergence.wait(started)
    await until_quiet(published, received)
    writes.stop()
    return StormResult(
        all_connected=connected_after,
        bridge_connected=None if connection.connected_at is None else connection.connected_at - started,
        all_right=right_after,
        published=published(),
        received=received(),
        state_changes=sum(writes.changed.values()),
        same_state_writes=sum(writes.reported.values()),
        went_unavailable=len(writes.went_unavailable & fleet.entities),
    )


async def until_quiet(*counts: Callable[[], int]) -> None:
    """Until none of the counts has moved for SETTLE_SECONDS (boards publish one report at a
    time, so the last reports of a storm come well after the entities are right)."""
    last = [count() for count in counts]
    quiet_since = time.perf_counter()
    async with asyncio.timeout(CONVERGE_TIMEOUT):
        while time.perf_counter() - quiet_since < SETTLE_SECONDS:
            await asyncio.sleep(0.1)
            now = [count() for count in counts]
            if now != last:
                last, quiet_since = now, time.perf_counter()


def describe(name: str, result: StormResult) -> str:
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

    return (
        f"\nBENCHMARK {name} at {STORM_BOARDS} boards: all boards connected after {ms(result.all_connected)}, "
        f"bridge reconnected after {ms(result.bridge_connected)}, every entity right after {ms(result.all_right)}; "
        f"reports published {result.published}, received by the bridge {result.received}; "
        f"state changes {result.state_changes}, same-state writes {result.same_state_writes}, "
        f"entities that went unavailable {result.went_unavailable}"
    )


def set_levels(boards: list[SimulatedBoard], shift: int, *, powered: bool) -> None:
    """New input levels on every board: through the firmware's input poll, or on a board that is off."""
    for index, board in enumerate(boards):
        for zone, level in level_pattern(index, shift).items():
            if powered:
                board.set_zone(zone, level)
            else:
                board.hardware.levels[ZONE_TO_PIN[zone]] = level


async def inputs_change_everywhere(hass: HomeAssistant, fleet: Fleet) -> StormResult:
    """Every input of every board flips at the same moment; nothing disconnects."""

    async def nothing() -> None:
        """Everything stays up."""

    async def flip_every_input() -> None:
        for board in fleet.boards:
            for zone in INPUT_ZONES:
                board.set_zone(zone, 1 - board.level(zone))

    return await storm(hass, fleet, nothing, flip_every_input, reconnects=False)


async def power_returns(hass: HomeAssistant, fleet: Fleet) -> StormResult:
    """Every board loses power, its inputs change meanwhile, and all boot at the same moment."""

    async def power_off_everywhere() -> None:
        await asyncio.gather(*(board.stop() for board in fleet.boards))
        set_levels(fleet.boards, 1, powered=False)

    async def power_on_everywhere() -> None:
        await asyncio.gather(*(board.start() for board in fleet.boards))

    return await storm(hass, fleet, power_off_everywhere, power_on_everywhere, reconnects=True)


async def broker_restarts(hass: HomeAssistant, fleet: Fleet, emulator: IotEmulator) -> StormResult:
    """The broker goes away (every connection drops), inputs change meanwhile, and it comes back."""

    async def broker_down_and_inputs_change() -> None:
        await emulator.stop_broker()
        await wait_for(lambda: not any(board.mqtt_connected.is_set() for board in fleet.boards))
        set_levels(fleet.boards, 2, powered=True)

    return await storm(hass, fleet, broker_down_and_inputs_change, emulator.start_broker, reconnects=True)


async def test_startup_and_storms_at_200_boards(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Start-up, a burst of input changes, a power-return storm and a broker restart, 200 real simulated boards."""
    fleet = await build_fleet(hass, iot_emulator, make_board, STORM_BOARDS)
    print(
        f"\nBENCHMARK start-up at {STORM_BOARDS} boards ({len(fleet.entities)} entities): entry set up in "
        f"{fleet.setup_seconds * 1000:.0f} ms, every entity right (local reads) after {fleet.right_seconds * 1000:.0f} ms "
        f"(garbage collector: {fleet.gc_seconds * 1000:.0f} ms of it)"
    )
    try:
        burst = await inputs_change_everywhere(hass, fleet)
        print(describe("all inputs change at once", burst))
        authorizer = AuthorizerTiming(iot_emulator)
        power = await power_returns(hass, fleet)
        print(describe("power returns", power))
        print(
            f"BENCHMARK   emulated custom authorizer: {len(authorizer.durations)} connects, "
            f"median {statistics.median(authorizer.durations) * 1000:.0f} ms each, two at a time"
        )
        broker = await broker_restarts(hass, fleet, iot_emulator)
        print(describe("broker restart", broker))
    finally:
        await shut_down(hass, fleet)

    # Only what must hold whatever the machine: nothing lost while the bridge is connected, no
    # availability lost to a storm of boards (a broker outage is a real loss of contact).
    assert burst.received == burst.published == STORM_BOARDS * len(INPUT_ZONES)
    assert burst.went_unavailable == 0
    assert power.received == power.published
    assert power.went_unavailable == 0
