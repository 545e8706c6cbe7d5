"""Runtime state of one AWS account entry: the bridge connection and every board's last reports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import BOARD_OFFLINE_AFTER, DOMAIN, LOGGER
from .iot.connection import BridgeConnection
from .iot.messages import (
    ActuatorCommand,
    BoardMessage,
    DhtReading,
    Ds18b20Reading,
    Heartbeat,
    ZoneState,
)

if TYPE_CHECKING:
    from .entity import KonnectedEntity

OFFLINE_CHECK_INTERVAL = timedelta(minutes=1)
# Local reads after a reconnect: enough in parallel to be quick, few enough for a small host.
LOCAL_REFRESH_CONCURRENCY = 4
# Listener key of what the heartbeat alone carries (signal strength); zones use their zone id.
HEARTBEAT_KEY = "heartbeat"


def signal_new_probe(entry_id: str) -> str:
    """Dispatcher signal: a DS18B20 probe not seen before reported (board id, zone, address)."""
    return f"{DOMAIN}_{entry_id}_new_probe"


@dataclass
class BoardState:
    """What Home Assistant knows about one board; None means not known yet (never a guess)."""

    board_id: str
    zone_levels: dict[str, int] = field(default_factory=dict)
    climate: dict[str, tuple[float, float]] = field(default_factory=dict)
    probes: dict[str, dict[str, float]] = field(default_factory=dict)
    heartbeat: dict[str, Any] | None = None
    last_seen: datetime | None = None

    @property
    def online(self) -> bool:
        """Heard from within two heartbeat periods."""
        return self.last_seen is not None and dt_util.utcnow() - self.last_seen < BOARD_OFFLINE_AFTER


class KonnectedHub:
    """Routes reports to entities, tracks availability and sends commands."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        read_levels: Callable[[str], Awaitable[dict[str, int] | None]],
        remembered: dict[str, BoardState] | None = None,
    ) -> None:
        """`read_levels` asks a board for its levels over the local network.

        `remembered` is the board state of a previous hub of the same entry: when a board was
        last heard and its levels outlive a reload, so a reload never makes a board that AWS
        still hears look unavailable.
        """
        self.hass = hass
        self.entry_id = entry_id
        self._read_levels = read_levels
        self.boards: dict[str, BoardState] = remembered if remembered is not None else {}
        self._entities: dict[str, set[KonnectedEntity]] = {}
        self._refreshes: set[asyncio.Task[None]] = set()
        # Told about every heartbeat (the board's own account of its address).
        self.on_heartbeat: Callable[[str, dict[str, Any]], None] | None = None
        self._refresh_slots = asyncio.Semaphore(LOCAL_REFRESH_CONCURRENCY)
        self._listeners: dict[str, list[tuple[str | None, CALLBACK_TYPE]]] = {}
        self._first_report: dict[str, asyncio.Future[None]] = {}
        self._connection: BridgeConnection | None = None
        self._was_online: dict[str, bool] = {}
        self._unsub_timer: CALLBACK_TYPE | None = None

    @property
    def connection(self) -> BridgeConnection:
        """The bridge connection (attached during setup)."""
        if self._connection is None:
            raise RuntimeError("hub used before its connection was attached")
        return self._connection

    @property
    def connected(self) -> bool:
        """True while the bridge connection to AWS IoT is up."""
        return self._connection is not None and self._connection.connected

    def attach(self, connection: BridgeConnection) -> None:
        """Bind the connection and start the periodic availability check."""
        self._connection = connection
        self._unsub_timer = async_track_time_interval(
            self.hass, self._check_availability, OFFLINE_CHECK_INTERVAL
        )

    async def async_shutdown(self) -> None:
        """Stop the timer and the connection."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self._connection is not None:
            await self._connection.stop()
        for future in self._first_report.values():
            future.cancel()
        self._first_report.clear()
        for task in list(self._refreshes):
            task.cancel()
        if self._refreshes:
            await asyncio.wait(self._refreshes)

    def track_board(self, board_id: str) -> BoardState:
        """Start keeping state for an adopted board."""
        return self.boards.setdefault(board_id, BoardState(board_id))

    def forget_board(self, board_id: str) -> None:
        """Stop keeping state for a board that was removed."""
        self.boards.pop(board_id, None)
        self._listeners.pop(board_id, None)
        self._was_online.pop(board_id, None)

    @callback
    def async_register_entity(self, entity: KonnectedEntity) -> CALLBACK_TYPE:
        """Keep track of a board's live entities, so a changed board can replace them in place."""
        entities = self._entities.setdefault(entity.board_id, set())
        entities.add(entity)
        return lambda: entities.discard(entity)

    def entities_of(self, board_id: str) -> list[KonnectedEntity]:
        """Return a board's entities currently in Home Assistant."""
        return list(self._entities.get(board_id, ()))

    @callback
    def async_add_listener(
        self, board_id: str, update: CALLBACK_TYPE, key: str | None = None
    ) -> CALLBACK_TYPE:
        """Call `update` on reports about `key` and on availability changes.

        `update` runs when reports about `key` (a zone id or HEARTBEAT_KEY) arrive, and
        whenever the board's or the bridge's availability changes; `key` None: only then.

        Keyed listeners keep a report's cost to the entities it concerns, not the whole board.
        """
        listener = (key, update)
        listeners = self._listeners.setdefault(board_id, [])
        listeners.append(listener)

        @callback
        def remove() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return remove

    @callback
    def _notify(self, board_id: str, keys: Collection[str] | None = None) -> None:
        """Update the listeners of `keys`, or every listener of the board when None."""
        for key, update in list(self._listeners.get(board_id, ())):
            if keys is None or key in keys:
                update()

    @callback
    def async_connection_changed(self, connected: bool) -> None:
        """Every entity's availability follows the bridge connection."""
        if connected:
            # Reports sent while we were away are lost (the firmware does not retain);
            # ask each board for the truth instead of showing stale levels.
            for board_id in self.boards:
                self.async_schedule_refresh(board_id)
        for board_id in list(self._listeners):
            self._notify(board_id)

    @callback
    def async_schedule_refresh(self, board_id: str) -> None:
        """Read a board's levels in the background; cancelled when the hub shuts down."""
        task = self.hass.async_create_task(
            self.async_refresh_board(board_id), f"{DOMAIN} refresh {board_id}", eager_start=False
        )
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def async_refresh_board(self, board_id: str) -> None:
        """Read the board's true levels locally (after a restart or a reconnect).

        A failed read changes nothing: availability follows what AWS IoT delivers.
        """
        async with self._refresh_slots:
            levels = await self._read_levels(board_id)
        if levels is not None:
            self.apply_local_levels(board_id, levels)

    @callback
    def async_handle_report(self, report: BoardMessage) -> None:
        """Apply one report from the bridge (called in the event loop)."""
        waiter = self._first_report.get(report.device_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        board = self.boards.get(report.device_id)
        if board is None:
            LOGGER.debug("Dropping report from a board that is not adopted here")
            return
        board.last_seen = dt_util.utcnow()
        keys: set[str]
        match report:
            case ZoneState(zone=zone, state=level):
                board.zone_levels[zone] = level
                keys = {zone}
            case DhtReading(zone=zone, temperature=temperature, humidity=humidity):
                board.climate[zone] = (temperature, humidity)
                keys = {zone}
            case Ds18b20Reading(zone=zone, temperature=temperature, address=address):
                keys = {zone}
                probes = board.probes.setdefault(zone, {})
                is_new = address not in probes
                probes[address] = temperature
                if is_new:
                    async_dispatcher_send(
                        self.hass, signal_new_probe(self.entry_id), board.board_id, zone, address
                    )
            case Heartbeat(status=status):
                board.heartbeat = status
                if self.on_heartbeat is not None:
                    self.on_heartbeat(board.board_id, status)
                board.zone_levels.update(report.zone_states)
                keys = {HEARTBEAT_KEY, *report.zone_states}
        self._notify(board.board_id, None if self._availability_changed(board) else keys)

    @callback
    def apply_local_levels(self, board_id: str, levels: dict[str, int]) -> None:
        """Levels read over the board's local API count as a sign of life too."""
        board = self.boards.get(board_id)
        if board is None:
            return
        board.zone_levels.update(levels)
        board.last_seen = dt_util.utcnow()
        self._notify(board_id, None if self._availability_changed(board) else levels)

    @callback
    def async_expect_report(self, board_id: str) -> asyncio.Future[None]:
        """Return a future resolved by the next report from the board through AWS IoT.

        Made before provisioning (the board may report within seconds of restarting), awaited
        with `async_wait_for_report` once provisioning is done.
        """
        future = self._first_report.get(board_id)
        if future is None or future.done():
            future = self.hass.loop.create_future()
            self._first_report[board_id] = future
        return future

    async def async_wait_for_report(self, board_id: str, future: asyncio.Future[None], timeout: float) -> bool:
        """Wait (bounded) for a future from `async_expect_report`."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
        except TimeoutError:
            return False
        finally:
            if self._first_report.get(board_id) is future:
                del self._first_report[board_id]
        return True

    async def async_send_command(self, board_id: str, command: ActuatorCommand) -> None:
        """Send an actuator command through AWS IoT."""
        await self.connection.send_command(board_id, command)

    @callback
    def _availability_changed(self, board: BoardState) -> bool:
        """Note (and log) whether the board went on- or offline since last asked."""
        online = board.online
        if self._was_online.get(board.board_id) == online:
            return False
        if board.board_id in self._was_online:
            if online:
                LOGGER.info("Board %s is back online", board.board_id)
            else:
                LOGGER.info("Board %s stopped reporting; marking it unavailable", board.board_id)
        self._was_online[board.board_id] = online
        return True

    @callback
    def _check_availability(self, _now: datetime) -> None:
        for board in self.boards.values():
            if self._availability_changed(board):
                self._notify(board.board_id)
