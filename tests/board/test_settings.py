"""PUT /settings: retried through reboot windows, confirmed through /status, a lock told apart.

Answers come from a raw server framed like the firmware (tests/board/raw_http.py), so each case
the simulator does not (yet) script is still met exactly as a board produces it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest

from custom_components.konnected_aws.board import (
    BoardClient,
    BoardConnectionError,
    BoardLockedError,
    BoardSettingsNotStoredError,
    UnstorableSettingError,
    client as client_module,
)

from .raw_http import Request, firmware_answer, raw_server

pytestmark = pytest.mark.usefixtures("socket_enabled")

MAC = "88:40:f5:20:99:48"
ENDPOINT = "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt"
LOCKED = b'{ "msg":"settings are locked" }'  # server_settings.lua, byte for byte


def provision_args(endpoint: str = ENDPOINT) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "authorizer": "konnected-aws",
        "token": "tok",
        "token_signature": "c2ln",
        "topics": {"sensor": "a", "heartbeat": "b", "switch": "c"},
        "sensors": [{"pin": 1}],
        "actuators": [{"pin": 8, "trigger": 1}],
        "dht_sensors": [],
        "ds18b20_sensors": [],
    }


def status_body(settings: object, **lists: object) -> bytes:
    return json.dumps({"mac": MAC, "swVersion": "3.1.5", "settings": settings, **lists}).encode()


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_board_is_retried_for_the_whole_window() -> None:
    """About 30 s of attempts (here on a fake clock), then the connection error."""
    fake = FakeTime()
    async with aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", closed_port(), session, clock=fake.clock, sleep=fake.sleep)
        with pytest.raises(BoardConnectionError):
            await client.provision(**provision_args())
    assert fake.sleeps == [client_module.SETTINGS_RETRY_INTERVAL] * 60
    assert fake.now == pytest.approx(client_module.SETTINGS_RETRY_FOR)


async def test_retry_window_is_configurable_and_patchable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per client, or through the module constants (read when used)."""
    fake = FakeTime()
    async with aiohttp.ClientSession() as session:
        client = BoardClient(
            "127.0.0.1", closed_port(), session, settings_retry_for=3, settings_retry_interval=0.5,
            clock=fake.clock, sleep=fake.sleep,
        )
        with pytest.raises(BoardConnectionError):
            await client.unprovision()
        assert fake.sleeps == [0.5] * 6
        monkeypatch.setattr(client_module, "SETTINGS_RETRY_FOR", 0)
        fake.sleeps.clear()
        with pytest.raises(BoardConnectionError):
            await BoardClient("127.0.0.1", closed_port(), session, clock=fake.clock, sleep=fake.sleep).unprovision()
        assert fake.sleeps == []


async def test_locked_board_is_a_distinct_error_and_not_retried() -> None:
    """409 `settings are locked` (v3.0.0+) is BoardLockedError at once, for provision and unprovision."""

    async def respond(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(firmware_answer(LOCKED, 409))

    async with raw_server(respond) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session)
        with pytest.raises(BoardLockedError, match="locked"):
            await client.provision(**provision_args())
        with pytest.raises(BoardLockedError):
            await client.unprovision()
    assert [request.method for request in server.requests] == ["PUT", "PUT"]


