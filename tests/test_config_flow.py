"""Config flows beyond the happy path: errors, reauth, reconfigure, boards by address,
zone changes, discovery updates, diagnostics and removal."""

from __future__ import annotations

from dataclasses import replace
import json
from unittest.mock import patch

from custom_components.konnected_aws import const
from custom_components.konnected_aws.adoption import async_read_board
from custom_components.konnected_aws.cloud import CloudAccount
from custom_components.konnected_aws.cloud.errors import (
    InvalidCredentialsError,
    MissingPermissionError,
)
from custom_components.konnected_aws.config_flow import KonnectedAwsConfigFlow
from custom_components.konnected_aws.const import DOMAIN
from custom_components.konnected_aws.diagnostics import (
    async_get_config_entry_diagnostics,
)
from devtools.board_simulator import SimulatedBoard, Timing
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_SSDP,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from .conftest import FAST, BoardFactory
from .test_end_to_end import (
    MAC,
    OTHER_MAC,
    adopt,
    adopted_board,
    configure_zones,
    setup_account,
    ssdp_info,
    wait_for,
)


def user_input(emulator: IotEmulator) -> dict[str, object]:
    return {
        "access_key_id": "AKIAEMULATOR",
        "secret_access_key": "emulator-secret",
        "region": emulator.region,
        "advanced": {"aws_endpoint_url": emulator.aws_endpoint_url, "iot_url": emulator.ws_url},
    }


async def test_user_step_errors(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    """Wrong keys, missing permissions and bad URLs are shown on the form; then it works."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    for error, key in ((InvalidCredentialsError("no"), "invalid_auth"), (MissingPermissionError("no"), "missing_permission")):
        with patch.object(CloudAccount, "verify", side_effect=error):
            result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(iot_emulator))
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": key}
    bad = user_input(iot_emulator)
    bad["advanced"] = {"aws_endpoint_url": "ftp://x", "iot_url": ""}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], bad)
    assert result["errors"] == {"advanced": "invalid_url"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(iot_emulator))
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # One account per Home Assistant.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_account"


async def test_discovery_without_account_leads_into_account_setup(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A board found before the account exists is shown; its card leads into connecting AWS,
    and right after that the board is offered for adoption (no waiting for the next scan)."""
    board = await make_board(MAC)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "user"
    # HA's SSDP scanner still knows the board (its own discovery is not part of this test).
    with patch("custom_components.konnected_aws._async_ssdp_discoveries", return_value=[ssdp_info(board)]):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(iot_emulator))
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        await hass.async_block_till_done(wait_background_tasks=True)
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [(flow["context"]["unique_id"], flow["step_id"]) for flow in flows] == [(board.device_id, "adopt")]
    assert flows[0]["context"]["title_placeholders"]["name"] == f"Konnected {board.device_id[-6:]}"


