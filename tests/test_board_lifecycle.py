"""Boards come and go without a reload: adopting, changing and removing one board among many
touches nothing of the others and keeps the bridge connection up."""

from __future__ import annotations

from types import MappingProxyType
from unittest.mock import patch

from custom_components.konnected_aws.const import DOMAIN
from custom_components.konnected_aws.iot.messages import ZoneState
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntry, ConfigSubentry
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from .conftest import BoardFactory
from .test_end_to_end import (
    MAC,
    adopt,
    configure_zones,
    entity_id,
    setup_account,
    wait_for,
)

OTHER_BOARDS = 50


def other_board_id(index: int) -> str:
    return f"02aa{index:08x}"


def add_other_boards(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Boards adopted earlier (registered elsewhere; here only their subentries matter)."""
    zones = {
        "1": {"type": "binary_sensor", "device_class": "door"},
        "2": {"type": "binary_sensor", "device_class": "motion"},
        "out": {"type": "switch"},
    }
    for index in range(OTHER_BOARDS):
        board_id = other_board_id(index)
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {"board_id": board_id, "host": "127.0.0.1", "port": 9, "model": "Konnected", "zones": zones}
                ),
                subentry_type="board",
                title=f"Konnected {board_id[-6:]}",
                unique_id=board_id,
            ),
        )


async def test_adopt_change_and_remove_one_board_among_50(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """No state change on any other board's entity, no bridge reconnect, rewired zones cleaned up."""
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    add_other_boards(hass, entry)
    await hass.async_block_till_done()
    hub = entry.runtime_data.hub
    connection = hub.connection
    for index in range(OTHER_BOARDS):
        hub.async_handle_report(ZoneState(other_board_id(index), "1", 1))
    await hass.async_block_till_done()
    others = [
        entity.entity_id
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
        if not entity.unique_id.startswith(MAC.replace(":", ""))
    ]
    assert len(others) >= OTHER_BOARDS * 5  # connectivity, rssi, two zones, one output
    assert hass.states.get(entity_id(hass, "binary_sensor", f"{other_board_id(7)}_1")).state == STATE_ON

    changed: list[str] = []
    connection_changes: list[bool] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] in others:
            changed.append(event.data["entity_id"])

    unsubscribe = hass.bus.async_listen("state_changed", record)
    original_connection_changed = hub.async_connection_changed

    @callback
    def connection_changed(connected: bool) -> None:
        connection_changes.append(connected)
        original_connection_changed(connected)

    connection._on_connection_change = connection_changed  # noqa: SLF001 - spying on the bridge

    # Adopt: the new board's entities appear, the entry stays loaded, nothing reloads.
    board = await make_board(MAC)
    await adopt(hass, board)
    zone_3 = entity_id(hass, "binary_sensor", f"{board.device_id}_3")
    await wait_for(lambda: hass.states.get(zone_3).state == STATE_OFF)
    assert entry.runtime_data.hub is hub and hub.connection is connection

    # Rewire zone 3 as an output: the binary sensor goes away (entity and registry entry).
    subentry_id = next(sid for sid, sub in entry.subentries.items() if sub.unique_id == board.device_id)
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    zones: dict[str, dict[str, object]] = {
        zone: {"type": "binary_sensor", "device_class": "door"} for zone in ("1", "2", "4", "5", "6")
    }
    zones["3"] = {"type": "switch", "trigger": "1"}
    zones["out"] = {"type": "switch", "trigger": "1"}
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.ABORT, result
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get_entity_id("binary_sensor", DOMAIN, f"{board.device_id}_3") is None
    assert hass.states.get(zone_3) is None
    output_3 = entity_id(hass, "switch", f"{board.device_id}_3")
    await wait_for(lambda: hass.states.get(output_3).state == STATE_OFF, timeout=20)

    # Remove it: revoked in AWS, its entities gone, the others untouched.
    hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    assert hass.states.get(output_3) is None
    cloud = iot_emulator.cloud_account()
    assert await hass.async_add_executor_job(cloud.registry.get, board.device_id) is None

    unsubscribe()
    assert changed == []
    assert connection_changes == []
    assert hub.connected


@patch("custom_components.konnected_aws.boards.RESET_RETRY_FOR", 0.5)
async def test_removing_an_unreachable_board_says_how_to_reset_it(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Revoked in AWS at once; the board itself cannot be told, so a repair issue says how."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    await adopt(hass, board)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    await board.close()
    hass.config_entries.async_remove_subentry(entry, next(iter(entry.subentries)))
    await hass.async_block_till_done(wait_background_tasks=True)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"board_not_reset_{board.device_id}")
    assert issue is not None
    assert issue.translation_placeholders == {"name": f"Konnected {board.device_id[-6:]}", "reason": "it did not answer"}
    assert await hass.async_add_executor_job(iot_emulator.cloud_account().registry.get, board.device_id) is None
