"""Setting the account entry up and removing it, against the emulated AWS and a simulated board."""

from __future__ import annotations

import json

from custom_components.konnected_aws import async_remove_config_entry_device
from custom_components.konnected_aws.const import DOMAIN
from custom_components.konnected_aws.diagnostics import async_get_device_diagnostics
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .conftest import BoardFactory
from .test_end_to_end import adopted_board, setup_account


async def test_missing_authorizer_key_retries_setup(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    """Without the signing key in SSM the bridge cannot sign its token: not ready, retried later."""
    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_add_executor_job(
        lambda: iot_emulator.client("ssm").delete_parameter(Name="/konnected-aws/authorizer/private-key")
    )
    assert await hass.config_entries.async_reload(entry_id) is False
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "authorizer key is missing" in (entry.reason or "")
    await hass.config_entries.async_unload(entry_id)


async def test_board_device_diagnostics_and_removal(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A board's device: diagnostics without secrets; deleted only by removing the board."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    device = dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, board.device_id)})[0]
    assert device.model and device.sw_version == board.sw_version

    diagnostics = await async_get_device_diagnostics(hass, entry, device)
    text = json.dumps(diagnostics, default=str)
    assert board.device_id[-6:] in text
    assert board.settings["aws"]["token"] not in text
    assert board.settings["aws"]["token_signature"] not in text

    assert not await async_remove_config_entry_device(hass, entry, device)
    stale = dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "5ccf7f000001")})
    assert await async_remove_config_entry_device(hass, entry, stale)


async def test_removing_the_account_revokes_everything(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Deleting the entry deletes the bridge principal and every board from the device table."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    registry = iot_emulator.cloud_account().registry
    bridge_id = entry.data["bridge_id"]
    assert await hass.async_add_executor_job(registry.get, board.device_id) is not None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.async_add_executor_job(registry.get, board.device_id) is None
    assert await hass.async_add_executor_job(registry.get, bridge_id) is None
    assert not dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, board.device_id)})
