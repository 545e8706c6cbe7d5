"""Konnected (AWS IoT): legacy Konnected boards through your own AWS IoT Core account."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from homeassistant.config_entries import SOURCE_SSDP
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.util.ssl import get_default_context

from .addresses import AddressGuard
from .adoption import board_client
from .board import BoardError
from .boards import async_reset_board, async_sync_boards
from .cloud import CloudAccount
from .cloud.errors import CloudError, InvalidCredentialsError
from .cloud.signing import sign_token
from .config_flow import cloud_account_for
from .const import (
    BRIDGE_CONNECT_TIMEOUT,
    CONF_AUTHORIZER_NAME,
    CONF_BRIDGE_ID,
    CONF_BRIDGE_TOKEN,
    CONF_IOT_ENDPOINT,
    CONF_IOT_URL,
    DOMAIN,
    LOGGER,
    SSDP_SEARCH_TARGET,
)
from .hub import BoardState, KonnectedHub
from .iot.connection import (
    BridgeConnection,
    BridgeCredentials,
    bridge_client_id,
    iot_url,
)
from .legacy import async_offer_legacy_boards
from .orphans import OrphanRegistrations
from .repairs import async_check_stored_keys
from .runtime import BoardInfo, KonnectedConfigEntry, KonnectedRuntime, adopted_boards
from .zones import ZoneType

PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR, Platform.SWITCH]


async def async_setup_entry(hass: HomeAssistant, entry: KonnectedConfigEntry) -> bool:
    """Connect the bridge to AWS IoT and set up every adopted board."""
    cloud = cloud_account_for(entry.data)
    try:
        private_key_pem = await hass.async_add_executor_job(cloud.load_private_key)
    except InvalidCredentialsError as err:
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth") from err
    except CloudError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="cloud_unavailable", translation_placeholders={"error": str(err)}
        ) from err

    boards = {info.board_id: info for info in adopted_boards(entry)}
    url = entry.data.get(CONF_IOT_URL) or iot_url(entry.data[CONF_IOT_ENDPOINT])

    async def read_levels(board_id: str) -> dict[str, int] | None:
        info = boards.get(board_id)
        if info is None:
            return None
        try:
            outputs = [zone for zone, config in info.zones.items() if config.type is ZoneType.SWITCH]
            return await board_client(hass, info.host, info.port).get_levels(outputs)
        except BoardError as err:
            LOGGER.debug("Reading board %s locally failed: %s", board_id, err)
            return None

    hub = KonnectedHub(hass, entry.entry_id, read_levels, _remembered_boards(hass, entry.entry_id))
    connection = BridgeConnection(
        BridgeCredentials(
            url=url,
            authorizer_name=entry.data[CONF_AUTHORIZER_NAME],
            token=entry.data[CONF_BRIDGE_TOKEN],
            signature=sign_token(private_key_pem, entry.data[CONF_BRIDGE_TOKEN]),
            # A random suffix per run: two installations restored from one backup must not
            # share a client id (the authorizer allows konnected-bridge-<id>-*).
            client_id=bridge_client_id(entry.data[CONF_BRIDGE_ID]),
        ),
        hub.async_handle_report,
        hub.async_connection_changed,
        ssl_context=get_default_context() if url.startswith("wss://") else None,
    )
    for board_id in boards:
        hub.track_board(board_id)
    hub.attach(connection)
    connection.start()
    if not await connection.wait_connected(BRIDGE_CONNECT_TIMEOUT):
        error = connection.last_error or "timeout"
        await hub.async_shutdown()
        if await _async_bridge_refused(hass, cloud, entry):
            ir.async_create_issue(
                hass,
                DOMAIN,
                f"bridge_refused_{entry.entry_id}",
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="bridge_refused",
                translation_placeholders={"entry": entry.title},
            )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="bridge_unreachable",
            translation_placeholders={"error": error},
        )

    ir.async_delete_issue(hass, DOMAIN, f"bridge_refused_{entry.entry_id}")
    entry.runtime_data = KonnectedRuntime(
        cloud=cloud,
        hub=hub,
        orphans=(orphans := OrphanRegistrations(hass, entry.entry_id)),
        # It reads the stored addresses from runtime_data only when a board reports.
        addresses=(addresses := AddressGuard(hass, entry)),
        private_key_pem=private_key_pem,
        iot_url=url,
        authorizer_name=entry.data[CONF_AUTHORIZER_NAME],
        boards=boards,
        entry_data=dict(entry.data),
    )
    hub.on_heartbeat = addresses.async_heartbeat
    entry.async_on_unload(orphans.async_start(cloud))
    _async_remove_stale_devices(hass, entry, boards)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await _async_offer_discovered_boards(hass, boards)
    async_offer_legacy_boards(hass, entry)
    async_check_stored_keys(hass, entry)
    return True


async def _async_ssdp_discoveries(hass: HomeAssistant) -> list[SsdpServiceInfo]:
    """Return what HA's SSDP scanner currently knows of Konnected boards."""
    if "ssdp" not in hass.config.components:
        return []
    from homeassistant.components import ssdp  # noqa: PLC0415 - only when HA loaded it

    return await ssdp.async_get_discovery_info_by_st(hass, SSDP_SEARCH_TARGET)


