"""The board's local HTTP API (legacy firmware), on an injected aiohttp session.

No Home Assistant imports. Reads are retried a little. `PUT /settings` is retried for about 30 s
(it is idempotent) because a board in AWS IoT mode that cannot connect restarts every ~15 s and
answers only between boots, and then confirmed through `GET /status`. Every answer is read with a
size cap and decoded strictly (board/wire.py): anything on the LAN can answer in a board's place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging
import time
from typing import Any, Final

import aiohttp

from .models import (
    ZONE_TO_PIN,
    BoardDataError,
    BoardStatus,
    Pulse,
    switch_command,
    zone_of,
)
from .wire import MAX_ANSWER_BYTES, PayloadError, decode_json

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT: Final = 10.0  # above the ~5 s a 3.1.1+ board in AWS mode takes to answer PUT /settings
CONNECT_TIMEOUT: Final = 5.0
READ_ATTEMPTS: Final = 3
RETRY_DELAY: Final = 0.5
# How long PUT /settings is retried: two of the ~15 s restart cycles of a board in AWS IoT mode
# that cannot connect (aws_iot.lua v3.0.0+: `mqttTimeout` restarts it 10 s after boot).
SETTINGS_RETRY_FOR: Final = 30.0
# How long the stored settings are awaited in `/status` once PUT /settings was answered (the board
# restarts 2 s after answering, server_settings.lua, and is back within seconds).
SETTINGS_CONFIRM_FOR: Final = 20.0
SETTINGS_RETRY_INTERVAL: Final = 0.5
_READ_CHUNK: Final = 4096

# What `unprovision` sends: the state the firmware's own reset leaves (wipe.lua: settings `{}`, every
# list empty), which is REST mode (application.lua: `endpoint_type or 'rest'`) with nothing to
# report and no endpoint, so the board stops connecting and restarting. Omitted keys keep their
# value (server_settings.lua builds nil for them and variables_set.lua skips nil), so the lists are
# sent empty. Wi-Fi lives in the SDK's own flash config and is untouched.
UNPROVISIONED_SETTINGS: Final[dict[str, Any]] = {
    "sensors": [],
    "actuators": [],
    "dht_sensors": [],
    "ds18b20_sensors": [],
}


class BoardError(Exception):
    """Talking to the board failed."""


class BoardConnectionError(BoardError):
    """The board could not be reached."""


class BoardTimeoutError(BoardError):
    """The board did not answer in time."""


class BoardResponseError(BoardError):
    """The board answered with an error or with something that is not the firmware's JSON."""


class BoardLockedError(BoardResponseError):
    """The board's settings are locked (409 `settings are locked`, server_settings.lua v3.0.0+).

    Unlock it in the Konnected app (or `PUT /lock` with its password), then try again.
    """


class BoardSettingsNotStoredError(BoardError):
    """`/status` does not show what was sent (or never answered) after `PUT /settings`."""


class UnstorableSettingError(BoardError, ValueError):
    """A value the firmware would write into its settings file unescaped (variables_build.lua)."""


type Clock = Callable[[], float]
type Sleep = Callable[[float], Awaitable[None]]


def _check_storable(name: str, value: str) -> None:
    # variables_build.lua writes strings as `"` .. value .. `"` into Lua source and compiles it;
    # a quote, backslash or line break would break the board's settings file.
    if any(char in value for char in '"\\\r\n') or not value.isprintable():
        raise UnstorableSettingError(f"{name} contains characters the firmware cannot store")


