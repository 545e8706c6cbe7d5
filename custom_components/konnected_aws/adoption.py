"""Adopting a board: register it in AWS, provision it locally, wait for it in AWS IoT.

Shared by the discovery flow, the manual "add board" flow and zone reconfiguration.
Every failure rolls back what was done in AWS, so no half-registered board remains.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import instance_id
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .board import (
    BoardClient,
    BoardError,
    BoardLockedError,
    BoardSettingsNotStoredError,
    BoardStatus,
)
from .cloud.errors import CloudError
from .cloud.signing import sign_token
from .const import (
    BOARD_ONLINE_TIMEOUT,
    CONF_BLINK,
    CONF_BOARD_ID,
    CONF_HOST,
    CONF_HW_VERSION,
    CONF_MODEL,
    CONF_PORT,
    CONF_SW_VERSION,
    CONF_ZONES,
    LOGGER,
)
from .iot.messages import board_topics
from .orphans import async_remove_from_aws
from .runtime import KonnectedConfigEntry
from .zones import ZoneConfig, firmware_zone_settings


class AdoptionError(Exception):
    """Adoption failed; `reason` is a translation key of the config flow's errors."""

    def __init__(self, reason: str) -> None:
        """Keep the translation key."""
        super().__init__(reason)
        self.reason = reason


def board_client(hass: HomeAssistant, host: str, port: int) -> BoardClient:
    """Return a client for a board on the local network, on Home Assistant's shared session."""
    return BoardClient(host, port, async_get_clientsession(hass))


def check_supported(status: BoardStatus) -> None:
    """Refuse boards this integration cannot run (firmware before 2.3.2, unknown, the Pro)."""
    if status.support_problem is not None:
        raise AdoptionError(status.support_problem)


async def async_read_board(hass: HomeAssistant, host: str, port: int) -> BoardStatus:
    """Ask a board who it is; raises AdoptionError("cannot_connect") when it does not answer."""
    try:
        return await board_client(hass, host, port).get_status()
    except BoardError as err:
        LOGGER.debug("Board at %s:%s did not answer: %s", host, port, err)
        raise AdoptionError("cannot_connect") from err


def subentry_data(
    status: BoardStatus, host: str, port: int, zones: dict[str, ZoneConfig], *, blink: bool
) -> dict[str, Any]:
    """Return what a board's subentry stores (no secrets: the token lives in AWS only)."""
    return {
        CONF_BLINK: blink,
        CONF_BOARD_ID: status.board_id,
        CONF_HOST: host,
        CONF_PORT: port,
        CONF_MODEL: status.model,
        CONF_SW_VERSION: status.sw_version,
        CONF_HW_VERSION: status.hw_version,
        CONF_ZONES: {zone: config.as_dict() for zone, config in zones.items()},
    }


async def _async_provision(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    host: str,
    port: int,
    board_id: str,
    token: str,
    zones: dict[str, ZoneConfig],
    *,
    blink: bool,
) -> None:
    """Send endpoint, token, fresh signature and zones; the board reboots and connects."""
    runtime = entry.runtime_data
    signature = sign_token(runtime.private_key_pem, token)
    settings = firmware_zone_settings(zones)
    try:
        await board_client(hass, host, port).provision(
            endpoint=runtime.iot_url,
            authorizer=runtime.authorizer_name,
            token=token,
            token_signature=signature,
            topics=board_topics(board_id).as_firmware_settings(),
            blink=blink,
            **settings,
        )
    except BoardLockedError as err:
        raise AdoptionError("board_locked") from err
    except BoardSettingsNotStoredError as err:
        LOGGER.debug("Board %s did not keep its settings: %s", board_id, err)
        raise AdoptionError("settings_not_stored") from err
    except BoardError as err:
        LOGGER.debug("Provisioning board %s failed: %s", board_id, err)
        raise AdoptionError("provision_failed") from err


async def async_adopt_board(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    status: BoardStatus,
    host: str,
    port: int,
    zones: dict[str, ZoneConfig],
    *,
    blink: bool,
) -> dict[str, Any]:
    """Register, provision and wait for the board; returns the subentry data."""
    check_supported(status)
    runtime = entry.runtime_data
    registry = runtime.cloud.registry
    board_id = status.board_id
    user_id = await instance_id.async_get(hass)
    try:
        credentials = await hass.async_add_executor_job(registry.register, board_id, user_id)
    except CloudError as err:
        LOGGER.warning("Registering board %s in AWS failed: %s", board_id, err)
        raise AdoptionError("cloud_error") from err

    hub = runtime.hub
    hub.track_board(board_id)
    # Listen before provisioning (the board may report within seconds of restarting); the
    # deadline counts from when the board confirmed its settings (retries can take a while).
    first_report = hub.async_expect_report(board_id)
    try:
        await _async_provision(hass, entry, host, port, board_id, credentials.token, zones, blink=blink)
        if not await hub.async_wait_for_report(board_id, first_report, BOARD_ONLINE_TIMEOUT):
            raise AdoptionError("board_not_online")  # noqa: TRY301 - the except below undoes the registration for this failure too
    except BaseException:
        first_report.cancel()
        hub.forget_board(board_id)
        await async_remove_from_aws(hass, entry, board_id)
        raise
    return subentry_data(status, host, port, zones, blink=blink)


async def async_reprovision_board(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    host: str,
    port: int,
    board_id: str,
    zones: dict[str, ZoneConfig],
    *,
    blink: bool,
) -> None:
    """Send changed zone settings to an adopted board, keeping its token."""
    registry = entry.runtime_data.cloud.registry
    try:
        record = await hass.async_add_executor_job(registry.get, board_id)
    except CloudError as err:
        raise AdoptionError("cloud_error") from err
    if record is None or record.status != "active":
        raise AdoptionError("board_not_registered")
    await _async_provision(hass, entry, host, port, board_id, record.token, zones, blink=blink)