class Board:
    """Just enough of a board for /settings and /status, with scriptable misbehaviour."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}
        self.lists: dict[str, Any] = {}
        self.silent_puts = 0  # PUT /settings left unanswered (AWS mode while the WebSocket is open)
        self.refused_statuses = 0  # /status connections dropped (the board restarting)
        self.store = True

    async def __call__(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "PUT" and request.path == "/settings":
            if self.silent_puts:
                self.silent_puts -= 1
                await asyncio.sleep(1)  # past the client's timeout
                return
            body = json.loads(request.body)
            if self.store:
                self.settings = {k: body[k] for k in ("endpoint", "endpoint_type") if k in body}
                lists = ("sensors", "actuators", "dht_sensors", "ds18b20_sensors")
                self.lists = {k: body[k] for k in lists if k in body}
            writer.write(firmware_answer(b""))
        elif request.path == "/status":
            if self.refused_statuses:
                self.refused_statuses -= 1
                return  # connection closed without an answer
            writer.write(firmware_answer(status_body(self.settings or [], **self.lists)))


async def test_silent_put_is_retried_and_the_settings_confirmed() -> None:
    """The first PUT is never answered, /status drops twice (rebooting): still provisioned."""
    board = Board()
    board.silent_puts, board.refused_statuses = 1, 2
    async with raw_server(board) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session, timeout=0.3, settings_retry_interval=0.01)
        status = await client.provision(**provision_args())
    assert status.endpoint == ENDPOINT
    assert status.endpoint_type == "aws_iot"
    assert status.sensors == ("1",)
    assert status.actuators == ("out",)
    assert [r.method for r in server.requests].count("PUT") == 2


async def test_settings_not_stored_is_an_error() -> None:
    """A board that answers but keeps its old settings: BoardSettingsNotStoredError, no secret in it."""
    board = Board()
    board.store = False
    board.settings = {"endpoint_type": "rest"}
    async with raw_server(board) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session)
        with pytest.raises(BoardSettingsNotStoredError, match="endpoint_type is 'rest'") as caught:
            await client.provision(**provision_args())
    assert "tok" not in str(caught.value) and "c2ln" not in str(caught.value)


async def test_other_endpoint_or_zones_are_a_mismatch() -> None:
    """The endpoint and every zone list must be what was sent."""
    board = Board()
    async with raw_server(board) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session)
        await client.provision(**provision_args())
        board.store = False
        with pytest.raises(BoardSettingsNotStoredError, match="another endpoint"):
            await client.provision(**provision_args("wss://other/mqtt"))
        changed = provision_args() | {"sensors": [{"pin": 1}, {"pin": 2}]}
        with pytest.raises(BoardSettingsNotStoredError, match="sensors"):
            await client.provision(**changed)


async def test_status_never_answering_after_the_put_is_not_stored() -> None:
    """PUT answered, /status silent for the whole confirmation window: not confirmed."""
    board = Board()
    board.refused_statuses = 1000
    fake = FakeTime()
    async with raw_server(board) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session, clock=fake.clock, sleep=fake.sleep)
        with pytest.raises(BoardSettingsNotStoredError, match="never answered"):
            await client.provision(**provision_args())
    assert fake.now == pytest.approx(client_module.SETTINGS_CONFIRM_FOR)


async def test_unprovision_sends_the_factory_state_and_confirms_it() -> None:
    """Empty lists (omitted ones would be kept), no endpoint, no aws, REST by default."""
    board = Board()
    async with raw_server(board) as server, aiohttp.ClientSession() as session:
        client = BoardClient("127.0.0.1", server.port, session)
        await client.provision(**provision_args())
        status = await client.unprovision()
    sent = json.loads(server.requests[-2].body)
    assert sent == {"sensors": [], "actuators": [], "dht_sensors": [], "ds18b20_sensors": []}
    assert (status.endpoint, status.endpoint_type, status.sensors, status.actuators) == (None, "rest", (), ())


@pytest.mark.parametrize(
    ("field", "value"),
    [("token", 'a"b'), ("endpoint", "wss://x/mqtt\n"), ("authorizer", "a\\b"), ("token_signature", "\x00")],
)
async def test_values_the_firmware_cannot_store_are_refused_before_sending(field: str, value: str) -> None:
    """variables_build.lua writes strings unescaped into Lua source: a quote would break the board."""
    async with raw_server(Board()) as server, aiohttp.ClientSession() as session:
        with pytest.raises(UnstorableSettingError, match=field):
            await BoardClient("127.0.0.1", server.port, session).provision(**provision_args() | {field: value})
    assert server.requests == []