async def test_one_account_only_and_ignored_boards_do_not_count(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A second account is refused clearly; an ignored discovery never stops adoption."""
    board = await make_board(MAC)
    ignored = await make_board(OTHER_MAC)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(ignored))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_IGNORE}, data={"unique_id": ignored.device_id, "title": "ignored"}
    )
    await hass.async_block_till_done()
    await setup_account(hass, iot_emulator)
    await adopt(hass, board)  # would abort if the ignored entry counted as an account
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_account"


async def test_a_leftover_discovered_card_never_reprovisions_an_added_board(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Added by address with zone 3 as an output while its Discovered card waited: the card goes
    away, and confirming a stale card only says it is already set up."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    card = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert card["step_id"] == "adopt"
    result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": board.http_port}
    )
    result = await configure_zones(
        hass, result["flow_id"], {"1": {"type": "binary_sensor"}, "3": {"type": "switch", "trigger": "1"}}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    settings_before = json.dumps(board.settings, sort_keys=True)
    boots = board.boots

    # A stale card (e.g. a second browser tab) confirmed now: nothing is sent to the board.
    stale = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert stale["type"] is FlowResultType.ABORT
    assert stale["reason"] == "already_configured"
    flow = KonnectedAwsConfigFlow()
    flow.hass = hass
    flow._discovered = (await async_read_board(hass, "127.0.0.1", board.http_port), "127.0.0.1", board.http_port)  # noqa: SLF001
    result = await flow.async_step_discovery_confirm({})
    assert result["reason"] == "already_configured"
    assert json.dumps(board.settings, sort_keys=True) == settings_before
    assert board.boots == boots
    assert er.async_get(hass).async_get_entity_id("switch", DOMAIN, f"{board.device_id}_3") is not None


async def test_board_by_address_zones_and_removal(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Add a board by host, change its zones without renaming entities, then remove it."""
    board = await make_board(OTHER_MAC)
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None

    result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"host": "127.0.0.1", "port": 1})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": board.http_port}
    )
    assert result["step_id"] == "zones"
    zones: dict[str, dict[str, object]] = {
        "1": {"type": "binary_sensor", "device_class": "door", "invert": True, "name": ""},
        "out": {"type": "switch", "trigger": "1", "momentary_ms": 0, "pause_ms": 0, "repeat": 1},
    }
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    zone_1 = registry.async_get_entity_id("binary_sensor", DOMAIN, f"{board.device_id}_1")
    assert zone_1 is not None
    await wait_for(lambda: hass.states.get(zone_1).state == "on")  # inverted: closed circuit reads on
    assert hass.states.get(zone_1).attributes["device_class"] == "door"

    # Rename and re-class zone 1 (no re-provisioning), add zone 2 (re-provisioning).
    subentry_id = next(iter(entry.subentries))
    boots = board.boots
    zones["1"] = {"type": "binary_sensor", "device_class": "window", "invert": False, "name": "Kitchen"}
    zones["2"] = {"type": "binary_sensor", "device_class": "motion", "invert": False, "name": ""}
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigured_rebooting"
    await hass.async_block_till_done()
    await wait_for(lambda: board.boots > boots)
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, f"{board.device_id}_1") == zone_1
    await wait_for(lambda: hass.states.get(zone_1).state == "off")
    assert hass.states.get(zone_1).attributes["device_class"] == "window"
    assert board.level("out") == 0  # re-provisioning never fired the output

    # Diagnostics carry no secret.
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diagnostics, default=str)
    assert "emulator-secret" not in text
    assert entry.data["bridge_token"] not in text
    assert board.settings["aws"]["token"] not in text

    # Removing the board revokes it in AWS.
    hass.config_entries.async_remove_subentry(entry, subentry_id)
    await hass.async_block_till_done()
    cloud = iot_emulator.cloud_account()
    assert await hass.async_add_executor_job(cloud.registry.get, board.device_id) is None
    assert registry.async_get_entity_id("binary_sensor", DOMAIN, f"{board.device_id}_1") is None


async def test_discovery_updates_a_moved_board(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A known board answering from a new address gets it stored once the board confirms it."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    await adopt(hass, board)
    await board.stop()
    board.http_port = 0
    await board.start()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    # Stored once the board's own heartbeat through AWS IoT confirms the new address.
    await wait_for(lambda: next(iter(entry.subentries.values())).data["port"] == board.http_port, timeout=20)


async def test_reauth_and_reconfigure(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    """New keys of the same account are accepted; the account is re-checked."""
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry_id}, data=dict(entry.data)
    )
    assert result["step_id"] == "reauth_confirm"
    with patch.object(CloudAccount, "verify", side_effect=InvalidCredentialsError("no")):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"access_key_id": "AKIANEW", "secret_access_key": "wrong"}
        )
    assert result["errors"] == {"base": "invalid_auth"}
    # A run-time key (e.g. from the CloudFormation stack) is checked and stored as it is.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"key_kind": "runtime", "access_key_id": "AKIANEW", "secret_access_key": "new-secret"}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["access_key_id"] == "AKIANEW"
    assert entry.data["key_source"] == "runtime"
    await hass.async_block_till_done()

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry_id}
    )
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "access_key_id": "AKIANEWER",
            "secret_access_key": "newer",
            "advanced": {"aws_endpoint_url": iot_emulator.aws_endpoint_url, "iot_url": iot_emulator.ws_url},
        },
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    # A setup key is used once: what is stored is the run-time key setup made for Home Assistant.
    assert entry.data["access_key_id"] != "AKIANEWER"
    assert "newer" not in entry.data.values()
    assert entry.data["key_source"] == "setup"
    assert entry.data["runtime_user_arn"].endswith(":user/konnected-aws-home-assistant")
    await hass.async_block_till_done()


