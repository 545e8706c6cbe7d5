"""A device on the LAN that claims an adopted board's MAC cannot steer that board."""

from __future__ import annotations

from custom_components.konnected_aws.addresses import Address
from custom_components.konnected_aws.const import DOMAIN
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_SSDP
from homeassistant.const import STATE_OFF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .conftest import BoardFactory
from .test_end_to_end import (
    MAC,
    adopted_board,
    configure_zones,
    entity_id,
    ssdp_info,
    wait_for,
)


async def test_a_spoofed_board_gets_no_token_and_sets_no_state(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """The spoofer answers SSDP and /status with the board's MAC from another address."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    subentry = next(iter(entry.subentries.values()))
    zone_1 = entity_id(hass, "binary_sensor", f"{board.device_id}_1")
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_OFF)
    spoof = await make_board(MAC)
    spoof.set_zone("1", 1)

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(spoof))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    guard = entry.runtime_data.addresses
    assert guard.pending(board.device_id) == Address("127.0.0.1", spoof.http_port)
    assert entry.subentries[subentry.subentry_id].data["port"] == board.http_port

    # The real board's heartbeat (through AWS, under its token) reports its own address.
    heard = len(board.published)
    await board.reboot()
    await wait_for(lambda: any(topic.endswith("/heartbeat") for topic, _ in board.published[heard:]), timeout=20)
    await hass.async_block_till_done()
    assert entry.subentries[subentry.subentry_id].data["port"] == board.http_port

    # Local reads still go to the proven address: the spoofer's level 1 never shows.
    await entry.runtime_data.hub.async_refresh_board(board.device_id)
    assert hass.states.get(zone_1).state == STATE_OFF

    # Re-provisioning (a zone change) sends the token to the real board only.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id}
    )
    result = await configure_zones(hass, result["flow_id"], {"1": {"type": "binary_sensor"}, "2": {"type": "binary_sensor"}})
    assert result["type"] is FlowResultType.ABORT, result
    assert board.settings["aws"]["token"]
    assert not spoof.settings.get("aws")


async def test_a_moved_board_is_followed_once_it_confirms_through_aws(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A new DHCP lease: the board's heartbeat reports the new address, which answers with its MAC."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    subentry_id = next(iter(entry.subentries))
    old_port = board.http_port
    await board.stop()
    board.http_port = 0
    await board.start()
    assert board.http_port != old_port
    await wait_for(lambda: entry.subentries[subentry_id].data["port"] == board.http_port, timeout=20)

