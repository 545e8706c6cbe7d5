"""A user of the removed `konnected` integration (storage exactly as 2026.5.4 wrote it) adopts
their boards; entity ids, names, areas, icons and disabled state carry over, and automations
written against the old entity ids keep working on the simulated boards."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from custom_components.konnected_aws.const import DOMAIN
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from tests.conftest import BoardFactory
from tests.test_end_to_end import setup_account, wait_for

from . import old_storage

PANEL_MAC = "5c:cf:7f:a1:b2:c3"
ADDON_MAC = "84:f3:eb:3c:4d:5e"


def point_entries_at(hass_storage: dict[str, Any], ports: dict[str, int]) -> None:
    """The boards moved to the simulators' addresses (the fixture holds LAN addresses)."""
    for entry in hass_storage["core.config_entries"]["data"]["entries"]:
        if entry["domain"] == "konnected" and entry["data"]["id"] in ports:
            entry["data"] = {**entry["data"], "host": "127.0.0.1", "port": ports[entry["data"]["id"]]}


# The automation and notification components started here leave a debounced save behind.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_boards_move_over_with_entity_ids_and_automations(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    panel = await make_board(PANEL_MAC)
    addon = await make_board(ADDON_MAC)
    old_storage.fill(hass_storage)
    point_entries_at(hass_storage, {panel.device_id: panel.http_port, addon.device_id: addon.http_port})
    await old_storage.async_load_into(hass)
    await async_setup_component(hass, "persistent_notification", {})
    automations = yaml.safe_load((old_storage.FIXTURE / "automations.yaml").read_text())
    assert await async_setup_component(hass, "automation", {"automation": automations})

    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_block_till_done()
    cards = {
        flow["context"]["unique_id"]: flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    }
    assert set(cards) == {panel.device_id, addon.device_id}
    assert cards[panel.device_id]["context"]["title_placeholders"]["name"] == "Konnected Alarm Panel"
    assert cards[panel.device_id]["step_id"] == "legacy_confirm"
    # The Pro gets no card, but a repair issue saying why.
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"legacy_unsupported_{old_storage_pro()}") is not None

    result = await hass.config_entries.flow.async_configure(cards[panel.device_id]["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "adopted"
    await hass.async_block_till_done()

    registry = er.async_get(hass)
    front_door = registry.async_get("binary_sensor.front_door")
    assert front_door is not None and front_door.platform == DOMAIN
    assert front_door.unique_id == f"{panel.device_id}_1"
    assert front_door.area_id == "entrance"
    motion = registry.async_get("binary_sensor.motion_hallway")
    assert motion is not None and motion.icon == "mdi:motion-sensor"
    humidity = registry.async_get("sensor.konnected_alarm_panel_attic_humidity")
    assert humidity is not None and humidity.disabled_by is er.RegistryEntryDisabler.USER
    arm_away = registry.async_get("switch.alarm_arm_away")
    assert arm_away is not None and arm_away.platform == DOMAIN and arm_away.name == "Alarm: arm away"
    # "Arm stay" was a second state of the same output: it is an action of its own.
    arm_stay = registry.async_get("switch.alarm_arm_stay")
    assert arm_stay is not None and arm_stay.platform == DOMAIN
    assert arm_stay.unique_id == f"{panel.device_id}_out_action2"
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, panel.device_id), entry_id)
    assert device is not None
    old_device = next(d for d in old_storage.registry_devices() if ["konnected", panel.device_id] in d["identifiers"])
    assert (device.area_id, device.name_by_user) == (old_device["area_id"], old_device["name_by_user"])
    # The old entry is gone once its board moved; the Add-on's stays until it is adopted.
    assert {entry.data["id"] for entry in hass.config_entries.async_entries("konnected")} == {
        addon.device_id,
        old_storage_pro(),
    }

    # The board was provisioned with the old zones: the inverted motion zone reads on when closed.
    assert panel.settings["blink"] is False
    await wait_for(lambda: hass.states.get("binary_sensor.front_door").state == STATE_OFF)
    panel.set_zone("3", 0)
    await wait_for(lambda: hass.states.get("binary_sensor.motion_hallway").state == STATE_ON)
    await wait_for(lambda: bool(hass.states.async_all("persistent_notification")) or _notified(hass))

    # "Arm away when the front door closes" pulses the alarm output through AWS IoT.
    panel.set_zone("1", 1)
    await wait_for(lambda: hass.states.get("binary_sensor.front_door").state == STATE_ON)
    panel.set_zone("1", 0)
    await wait_for(lambda: any(command.get("momentary") == 1000 for command in panel.commands), timeout=15)

    # And the other action sends its own 3 s pulse on the same output.
    await wait_for(lambda: hass.states.get("switch.alarm_arm_stay") is not None)
    await hass.services.async_call("switch", "turn_on", {"entity_id": "switch.alarm_arm_stay"}, blocking=True)
    await wait_for(lambda: any(command.get("momentary") == 3000 for command in panel.commands), timeout=15)


def old_storage_pro() -> str:
    return next(e.data["id"] for e in old_storage.old_entries() if e.data.get("model") == "Konnected Pro")


def _notified(hass: HomeAssistant) -> bool:
    from homeassistant.components import persistent_notification  # noqa: PLC0415

    return any(
        notification["title"] == "Motion"
        for notification in persistent_notification._async_get_or_create_notifications(hass).values()  # noqa: SLF001
    )
