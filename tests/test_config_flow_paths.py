"""Config flow paths the happy-path tests leave out: what the user sees when AWS, the board or the
account is not as expected, for the account, board-by-address, zone, legacy-card and repair flows."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any
from unittest.mock import patch

import pytest

from custom_components.konnected_aws import config_flow
from custom_components.konnected_aws.cloud import CloudAccount
from custom_components.konnected_aws.cloud.errors import (
    CloudError,
    InvalidCredentialsError,
    MissingPermissionError,
)
from custom_components.konnected_aws.const import DOMAIN
from custom_components.konnected_aws.legacy import LEGACY_ENTRY_ID
from custom_components.konnected_aws.repairs import async_create_fix_flow
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_SSDP,
    SOURCE_USER,
    ConfigEntryDisabler,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow
from homeassistant.helpers import issue_registry as ir

from .conftest import BoardFactory
from .migration import old_storage
from .migration.test_move import PANEL_MAC, point_entries_at
from .test_config_flow import user_input
from .test_end_to_end import (
    MAC,
    OTHER_MAC,
    adopt,
    adopted_board,
    configure_zones,
    setup_account,
    ssdp_info,
)

SIX_CONTACTS: dict[str, dict[str, object]] = {
    zone: {"type": "binary_sensor", "device_class": "opening", "invert": False, "name": ""}
    for zone in ("1", "2", "3", "4", "5", "6")
}


# --- the AWS account -------------------------------------------------------------------


async def test_reconfigure_refuses_a_bad_iot_url_and_unreachable_aws(
    hass: HomeAssistant, iot_emulator: IotEmulator
) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    before = dict(entry.data)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry_id})
    form = {key: value for key, value in user_input(iot_emulator).items() if key != "region"}
    # An IoT URL must be ws:// or wss://; checked before AWS is asked anything.
    bad = {**form, "advanced": {"aws_endpoint_url": iot_emulator.aws_endpoint_url, "iot_url": "http://example.com"}}
    with patch.object(CloudAccount, "verify") as verify:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], bad)
    verify.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"advanced": "invalid_url"}
    with patch.object(CloudAccount, "verify", side_effect=CloudError("endpoint unreachable")):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {"base": "cannot_connect"}
    assert dict(entry.data) == before


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (MissingPermissionError("iam:CreateRole denied"), "setup_failed_permission"),
        (CloudError("throttled"), "setup_failed_cloud"),
    ],
)
async def test_account_setup_failure_says_why(
    hass: HomeAssistant, iot_emulator: IotEmulator, error: CloudError, reason: str
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    with patch.object(CloudAccount, "ensure", side_effect=error):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(iot_emulator))
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await hass.async_block_till_done(wait_background_tasks=True)
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_run_time_keys_that_cannot_reach_iot_are_refused_at_reauth(
    hass: HomeAssistant, iot_emulator: IotEmulator
) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    before = dict(entry.data)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry_id}, data=dict(entry.data)
    )
    with patch.object(CloudAccount, "iot_endpoint", side_effect=CloudError("iot:DescribeEndpoint failed")):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"key_kind": "runtime", "access_key_id": "AKIARUNTIME", "secret_access_key": "runtime-secret"},
        )
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await hass.async_block_till_done(wait_background_tasks=True)
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "setup_failed_cloud"
    assert dict(entry.data) == before


# --- boards while the account is not loaded ----------------------------------------------


# An unloaded account may be reloading: cards wait for it (bounded; shortened here).
@patch("custom_components.konnected_aws.config_flow.ACCOUNT_RELOAD_TIMEOUT", 0.5)
async def test_board_flows_abort_while_the_account_is_unloaded(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    subentry_id = next(iter(entry.subentries))
    new_board = await make_board(OTHER_MAC)
    # A zone change started while loaded, submitted after the account went away.
    changing = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    assert changing["step_id"] == "zones"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    result = await configure_zones(hass, changing["flow_id"], SIX_CONTACTS)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"
    result = await hass.config_entries.subentries.async_init((entry.entry_id, "board"), context={"source": SOURCE_USER})
    assert result["reason"] == "account_not_loaded"
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    assert result["reason"] == "account_not_loaded"
    # A new board is offered but cannot be adopted into an account that is not running.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(new_board))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"
    # The adopted board answering again is known; nothing is asked.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["reason"] == "already_configured"
    assert len(entry.subentries) == 1


async def test_a_disabled_account_adopts_nothing(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    board = await make_board(MAC)
    assert await hass.config_entries.async_set_disabled_by(entry_id, ConfigEntryDisabler.USER)
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"


@pytest.mark.parametrize("state", [ConfigEntryState.SETUP_IN_PROGRESS, ConfigEntryState.SETUP_RETRY])
async def test_discovery_waits_for_a_reloading_account_only_so_long(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, state: ConfigEntryState
) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    board = await make_board(MAC)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    # An account stuck in setup (e.g. AWS slow to answer) is waited for, then the card gives up.
    # A retrying setup is not waited for at all.
    entry._async_set_state(hass, state, None)  # noqa: SLF001 - no public way to hold an entry mid-setup
    try:
        with patch("custom_components.konnected_aws.config_flow.ACCOUNT_RELOAD_TIMEOUT", 0.5):
            result = await hass.config_entries.flow.async_init(
                DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board)
            )
    finally:
        entry._async_set_state(hass, entry.state.LOADED, None)  # noqa: SLF001
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"


async def test_a_discovered_board_that_goes_away_before_the_click(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    board = await make_board(MAC)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["step_id"] == "adopt"
    await board.close()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "adopt"
    assert result["errors"]["base"] in {"cannot_connect", "provision_failed"}
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries


# --- boards by address and their zones ----------------------------------------------------


async def test_board_by_address_without_a_port_that_answers(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    entry_id = await setup_account(hass, iot_emulator)
    result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
    with patch("custom_components.konnected_aws.config_flow.find_board_port", return_value=None) as find:
        result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"host": " 127.0.0.1 "})
    find.assert_awaited_once_with("127.0.0.1")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "port_not_found"}
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries


async def test_zone_settings_refuse_pulse_patterns_the_firmware_cannot_run(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    subentry_id = next(iter(entry.subentries))
    stored = dict(entry.subentries[subentry_id].data["zones"])
    boots = board.boots
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    result = await configure_zones(
        hass, result["flow_id"], {**SIX_CONTACTS, "out": {"type": "switch", "trigger": "1", "pause_ms": 500}}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zone_settings"
    assert "pause_without_momentary" in str(result["errors"])
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {**{f"zone_{zone}": {"device_class": "opening", "invert": False, "name": ""} for zone in SIX_CONTACTS},
         "zone_out": {"trigger": "1", "momentary_ms": 500, "repeat": 3}},
    )
    assert result["type"] is FlowResultType.FORM
    assert "repeat_without_pause" in str(result["errors"])
    assert dict(entry.subentries[subentry_id].data["zones"]) == stored
    assert board.boots == boots


async def test_a_change_the_board_need_not_learn_is_stored_without_a_reboot(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    subentry_id = next(iter(entry.subentries))
    boots = board.boots
    zones: dict[str, dict[str, object]] = {**SIX_CONTACTS, "out": {"type": "switch", "trigger": "1"}}
    zones["1"] = {"type": "binary_sensor", "device_class": "window", "invert": False, "name": "Kitchen"}
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    stored = entry.subentries[subentry_id].data["zones"]
    assert stored["1"]["device_class"] == "window"
    assert stored["1"]["name"] == "Kitchen"
    assert board.boots == boots


# --- cards for boards of the removed `konnected` integration -----------------------------


def _panel_entry_id() -> str:
    device_id = PANEL_MAC.replace(":", "")
    return next(entry.entry_id for entry in old_storage.old_entries() if entry.data["id"] == device_id)


async def _load_old_storage(hass: HomeAssistant, hass_storage: dict[str, Any], panel_port: int) -> None:
    old_storage.fill(hass_storage)
    point_entries_at(hass_storage, {PANEL_MAC.replace(":", ""): panel_port})
    await old_storage.async_load_into(hass)


def _card(hass: HomeAssistant, board_id: str) -> str:
    (flow_id,) = [
        flow["flow_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY and flow["context"]["unique_id"] == board_id
    ]
    return flow_id


async def test_legacy_card_before_the_account_leads_into_account_setup(
    hass: HomeAssistant, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    panel = await make_board(PANEL_MAC)
    await _load_old_storage(hass, hass_storage, panel.http_port)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data={LEGACY_ENTRY_ID: _panel_entry_id()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "legacy_account"
    assert result["description_placeholders"] == {"name": "Konnected Alarm Panel", "host": "127.0.0.1"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"


async def test_legacy_card_for_an_entry_the_old_integration_never_had(
    hass: HomeAssistant, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    panel = await make_board(PANEL_MAC)
    await _load_old_storage(hass, hass_storage, panel.http_port)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data={LEGACY_ENTRY_ID: "no-such-entry"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


async def test_legacy_card_refuses_another_board_at_the_old_address(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    impostor = await make_board(OTHER_MAC)  # the panel's old address now answers with another MAC
    await _load_old_storage(hass, hass_storage, impostor.http_port)
    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_block_till_done()
    flow_id = _card(hass, PANEL_MAC.replace(":", ""))
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "legacy_confirm"
    assert result["errors"] == {"base": "wrong_board"}
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries
    assert impostor.settings == {} or not impostor.settings.get("aws")


async def test_legacy_card_of_a_board_that_does_not_answer(
    hass: HomeAssistant, iot_emulator: IotEmulator, hass_storage: dict[str, Any]
) -> None:
    await _load_old_storage(hass, hass_storage, 1)
    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_configure(_card(hass, PANEL_MAC.replace(":", "")), {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and not entry.subentries


@patch("custom_components.konnected_aws.config_flow.ACCOUNT_RELOAD_TIMEOUT", 0.5)
# Removing the old entry leaves the registries' debounced save behind.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_legacy_card_when_the_account_or_the_old_entry_went_away(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    panel = await make_board(PANEL_MAC)
    await _load_old_storage(hass, hass_storage, panel.http_port)
    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_block_till_done()
    flow_id = _card(hass, panel.device_id)
    assert await hass.config_entries.async_unload(entry_id)
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_not_loaded"

    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    flow_id = _card(hass, panel.device_id)
    await hass.config_entries.async_remove(_panel_entry_id())
    result = await hass.config_entries.flow.async_configure(flow_id, {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_legacy_card_for_a_board_adopted_by_address(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, hass_storage: dict[str, Any]
) -> None:
    panel = await make_board(PANEL_MAC)
    await _load_old_storage(hass, hass_storage, panel.http_port)
    entry_id = await setup_account(hass, iot_emulator)
    await hass.async_block_till_done()
    hass.config_entries.flow.async_abort(_card(hass, panel.device_id))
    await adopt(hass, panel)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data={LEGACY_ENTRY_ID: _panel_entry_id()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and len(entry.subentries) == 1


# --- the repair that replaces stored setup keys -------------------------------------------


async def _stored_keys_repair(hass: HomeAssistant, emulator: IotEmulator) -> tuple[Any, dict[str, Any], Any]:
    entry_id = await setup_account(hass, emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    old = {key: value for key, value in entry.data.items() if key not in ("key_source", "runtime_user_arn")}
    hass.config_entries.async_update_entry(entry, data={**old, "access_key_id": "AKIAOLDADMIN", "secret_access_key": "old"})
    await hass.async_block_till_done()
    issue_id = f"setup_keys_stored_{entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    flow = await async_create_fix_flow(hass, issue_id, issue.data)
    flow.hass = hass
    return flow, dict(entry.data), entry


@pytest.mark.parametrize(
    ("verify", "key"),
    [
        ({"side_effect": InvalidCredentialsError("refused")}, "invalid_auth"),
        ({"side_effect": MissingPermissionError("sts denied")}, "missing_permission"),
        ({"side_effect": CloudError("no route")}, "cannot_connect"),
        ({"return_value": "999999999999"}, "wrong_account"),
    ],
)
async def test_repair_refuses_keys_that_cannot_replace_the_stored_ones(
    hass: HomeAssistant, iot_emulator: IotEmulator, verify: dict[str, Any], key: str
) -> None:
    flow, before, entry = await _stored_keys_repair(hass, iot_emulator)
    with (
        patch.object(CloudAccount, "verify", **verify),
        patch.object(CloudAccount, "ensure") as ensure,
    ):
        result = await flow.async_step_confirm({"access_key_id": "AKIASETUP", "secret_access_key": "setup-secret"})
    ensure.assert_not_called()
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["errors"] == {"base": key}
    assert dict(entry.data) == before
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"setup_keys_stored_{entry.entry_id}") is not None


async def test_repair_refuses_keys_lacking_setup_permissions(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    flow, before, entry = await _stored_keys_repair(hass, iot_emulator)
    with patch.object(CloudAccount, "ensure", side_effect=MissingPermissionError("iam:CreateUser denied")):
        result = await flow.async_step_confirm({"access_key_id": "AKIASETUP", "secret_access_key": "setup-secret"})
    assert result["errors"] == {"base": "missing_permission"}
    assert dict(entry.data) == before


async def test_repair_of_an_entry_that_is_gone(hass: HomeAssistant) -> None:
    with pytest.raises(UnknownFlow):
        await async_create_fix_flow(hass, "setup_keys_stored_x", {"entry_id": "gone"})


async def test_a_board_added_by_address_during_its_discovery_adoption_is_not_added_twice(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Two tabs: the card's adoption finishes after the same board was added by address."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    card = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    original = config_flow.async_adopt_board

    async def adopt_while_added_elsewhere(*args: Any, **kwargs: Any) -> dict[str, Any]:
        data = await original(*args, **kwargs)
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(data), subentry_type="board", title="by address", unique_id=board.device_id
            ),
        )
        return data

    with patch.object(config_flow, "async_adopt_board", adopt_while_added_elsewhere):
        result = await hass.config_entries.flow.async_configure(card["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert [sub.title for sub in entry.subentries.values()] == ["by address"]
