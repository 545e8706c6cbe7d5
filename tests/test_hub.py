"""The hub: which entities a report updates, availability, probes, local refresh."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.konnected_aws.const import BOARD_OFFLINE_AFTER
from custom_components.konnected_aws.hub import (
    HEARTBEAT_KEY,
    KonnectedHub,
    signal_new_probe,
)
from custom_components.konnected_aws.iot.connection import (
    BridgeConnection,
    BridgeCredentials,
)
from custom_components.konnected_aws.iot.messages import (
    DhtReading,
    Ds18b20Reading,
    Heartbeat,
    ZoneState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

BOARD = "8840f5209948"
OTHER = "5ccf7f000001"
# One listener per kind of entity a board has: two zones, a DHT zone, a DS18B20 zone, the
# heartbeat's signal strength, and the connectivity sensor (availability only).
KEYS = ("1", "2", "5", "6", HEARTBEAT_KEY, None)


class Recorder:
    """Counts the updates each listener key received."""

    def __init__(self, hub: KonnectedHub) -> None:
        self.updates: Counter[str | None] = Counter()
        for key in KEYS:
            hub.async_add_listener(BOARD, self._listener(key), key)

    def _listener(self, key: str | None):  # type: ignore[no-untyped-def]
        @callback
        def update() -> None:
            self.updates[key] += 1

        return update

    def take(self) -> set[str | None]:
        """Keys updated since the last call."""
        updated = set(self.updates)
        self.updates.clear()
        return updated


@pytest.fixture
async def hub(hass: HomeAssistant) -> AsyncIterator[KonnectedHub]:
    """A hub with one adopted board and a connection object that is never started."""
    levels: dict[str, dict[str, int]] = {BOARD: {"1": 1, "2": 0}}

    async def read_levels(board_id: str) -> dict[str, int] | None:
        return levels.get(board_id)

    hub = KonnectedHub(hass, "entry", read_levels)
    hub.track_board(BOARD)
    hub.attach(
        BridgeConnection(
            BridgeCredentials(
                url="ws://127.0.0.1:1/mqtt", authorizer_name="a", token="t", signature="s", client_id="c"
            ),
            hub.async_handle_report,
            hub.async_connection_changed,
        )
    )
    yield hub
    await hub.async_shutdown()


async def test_a_report_updates_only_the_entities_it_concerns(hass: HomeAssistant, hub: KonnectedHub) -> None:
    """After the first report (the board comes online: everything), one zone, one zone's listeners."""
    recorder = Recorder(hub)
    hub.async_handle_report(ZoneState(BOARD, "1", 1))
    assert recorder.take() == set(KEYS)

    hub.async_handle_report(ZoneState(BOARD, "1", 0))
    assert recorder.take() == {"1"}
    assert hub.boards[BOARD].zone_levels["1"] == 0

    hub.async_handle_report(DhtReading(BOARD, "5", 21.5, 40.0))
    assert recorder.take() == {"5"}
    assert hub.boards[BOARD].climate["5"] == (21.5, 40.0)

    # The heartbeat carries the signal strength and every binary zone's level.
    status = {"rssi": -60, "sensors": [{"zone": "1", "state": 1}, {"zone": "2", "state": 1}]}
    hub.async_handle_report(Heartbeat(BOARD, status))
    assert recorder.take() == {HEARTBEAT_KEY, "1", "2"}
    assert hub.boards[BOARD].zone_levels == {"1": 1, "2": 1}


async def test_reports_of_boards_not_adopted_are_dropped(hass: HomeAssistant, hub: KonnectedHub) -> None:
    """Nothing is kept or updated for a board this entry does not hold."""
    recorder = Recorder(hub)
    hub.async_handle_report(ZoneState(OTHER, "1", 1))
    assert OTHER not in hub.boards
    assert recorder.take() == set()


async def test_silence_makes_the_board_unavailable_and_a_report_brings_it_back(
    hass: HomeAssistant, hub: KonnectedHub, freezer: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """No report for two heartbeat periods: every entity of the board is updated (unavailable)."""
    recorder = Recorder(hub)
    hub.async_handle_report(ZoneState(BOARD, "1", 1))
    recorder.take()
    assert hub.boards[BOARD].online

    freezer.tick(BOARD_OFFLINE_AFTER + timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert not hub.boards[BOARD].online
    assert recorder.take() == set(KEYS)
    assert "stopped reporting" in caplog.text

    # Nothing changed since: the periodic check updates nobody.
    freezer.tick(timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert recorder.take() == set()

    hub.async_handle_report(ZoneState(BOARD, "2", 0))
    assert recorder.take() == set(KEYS)
    assert "back online" in caplog.text


async def test_a_new_probe_is_announced_once(hass: HomeAssistant, hub: KonnectedHub) -> None:
    """The sensor platform adds an entity for each DS18B20 address the first time it reports."""
    announced: list[tuple[str, str, str]] = []
    unsubscribe = async_dispatcher_connect(
        hass, signal_new_probe("entry"), lambda *args: announced.append(args)
    )
    recorder = Recorder(hub)
    hub.async_handle_report(Ds18b20Reading(BOARD, "6", 20.0, "28-0001"))
    hub.async_handle_report(Ds18b20Reading(BOARD, "6", 20.5, "28-0001"))
    hub.async_handle_report(Ds18b20Reading(BOARD, "6", 19.0, "28-0002"))
    await hass.async_block_till_done()
    unsubscribe()
    assert sorted(announced) == [(BOARD, "6", "28-0001"), (BOARD, "6", "28-0002")]
    assert hub.boards[BOARD].probes == {"6": {"28-0001": 20.5, "28-0002": 19.0}}
    recorder.take()
    hub.async_handle_report(Ds18b20Reading(BOARD, "6", 18.0, "28-0002"))
    assert recorder.take() == {"6"}


async def test_reconnect_reads_the_true_levels_locally(hass: HomeAssistant, hub: KonnectedHub) -> None:
    """After the bridge reconnects, each board's levels come from its local API, not a guess."""
    recorder = Recorder(hub)
    hub.async_connection_changed(True)
    await hass.async_block_till_done()
    assert hub.boards[BOARD].zone_levels == {"1": 1, "2": 0}
    assert hub.boards[BOARD].online
    assert recorder.take() == set(KEYS)

    hub.forget_board(BOARD)
    assert BOARD not in hub.boards
    hub.async_connection_changed(False)
    assert recorder.take() == set()
