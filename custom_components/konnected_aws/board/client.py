"""The board's local HTTP API (legacy firmware), on an injected aiohttp session.

No Home Assistant imports. Reads are retried a little; writes are not (the firmware
reboots after `PUT /settings`, so a blind retry would only hit a rebooting board).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Final

import aiohttp

from .models import ZONE_TO_PIN, BoardDataError, BoardStatus, zone_of

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT: Final = 10.0
READ_ATTEMPTS: Final = 3
RETRY_DELAY: Final = 0.5


class BoardError(Exception):
    """Talking to the board failed."""


class BoardConnectionError(BoardError):
    """The board could not be reached."""


class BoardTimeoutError(BoardError):
    """The board did not answer in time."""


class BoardResponseError(BoardError):
    """The board answered with an error or with something that is not the firmware's JSON."""


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
    ) -> None:
        """The session belongs to the caller (Home Assistant's shared one)."""
        self.host = host
        self.port = port
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_delay = retry_delay

    @property
    def base_url(self) -> str:
        """`http://host:port`."""
        return f"http://{self.host}:{self.port}"

    async def _request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            async with self._session.request(
                method, url, json=body, params=params, timeout=self._timeout
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise BoardResponseError(f"{method} {path} answered HTTP {response.status}")
        except TimeoutError as err:
            raise BoardTimeoutError(f"{method} {path}: no answer within {self._timeout.total} s") from err
        except aiohttp.ClientResponseError as err:
            raise BoardResponseError(f"{method} {path}: {err.message}") from err
        except (aiohttp.ClientError, OSError) as err:
            raise BoardConnectionError(f"{method} {path}: {type(err).__name__}") from err
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as err:
            raise BoardResponseError(f"{method} {path}: the answer is not JSON") from err

    async def _read(self, path: str, params: dict[str, str] | None = None) -> Any:
        for attempt in range(READ_ATTEMPTS):
            try:
                return await self._request("GET", path, params=params)
            except (BoardConnectionError, BoardTimeoutError):
                if attempt == READ_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_status(self) -> BoardStatus:
        """`GET /status`."""
        body = await self._read("/status")
        try:
            return BoardStatus.from_json(body)
        except BoardDataError as err:
            raise BoardResponseError(str(err)) from err

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
    ) -> None:
        """`PUT /settings` in AWS IoT mode; the board reboots about 2 s later and connects."""
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
        _LOGGER.debug("Provisioning %s with endpoint %s", self.host, endpoint)
        await self._request("PUT", "/settings", body)

    async def set_output(
        self,
        zone: str,
        state: int,
        *,
        momentary: int | None = None,
        times: int | None = None,
        pause: int | None = None,
    ) -> int:
        """`PUT /device`: drive an output locally; returns the level the board reports."""
        body: dict[str, Any] = {"zone": zone, "state": state}
        if momentary is not None:
            body["momentary"] = momentary
            if times is not None:
                body["times"] = times
            if pause is not None:
                body["pause"] = pause
        answer = await self._request("PUT", "/device", body)
        if not isinstance(answer, dict) or not isinstance(answer.get("state"), int):
            raise BoardResponseError("PUT /device: unexpected answer")
        return int(answer["state"])

    async def get_levels(self, output_zones: list[str]) -> dict[str, int]:
        """Levels of every input (`GET /device`) and of the given outputs.

        The firmware lists all inputs unless both `pin` and `zone` are given
        (server_device.lua), so an output is read as `GET /device?pin=N&zone=Z`.
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


def _store_level(levels: dict[str, int], item: dict[str, Any]) -> None:
    zone = zone_of(item)
    state = item.get("state")
    if isinstance(state, str) and state.isdigit():
        state = int(state)
    if zone is not None and isinstance(state, int) and not isinstance(state, bool) and state in (0, 1):
        levels[zone] = state
