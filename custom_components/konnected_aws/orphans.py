"""Boards that must leave AWS but could not yet: remembered on disk and retried until AWS confirms.

A failed adoption, or a board removed while AWS was unreachable, would otherwise stay active in
the device table with no device in Home Assistant to remove it. Each retry deletes the item;
if that fails, it at least tries to revoke it, so the token stops working sooner.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from .cloud import CloudAccount
from .cloud.errors import CloudError
from .const import DOMAIN, LOGGER
from .runtime import KonnectedConfigEntry

RETRY_INTERVAL: Final = timedelta(minutes=15)
STORAGE_VERSION: Final = 1


class OrphanRegistrations:
    """Device ids to delete from the account's device table, persisted per config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Load lazily; nothing is read until used."""
        self._hass = hass
        self._store: Store[list[str]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.orphans")
        self._ids: list[str] | None = None
        self._unsub: CALLBACK_TYPE | None = None

    async def async_ids(self) -> list[str]:
        """Device ids still waiting for removal."""
        if self._ids is None:
            stored = await self._store.async_load()
            self._ids = [device_id for device_id in stored or [] if isinstance(device_id, str)]
        return list(self._ids)

    async def async_add(self, device_id: str) -> None:
        """Remember a device AWS did not confirm removing."""
        ids = await self.async_ids()
        if device_id not in ids:
            self._ids = [*ids, device_id]
            await self._store.async_save(self._ids)
            LOGGER.warning("Board %s stays registered in AWS for now; removal is retried every 15 minutes", device_id)

    async def async_retry(self, cloud: CloudAccount) -> None:
        """Delete every remembered device; keep those AWS still refuses (revoking them if it can)."""
        remaining: list[str] = []
        for device_id in await self.async_ids():
            try:
                await self._hass.async_add_executor_job(cloud.registry.delete, device_id)
            except CloudError as err:
                LOGGER.debug("Removing %s from AWS failed again: %s", device_id, err)
                await self._async_revoke(cloud, device_id)
                remaining.append(device_id)
            else:
                LOGGER.info("Board %s is now removed from AWS", device_id)
        if remaining != self._ids:
            self._ids = remaining
            await self._store.async_save(remaining)

    async def _async_revoke(self, cloud: CloudAccount, device_id: str) -> None:
        with contextlib.suppress(CloudError):  # still unreachable: the next retry tries both again
            await self._hass.async_add_executor_job(cloud.registry.revoke, device_id)

    @callback
    def async_start(self, cloud: CloudAccount) -> CALLBACK_TYPE:
        """Retry now and periodically; returns the stop callback."""

        async def retry(_now: datetime | None = None) -> None:
            await self.async_retry(cloud)

        self._hass.async_create_task(retry(), f"{DOMAIN} orphan retry")
        return async_track_time_interval(self._hass, retry, RETRY_INTERVAL)

    async def async_remove_store(self) -> None:
        """Forget the file too: the entry is gone."""
        await self._store.async_remove()


async def async_remove_from_aws(hass: HomeAssistant, entry: KonnectedConfigEntry, board_id: str) -> None:
    """Delete a board from the device table so its token stops working; remembered if AWS fails."""
    runtime = entry.runtime_data
    try:
        await hass.async_add_executor_job(runtime.cloud.registry.delete, board_id)
    except CloudError as err:
        LOGGER.warning("Could not remove board %s from AWS: %s", board_id, err)
        await runtime.orphans.async_add(board_id)
    else:
        LOGGER.info("Board %s removed from AWS; it can no longer connect", board_id)
