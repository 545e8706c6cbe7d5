"""One boot of the board: its timers (NodeMCU `tmr`), tasks and sockets.

Also what a Lua error does in each kind of callback.

NodeMCU runs Lua callbacks from C in two ways (nodemcu-firmware):
- `lua_call`, unprotected: an error reaches the Lua panic handler, which prints and spins
  (`while (1) {}`, app/lua/lauxlib.c `panic`) until the watchdog resets the chip. Every
  callback on NodeMCU 2.2 (firmware v2.3.2), and the `net` socket callbacks (HTTP, UDP) on 3.0.
- `luaL_pcallx` (NodeMCU 3.0, app/lua/lnodemcu.c): the error is printed and `node.c`
  `default_onerror` restarts the chip 2 s later; the board keeps running meanwhile. The
  `tmr`, `websocket` and `sntp` callbacks on 3.0 (firmware v3.x).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
from enum import IntEnum
import logging
from typing import Any, Protocol

from .lua import LuaError

_LOGGER = logging.getLogger(__name__)


class ErrorPolicy(Protocol):
    """What the board does with a Lua error (decided by the board, per release)."""

    def lua_error(self, boot: Boot, error: LuaError, *, protected: bool) -> None:
        """Handle a Lua error raised in a callback of `boot`."""


class Boot:
    """Everything that lives from one power-on or restart to the next."""

    def __init__(self, policy: ErrorPolicy, name: str) -> None:
        """Start a boot whose Lua errors `policy` handles."""
        self.loop = asyncio.get_running_loop()
        self.policy = policy
        self.name = name
        self.alive = True
        self.frozen = False  # after a PANIC: nothing runs until the watchdog resets the chip
        self._handles: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._transports: set[asyncio.BaseTransport] = set()
        self.started = self.loop.time()

    @property
    def running(self) -> bool:
        """Callbacks may run (not reset, not stuck in a panic loop)."""
        return self.alive and not self.frozen

    def call(self, function: Callable[..., None], *args: Any, protected: bool) -> None:
        """Run a Lua callback now, with the error handling of the C code that calls it."""
        if not self.running:
            return
        try:
            function(*args)
        except LuaError as error:
            _LOGGER.debug("%s: Lua error: %s", self.name, error)
            self.policy.lua_error(self, error, protected=protected)

    def call_later(self, delay: float, function: Callable[..., None], *args: Any, protected: bool) -> asyncio.TimerHandle:
        """Start a C timer that calls back into Lua."""

        def fire() -> None:
            self._handles.discard(handle)
            self.call(function, *args, protected=protected)

        handle = self.loop.call_later(max(delay, 0.0), fire)
        self._handles.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        """os_timer_disarm."""
        if handle is not None:
            handle.cancel()
            self._handles.discard(handle)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Background work of this boot (a socket's receive loop), cancelled at reset."""
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def own(self, transport: asyncio.BaseTransport) -> None:
        """Own a socket that dies with this boot."""
        self._transports.add(transport)

    def disown(self, transport: asyncio.BaseTransport) -> None:
        """Disown a socket closed normally."""
        self._transports.discard(transport)

    def freeze(self) -> None:
        """PANIC: the CPU spins, nothing is processed, sockets are left as they are."""
        self.frozen = True
        self._cancel_all()
        for transport in list(self._transports):
            if isinstance(transport, asyncio.ReadTransport):
                with contextlib.suppress(Exception):
                    transport.pause_reading()

    def end(self) -> None:
        """Reset the chip: timers gone; connections vanish without a FIN (RST at the peer)."""
        self.alive = False
        self._cancel_all()
        for transport in list(self._transports):
            with contextlib.suppress(Exception):
                transport.abort()  # type: ignore[attr-defined]
        self._transports.clear()

    def _cancel_all(self) -> None:
        for handle in list(self._handles):
            handle.cancel()
        self._handles.clear()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()


class Mode(IntEnum):
    """tmr.ALARM_SINGLE, tmr.ALARM_SEMI, tmr.ALARM_AUTO."""

    SINGLE = 0
    SEMI = 1
    AUTO = 2


class Timer:
    """A `tmr.create()` object (app/modules/tmr.c).

    `start` on a running timer does nothing;
    an AUTO timer re-arms itself before its callback runs; `interval` re-arms a running one.
    """

    def __init__(self, boot: Boot, *, protected: bool) -> None:
        """Make a stopped timer of `boot`."""
        self.boot = boot
        self.protected = protected
        self.interval_s = 0.0
        self.mode = Mode.SINGLE
        self.function: Callable[[Timer], None] | None = None
        self._handle: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        """Armed (not idle)."""
        return self._handle is not None

    def register(self, interval_s: float, mode: Mode, function: Callable[[Timer], None]) -> None:
        """tmr:register (disarms a running timer)."""
        self.stop()
        self.interval_s, self.mode, self.function = interval_s, mode, function

    def start(self) -> bool:
        """tmr:start: false (and nothing) when already running."""
        if self.running or self.function is None:
            return False
        self._arm()
        return True

    def stop(self) -> None:
        """tmr:stop."""
        self.boot.cancel(self._handle)
        self._handle = None

    def alarm(self, interval_s: float, mode: Mode, function: Callable[[Timer], None]) -> None:
        """tmr:alarm = register + start."""
        self.register(interval_s, mode, function)
        self.start()

    def interval(self, interval_s: float) -> None:
        """tmr:interval: takes effect now for a running timer."""
        self.interval_s = interval_s
        if self.running:
            self.stop()
            self._arm()

    def _arm(self) -> None:
        self._handle = self.boot.call_later(self.interval_s, self._fire, protected=self.protected)

    def _fire(self) -> None:
        self._handle = None
        if self.mode is Mode.AUTO:
            self._arm()
        if self.function is not None:
            self.function(self)
