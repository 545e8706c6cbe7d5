"""Every supported firmware release through the whole path: adopted through the config flow and
the IoT emulation, a pulse pattern commanded, and removed (the board reset, its token revoked)."""

from __future__ import annotations

import pytest

from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_RECONFIGURE
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from tests.conftest import SimulatedBoardFactory
from tests.test_end_to_end import (
    MAC,
    adopt,
    configure_zones,
    entity_id,
    setup_account,
    wait_for,
)


@pytest.mark.parametrize("release", ["2.3.2", "3.0.1", "3.1.5"])
async def test_adopt_pulse_and_remove(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_simulated_board: SimulatedBoardFactory, release: str
) -> None:
    board = await make_simulated_board(MAC, sw_version=release)
    entry_id = await setup_account(hass, iot_emulator)
    await adopt(hass, board)
    # Provisioned by pin, which every release reads (zone keys make 3.0.1 fail at boot).
    assert all("pin" in sensor and "zone" not in sensor for sensor in board.files["sensors"])
    zone_1 = entity_id(hass, "binary_sensor", f"{board.device_id}_1")
    board.set_zone("1", 1)
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_ON)

    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    subentry_id = next(iter(entry.subentries))
    boots = board.boots
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    result = await configure_zones(
        hass,
        result["flow_id"],
        {
            "1": {"type": "binary_sensor"},
            "out": {"type": "switch", "momentary_ms": 200, "pause_ms": 100, "repeat": 2},
        },
    )
    assert result["type"] is FlowResultType.ABORT, result
    # The board restarts into its new zones; a command sent meanwhile would be lost with it.
    await wait_for(lambda: board.boots > boots and board.mqtt_connected.is_set(), timeout=30)
    output = entity_id(hass, "switch", f"{board.device_id}_out")
    await wait_for(lambda: hass.states.get(output).state == STATE_OFF, timeout=20)
    await hass.services.async_call("switch", "turn_on", {"entity_id": output}, blocking=True)
    await wait_for(lambda: any(command.get("times") == 2 for command in board.commands), timeout=20)
    command = next(command for command in board.commands if command.get("times") == 2)
    assert (command["momentary"], command["pause"], "pin" in command) == (200, 100, True)
    # The pattern ends and Home Assistant shows it (reported by 2.3.4+, read back before).
    await wait_for(lambda: hass.states.get(output).state == STATE_OFF, timeout=20)

    hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    cloud = iot_emulator.cloud_account()
    assert await hass.async_add_executor_job(cloud.registry.get, board.device_id) is None
    # Back to factory settings, so it stops connecting and restarting.
    await wait_for(lambda: board.settings.get("endpoint_type") != "aws_iot", timeout=90)
    assert not board.settings.get("aws")
