"""An entry from before the setup/run-time split is moved over by a repair asking once for setup keys."""

from __future__ import annotations

from custom_components.konnected_aws.const import DOMAIN
from custom_components.konnected_aws.repairs import async_create_fix_flow
from devtools.iot_emulator import IotEmulator
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir

from .test_end_to_end import setup_account


async def test_stored_setup_keys_are_replaced_by_a_run_time_key(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    issue_id = f"setup_keys_stored_{entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

    # As 0.1.0 stored it: the keys the user entered, no marker of a run-time key.
    old = {key: value for key, value in entry.data.items() if key not in ("key_source", "runtime_user_arn")}
    hass.config_entries.async_update_entry(entry, data={**old, "access_key_id": "AKIAOLDADMIN", "secret_access_key": "old"})
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.is_fixable

    flow = await async_create_fix_flow(hass, issue_id, issue.data)
    flow.hass = hass
    result = await flow.async_step_init()
    assert result["type"] is FlowResultType.FORM
    result = await flow.async_step_confirm({"access_key_id": "AKIASETUP", "secret_access_key": "setup-secret"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.data["key_source"] == "setup"
    assert entry.data["access_key_id"] not in ("AKIAOLDADMIN", "AKIASETUP")
    assert "setup-secret" not in entry.data.values()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