async def test_revoked_bridge_raises_a_repair_fixed_by_reconfigure(
    hass: HomeAssistant, iot_emulator: IotEmulator
) -> None:
    """A revoked bridge principal: setup retries with a repair issue; reconfigure fixes it."""
    entry_id = await setup_account(hass, iot_emulator)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    cloud = iot_emulator.cloud_account()
    await hass.async_add_executor_job(cloud.registry.revoke, entry.data["bridge_id"])
    with patch.object(const, "BRIDGE_CONNECT_TIMEOUT", 2.0), patch(
        "custom_components.konnected_aws.BRIDGE_CONNECT_TIMEOUT", 2.0
    ):
        await hass.config_entries.async_reload(entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"bridge_refused_{entry_id}") is not None

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry_id})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "access_key_id": "AKIAEMULATOR",
            "secret_access_key": "emulator-secret",
            "advanced": {"aws_endpoint_url": iot_emulator.aws_endpoint_url, "iot_url": iot_emulator.ws_url},
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"bridge_refused_{entry_id}") is None


async def test_setup_that_fails_in_aws_aborts_with_the_reason(hass: HomeAssistant, iot_emulator: IotEmulator) -> None:
    """A signing-key parameter that is not an RSA key is reported, never overwritten."""
    await hass.async_add_executor_job(
        lambda: iot_emulator.client("ssm").put_parameter(
            Name="/konnected-aws/authorizer/private-key", Value="not a key", Type="SecureString"
        )
    )
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(iot_emulator))
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "setup_failed_cloud"
    assert not hass.config_entries.async_entries(DOMAIN)
    stored = await hass.async_add_executor_job(
        lambda: iot_emulator.client("ssm").get_parameter(
            Name="/konnected-aws/authorizer/private-key", WithDecryption=True
        )["Parameter"]["Value"]
    )
    assert stored == "not a key"


async def test_discoveries_that_are_not_adoptable(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """No address, an address that does not answer, or a board adopted already (by host too)."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    info = ssdp_info(board)
    info.ssdp_location = "not a url"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=info)
    assert result["reason"] == "not_konnected"
    info = ssdp_info(board)
    info.ssdp_location = "http://127.0.0.1:1/Device.xml"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=info)
    assert result["reason"] == "cannot_connect"

    await adopt(hass, board)
    result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": board.http_port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@patch("custom_components.konnected_aws.board.client.SETTINGS_RETRY_FOR", 2.0)
async def test_zone_change_for_an_unreachable_board_keeps_the_old_settings(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Settings the board must receive are only stored once it accepted them."""
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    entry_id = entry.entry_id
    subentry_id = next(iter(entry.subentries))
    zones_before = dict(entry.subentries[subentry_id].data["zones"])
    await board.close()
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    zones: dict[str, dict[str, object]] = {
        zone: {"type": "binary_sensor", "device_class": "door", "invert": False, "name": ""}
        for zone in ("1", "2", "3", "4", "5", "6")
    }
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "provision_failed"}
    assert dict(entry.subentries[subentry_id].data["zones"]) == zones_before


async def test_boards_this_integration_cannot_run_are_refused(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Firmware before 2.3.2 (no custom-authorizer headers) and the Pro: refused at discovery and
    by address with a clear reason; nothing is registered or sent."""
    entry_id = await setup_account(hass, iot_emulator)
    # 2.3.1 is not simulated (its AWS mode signs with IAM keys); the oldest simulated release,
    # reporting 2.3.1, is what the integration sees of such a board.
    old = SimulatedBoard(OTHER_MAC, sw_version="2.3.2", timing=Timing(**vars(FAST)))
    old.release = replace(old.release, sw_version="2.3.1")
    await old.start()
    try:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(old))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "firmware_too_old"
        result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": old.http_port}
        )
        assert result["errors"] == {"base": "firmware_too_old"}
        assert old.settings == {} or not old.settings.get("aws")
    finally:
        await old.close()

    pro = ssdp_info(await make_board(MAC))
    pro.upnp["modelName"] = "Konnected Pro"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=pro)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"