class BoardClient:
    """One board at `host:port`."""

    def __init__(
        self,
        host: str,
        port: int,
        session: aiohttp.ClientSession,
        *,
        timeout: float = REQUEST_TIMEOUT,
        retry_delay: float = RETRY_DELAY,
        settings_retry_for: float | None = None,
        settings_confirm_for: float | None = None,
        settings_retry_interval: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Set up a client; the session belongs to the caller (Home Assistant's shared one).

        The settings timings default to the module constants, read when used.
        """
        self.host = host
        self.port = port
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._retry_delay = retry_delay
        self._settings_retry_for = settings_retry_for
        self._settings_confirm_for = settings_confirm_for
        self._settings_retry_interval = settings_retry_interval
        self._clock = clock
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"

    # --- transport -------------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        what = f"{method} {path}"
        try:
            async with self._session.request(
                method,
                f"{self.base_url}{path}",
                json=body,
                params=params,
                timeout=self._timeout,
                # The firmware never compresses; decompressing for a stranger could multiply its bytes.
                auto_decompress=False,
                headers={"Accept-Encoding": "identity"},
            ) as response:
                raw = await _read_capped(response, what)
                status = response.status
        except TimeoutError as err:
            raise BoardTimeoutError(f"{what}: no answer within {self._timeout.total} s") from err
        except aiohttp.ClientResponseError as err:
            raise BoardResponseError(f"{what}: {err.message}") from err
        except (aiohttp.ClientError, OSError) as err:
            raise BoardConnectionError(f"{what}: {type(err).__name__}") from err
        if status == 409:
            # The firmware's only 409 (server_settings.lua v3.0.0+), body `{ "msg":"settings are locked" }`.
            raise BoardLockedError(f"{what}: the board's settings are locked (unlock it in the Konnected app)")
        if status >= 400:
            raise BoardResponseError(f"{what} answered HTTP {status}")
        try:
            return decode_json(raw)
        except PayloadError as err:
            raise BoardResponseError(f"{what}: the answer is {err}") from None

    async def _read(self, path: str, params: dict[str, str] | None = None) -> Any:
        for attempt in range(READ_ATTEMPTS):
            try:
                return await self._request("GET", path, params=params)
            except (BoardConnectionError, BoardTimeoutError):
                if attempt == READ_ATTEMPTS - 1:
                    raise
                await self._sleep(self._retry_delay * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- status ----------------------------------------------------------------------------

    async def get_status(self) -> BoardStatus:
        """`GET /status`."""
        return _parse_status(await self._read("/status"))

    # --- settings --------------------------------------------------------------------------

    async def provision(
        self,
        *,
        endpoint: str,
        authorizer: str,
        token: str,
        token_signature: str,
        topics: dict[str, str],
        sensors: list[dict[str, Any]],
        actuators: list[dict[str, Any]],
        dht_sensors: list[dict[str, Any]],
        ds18b20_sensors: list[dict[str, Any]],
        blink: bool = True,
    ) -> BoardStatus:
        """`PUT /settings` in AWS IoT mode, retried, then confirmed in `/status`; returns that status.

        The board restarts 2 s after answering and connects. Raises BoardLockedError,
        BoardSettingsNotStoredError, or the last connection/timeout error when no attempt got
        through in time.
        """
        strings = {"endpoint": endpoint, "aws.authorizer": authorizer, "aws.token": token}
        strings |= {"aws.token_signature": token_signature} | {f"aws.topics.{k}": v for k, v in topics.items()}
        for name, value in strings.items():
            _check_storable(name, value)
        body = {
            "endpoint_type": "aws_iot",
            "endpoint": endpoint,
            "aws": {
                "authorizer": authorizer,
                "token": token,
                "token_signature": token_signature,
                "topics": topics,
            },
            "sensors": sensors,
            "actuators": actuators,
            "dht_sensors": dht_sensors,
            "ds18b20_sensors": ds18b20_sensors,
            "blink": blink,
            "discovery": True,
        }
        expected = _ExpectedSettings(
            endpoint=endpoint,
            endpoint_type="aws_iot",
            zones=_zones_by_list(sensors, actuators, dht_sensors, ds18b20_sensors),
        )
        _LOGGER.debug("Provisioning %s with endpoint %s", self.host, endpoint)
        return await self._store_settings(body, expected)

    async def unprovision(self) -> BoardStatus:
        """Return the board to its factory settings (REST mode, no endpoint, no zones), keeping Wi-Fi.

        It then stops connecting to AWS IoT and stops restarting. Same retries and confirmation as
        `provision`. A board that cannot be reached can be reset by hand: hold its FLASH button
        for 8 s (wipe.lua), which clears the same settings and keeps Wi-Fi.
        """
        expected = _ExpectedSettings(endpoint=None, endpoint_type="rest", zones=_zones_by_list([], [], [], []))
        return await self._store_settings(dict(UNPROVISIONED_SETTINGS), expected)

    async def _store_settings(self, body: dict[str, Any], expected: _ExpectedSettings) -> BoardStatus:
        await self._retry_until(self._retry_for, lambda: self._request("PUT", "/settings", body))
        try:
            status = await self._retry_until(self._confirm_for, self._status_once)
        except (BoardConnectionError, BoardTimeoutError) as err:
            raise BoardSettingsNotStoredError(
                f"The board at {self.host}:{self.port} took the settings but /status never answered: {err}"
            ) from err
        mismatch = expected.mismatch(status)
        if mismatch is not None:
            raise BoardSettingsNotStoredError(
                f"The board at {self.host}:{self.port} did not store the settings: {mismatch}"
            )
        return status

    async def _status_once(self) -> BoardStatus:
        return _parse_status(await self._request("GET", "/status"))

    # The settings timings: the constructor's value, else the module constant (read when used).
    @property
    def _retry_for(self) -> float:
        return SETTINGS_RETRY_FOR if self._settings_retry_for is None else self._settings_retry_for

    @property
    def _confirm_for(self) -> float:
        return SETTINGS_CONFIRM_FOR if self._settings_confirm_for is None else self._settings_confirm_for

    @property
    def _retry_interval(self) -> float:
        return SETTINGS_RETRY_INTERVAL if self._settings_retry_interval is None else self._settings_retry_interval

    async def _retry_until[T](self, duration: float, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry while the board is unreachable or silent (a reboot window), for `duration` seconds."""
        deadline = self._clock() + duration
        while True:
            try:
                return await attempt()
            except (BoardConnectionError, BoardTimeoutError) as err:
                if self._clock() >= deadline:
                    raise
                _LOGGER.debug("Board %s not answering, retrying: %s", self.host, err)
            await self._sleep(self._retry_interval)

    # --- outputs ---------------------------------------------------------------------------

    async def set_output(
        self,
        zone: str,
        state: int,
        *,
        momentary: int | None = None,
        times: int | None = None,
        pause: int | None = None,
    ) -> int:
        """`PUT /device`: drive an output locally; returns the level the board reports.

        A pulse is `momentary` ms on, `times` pulses (default 1, -1 endless) `pause` ms apart
        (see models.Pulse); raises ValueError for a meaningless combination.
        """
        if momentary is None:
            if times is not None or pause is not None:
                raise ValueError("times and pause only apply to a pulse (momentary)")
            pulse = None
        else:
            pulse = Pulse(momentary, 1 if times is None else times, pause or 0)
        answer = await self._request("PUT", "/device", switch_command(zone, state, pulse))
        level = answer.get("state") if isinstance(answer, dict) else None
        if isinstance(level, bool) or not isinstance(level, int):
            raise BoardResponseError("PUT /device: unexpected answer")
        return level

    async def get_levels(self, output_zones: list[str]) -> dict[str, int]:
        """Levels of every input (`GET /device`) and of the given outputs.

        The firmware lists all inputs unless both `pin` and `zone` are given
        (server_device.lua v3.1.x; older releases read `pin` only), so an output is read as
        `GET /device?pin=N&zone=Z`.
        """
        levels: dict[str, int] = {}
        answer = await self._read("/device")
        if not isinstance(answer, list):
            raise BoardResponseError("GET /device: expected a list")
        for item in answer:
            if isinstance(item, dict):
                _store_level(levels, item)
        for zone in output_zones:
            pin = ZONE_TO_PIN.get(zone)
            if pin is None:
                continue
            answer = await self._read("/device", params={"pin": str(pin), "zone": zone})
            if isinstance(answer, list):
                for item in answer:
                    if isinstance(item, dict):
                        _store_level(levels, item)
        return levels


async def _read_capped(response: aiohttp.ClientResponse, what: str) -> bytes:
    """Return the body, read incrementally; the connection is dropped as soon as it exceeds the cap."""
    declared = response.content_length
    if declared is not None and declared > MAX_ANSWER_BYTES:
        response.close()
        raise BoardResponseError(f"{what}: the answer declares {declared} bytes, more than a board can send")
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        response.close()
        raise BoardResponseError(f"{what}: a compressed answer, which the firmware never sends")
    body = bytearray()
    while chunk := await response.content.read(_READ_CHUNK):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            response.close()
            raise BoardResponseError(f"{what}: the answer exceeds {MAX_ANSWER_BYTES} bytes, more than a board can send")
    return bytes(body)


def _parse_status(body: Any) -> BoardStatus:
    try:
        return BoardStatus.from_json(body)
    except BoardDataError as err:
        raise BoardResponseError(f"GET /status: {err}") from err


class _ExpectedSettings:
    """What `/status` must show once the board stored a settings body."""

    def __init__(self, *, endpoint: str | None, endpoint_type: str, zones: dict[str, set[str]]) -> None:
        self.endpoint = endpoint
        self.endpoint_type = endpoint_type
        self.zones = zones

    def mismatch(self, status: BoardStatus) -> str | None:
        """None when the status shows these settings, else what differs (no secrets in it)."""
        if status.endpoint_type != self.endpoint_type:
            return f"endpoint_type is {status.endpoint_type!r}, not {self.endpoint_type!r}"
        if status.endpoint != self.endpoint:
            return "it reports another endpoint"
        reported = {
            "sensors": set(status.sensors),
            "actuators": set(status.actuators),
            "dht_sensors": set(status.dht_sensors),
            "ds18b20_sensors": set(status.ds18b20_sensors),
        }
        for name, zones in self.zones.items():
            if reported[name] != zones:
                return f"its {name} are {sorted(reported[name])}, not {sorted(zones)}"
        return None


def _zones_by_list(*lists: list[dict[str, Any]]) -> dict[str, set[str]]:
    names = ("sensors", "actuators", "dht_sensors", "ds18b20_sensors")
    return {
        name: {zone for zone in (zone_of(entry) for entry in entries) if zone is not None}
        for name, entries in zip(names, lists, strict=True)
    }


def _store_level(levels: dict[str, int], item: dict[str, Any]) -> None:
    zone = zone_of(item)
    state = item.get("state")
    if isinstance(state, str) and state.isdigit():
        state = int(state)
    if zone is not None and isinstance(state, int) and not isinstance(state, bool) and state in (0, 1):
        levels[zone] = state
