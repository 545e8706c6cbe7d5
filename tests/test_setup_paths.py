"""Setup and runtime paths off the happy road: refused keys, boards that stop answering locally,
addresses a heartbeat reports that nobody answers at."""

from __future__ import annotations

from unittest.mock import patch

from custom_components.konnected_aws.addresses import Address, heartbeat_address
from custom_components.konnected_aws.cloud import CloudAccount
from custom_components.konnected_aws.cloud.errors import InvalidCredentialsError
from custom_components.konnected_aws.const import DOMAIN
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_OFF
from homeassistant.core import HomeAssistant
from tests.conftest import BoardFactory
from tests.test_end_to_end import adopted_board, entity_id, setup_account, wait_for


async def test_refused_run_time_key_asks_for_new_keys(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    """AWS refusing the stored key at start: the entry stops with an auth error and reauth opens."""
    entry_id = await setup_account(hass, iot_emulator)
    with patch.object(CloudAccount, "load_private_key", side_effect=InvalidCredentialsError("refused")):
        assert not await hass.config_entries.async_reload(entry_id)
        await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_a_board_that_stops_answering_locally_stays_available(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A failed local read changes nothing: availability follows what AWS IoT delivers."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    zone_1 = entity_id(hass, "binary_sensor", f"{board.device_id}_1")
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_OFF)
    hub = entry.runtime_data.hub
    await hub.async_refresh_board("0123456789ab")  # not adopted here: nothing to read
    await board.close()  # unplugged from the LAN; AWS heard it moments ago
    await hub.async_refresh_board(board.device_id)
    assert hass.states.get(zone_1).state == STATE_OFF


async def test_an_address_only_a_heartbeat_reports_is_checked_first(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A heartbeat naming an address where nothing answers, or junk, never moves the board."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    guard = entry.runtime_data.addresses
    assert heartbeat_address({"ip": 5, "port": "80"}) is None
    assert heartbeat_address({"ip": "10.0.0.9", "port": 70000}) is None
    assert str(Address("10.0.0.9", 8123)) == "10.0.0.9:8123"
    guard.async_heartbeat(board.device_id, {"ip": "127.0.0.1", "port": 1})
    await hass.async_block_till_done()
    subentry = next(iter(entry.subentries.values()))
    assert subentry.data["port"] == board.http_port
    # The stored address answering again clears what was pending.
    guard.async_answered_at(board.device_id, Address("127.0.0.1", board.http_port))
    assert guard.pending(board.device_id) is None
