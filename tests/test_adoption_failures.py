"""Adoption failures against the real pieces: each leaves nothing registered, provisioned or
created, shows its translated error, and a second click adopts once the cause is gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import aiohttp
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.konnected_aws.cloud.errors import CloudError
from custom_components.konnected_aws.const import DOMAIN
from devtools.board_simulator import SimulatedBoard
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_SSDP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .conftest import BoardFactory
from .test_end_to_end import MAC, configure_zones, setup_account, ssdp_info, wait_for


async def confirm(hass: HomeAssistant, board: SimulatedBoard) -> tuple[str, dict[str, object]]:
    """Open the discovered board's card and click Adopt once; returns the flow id and result."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["step_id"] == "adopt"
    flow_id = result["flow_id"]
    return flow_id, dict(await hass.config_entries.flow.async_configure(flow_id, {}))


async def assert_nothing_left(hass: HomeAssistant, emulator: IotEmulator, entry_id: str, board: SimulatedBoard) -> None:
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries
    assert not dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, board.device_id)})
    assert await hass.async_add_executor_job(emulator.cloud_account().registry.get, board.device_id) is None


async def adopt_on_second_click(hass: HomeAssistant, flow_id: str) -> None:
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "adopted", result
    await hass.async_block_till_done()


@patch("custom_components.konnected_aws.board.client.SETTINGS_RETRY_FOR", 2.0)
async def test_board_unreachable_when_provisioning(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Unplugged between discovery and the click: registered, then rolled back."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    await board.close()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "provision_failed"}
    await assert_nothing_left(hass, iot_emulator, entry_id, board)

    await board.start()
    await adopt_on_second_click(hass, result["flow_id"])
    assert board.mqtt_connected.is_set()


async def test_board_that_never_comes_online_is_revoked(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Provisioned but silent past the deadline: removed from AWS, so its token no longer works."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    board.timing.boot_time = 1.5
    with patch("custom_components.konnected_aws.adoption.BOARD_ONLINE_TIMEOUT", 0.3):
        flow_id, result = await confirm(hass, board)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "board_not_online"}
    await assert_nothing_left(hass, iot_emulator, entry_id, board)
    assert board.settings["endpoint_type"] == "aws_iot"  # it did get its settings

    # When it finally boots, the authorizer refuses the revoked token.
    await asyncio.sleep(2.0)
    assert not board.mqtt_connected.is_set()

    board.timing.boot_time = 0.1
    await adopt_on_second_click(hass, flow_id)
    assert board.mqtt_connected.is_set()


async def test_aws_failure_when_registering(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """The device table is gone (deleted by hand): nothing is sent to the board, nothing is added.

    No second click here: the table held Home Assistant's own principal too, so the repair is
    Reconfigure (tested in test_config_flow), not a retry.
    """
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    settings_before = dict(board.settings)
    await hass.async_add_executor_job(
        lambda: iot_emulator.client("dynamodb").delete_table(TableName="konnected-aws-devices")
    )
    _flow_id, result = await confirm(hass, board)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cloud_error"}
    assert board.settings == settings_before
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries
    assert not dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, board.device_id)})


async def test_a_failed_rollback_is_remembered_and_retried(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    """AWS refuses the rollback's delete: the board is kept on disk and removed by a later retry,
    so it never stays active in AWS with no device in Home Assistant to remove it."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    registry = entry.runtime_data.cloud.registry
    board.timing.boot_time = 1.5
    with (
        patch("custom_components.konnected_aws.adoption.BOARD_ONLINE_TIMEOUT", 0.3),
        patch.object(type(registry), "delete", side_effect=CloudError("AWS is unreachable")),
    ):
        _flow_id, result = await confirm(hass, board)
        assert result["errors"] == {"base": "board_not_online"}
        await hass.async_block_till_done()
        assert await entry.runtime_data.orphans.async_ids() == [board.device_id]
        assert hass_storage[f"{DOMAIN}.{entry_id}.orphans"]["data"] == [board.device_id]
        # A retry while AWS still refuses the delete at least revokes the token.
        await entry.runtime_data.orphans.async_retry(entry.runtime_data.cloud)
    record = await hass.async_add_executor_job(registry.get, board.device_id)
    assert record is not None and record.status == "revoked"

    # The periodic retry, once AWS answers again, removes it for good.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=16))
    await hass.async_block_till_done()
    await assert_nothing_left(hass, iot_emulator, entry_id, board)
    assert await entry.runtime_data.orphans.async_ids() == []


async def test_a_locked_board_says_so_and_nothing_stays_in_aws(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Settings locked in the Konnected app: the 409 is shown as such, the registration undone."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    async with aiohttp.ClientSession() as session, session.put(
        f"http://127.0.0.1:{board.http_port}/lock", json={"pwd": "secret"}
    ) as response:
        assert response.status == 200
    _flow_id, result = await confirm(hass, board)
    assert result["errors"] == {"base": "board_locked"}
    await assert_nothing_left(hass, iot_emulator, entry_id, board)


async def test_reconfiguring_a_board_removed_from_aws_says_so(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Its device-table item deleted by hand: no token to send, a clear error, nothing stored."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    await adopt_on_second_click(hass, (await confirm_form(hass, board)))
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    await hass.async_add_executor_job(iot_emulator.cloud_account().registry.delete, board.device_id)
    subentry_id = next(iter(entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "board"), context={"source": "reconfigure", "subentry_id": subentry_id}
    )
    result = await configure_zones(hass, result["flow_id"], {"1": {"type": "switch"}})
    assert result["errors"] == {"base": "board_not_registered"}


async def test_a_board_set_up_before_keeps_its_wiring_as_default(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A board the old integration set up (REST mode) is adopted with the zones it already has."""
    board = await make_board(MAC)
    async with aiohttp.ClientSession() as session, session.put(
        f"http://127.0.0.1:{board.http_port}/settings",
        json={
            "endpoint_type": "rest",
            "endpoint": "http://192.0.2.1:8123/api/konnected",
            "sensors": [{"pin": 1}],
            "actuators": [{"pin": 8, "trigger": 0}],
            "dht_sensors": [{"pin": 6, "poll_interval": 3}],
            "ds18b20_sensors": [{"pin": 7, "poll_interval": 3}],
        },
    ) as response:
        assert response.status == 200
    await wait_for(lambda: board.boots >= 2, timeout=10)
    await setup_account(hass, iot_emulator)
    await adopt_on_second_click(hass, (await confirm_form(hass, board)))
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    zones = next(iter(entry.subentries.values())).data["zones"]
    assert {zone: config["type"] for zone, config in zones.items()} == {
        "1": "binary_sensor",
        "out": "switch",
        "4": "dht",
        "5": "ds18b20",
    }


async def confirm_form(hass: HomeAssistant, board: SimulatedBoard) -> str:
    """Open the discovered board's card; returns the flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["step_id"] == "adopt"
    return str(result["flow_id"])