async def _async_offer_discovered_boards(hass: HomeAssistant, boards: dict[str, BoardInfo]) -> None:
    """Boards HA's SSDP scanner saw before the account existed are offered again now.

    Started directly rather than through discovery_flow: the account may have been created from
    a board's own card, whose flow (with the same discovery data) is still finishing and would
    make HA skip the board until its next scan. A board already on a card is refused by its
    unique id, so nothing is offered twice.
    """
    # Cards shown while there was no account only offered to connect one: replace them.
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        if flow["step_id"] == "discovery_confirm":
            hass.config_entries.flow.async_abort(flow["flow_id"])
    adopted_hosts = {(info.host, info.port) for info in boards.values()}
    for info in await _async_ssdp_discoveries(hass):
        location = urlsplit(info.ssdp_location or "")
        if (location.hostname, location.port or 80) not in adopted_hosts:
            hass.async_create_task(
                hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=info),
                f"{DOMAIN} offer discovered board",
            )


async def _async_bridge_refused(hass: HomeAssistant, cloud: CloudAccount, entry: KonnectedConfigEntry) -> bool:
    """Tell whether AWS no longer knows Home Assistant's bridge principal (revoked or deleted)."""
    try:
        record = await hass.async_add_executor_job(cloud.registry.get, entry.data[CONF_BRIDGE_ID])
    except CloudError:
        return False
    return record is None or record.status != "active" or record.token != entry.data[CONF_BRIDGE_TOKEN]


async def async_unload_entry(hass: HomeAssistant, entry: KonnectedConfigEntry) -> bool:
    """Drop the connection and the entities."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.hub.async_shutdown()
    return unloaded


def _remembered_boards(hass: HomeAssistant, entry_id: str) -> dict[str, BoardState]:
    """Board states (last heard, levels) kept across reloads of the entry, in memory only."""
    remembered: dict[str, dict[str, BoardState]] = hass.data.setdefault(DOMAIN, {})
    return remembered.setdefault(entry_id, {})


async def _async_entry_updated(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
    """Reload once for new keys or endpoints; apply board changes in place."""
    if dict(entry.data) != entry.runtime_data.entry_data:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    await async_sync_boards(hass, entry)


async def async_remove_entry(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
    """Revoke the bridge and every board it adopted when the account is removed."""
    hass.data.get(DOMAIN, {}).pop(entry.entry_id, None)
    orphans = OrphanRegistrations(hass, entry.entry_id)
    left_over = await orphans.async_ids()
    await orphans.async_remove_store()
    cloud = cloud_account_for(entry.data)
    boards = adopted_boards(entry)
    for device_id in [entry.data[CONF_BRIDGE_ID], *(info.board_id for info in boards), *left_over]:
        try:
            await hass.async_add_executor_job(cloud.registry.delete, device_id)
        except CloudError as err:
            LOGGER.warning("Could not remove %s from AWS: %s", device_id, err)
    await asyncio.gather(*(async_reset_board(hass, info) for info in boards))


def _async_remove_stale_devices(
    hass: HomeAssistant, entry: KonnectedConfigEntry, boards: dict[str, BoardInfo]
) -> None:
    """Devices of boards that are no longer adopted go away."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not any(domain == DOMAIN and key in boards for domain, key in device.identifiers):
            registry.async_update_device(device.id, remove_config_entry_id=entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: KonnectedConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow deleting a board's device only by removing its board (which revokes it in AWS)."""
    return not any(
        domain == DOMAIN and key in entry.runtime_data.boards for domain, key in device.identifiers
    )
