"""Boards adopted, changed or removed while the account entry runs: applied in place.

Nothing reloads for a board change: the bridge connection stays up, other boards' entities are
not touched, and of a changed board only the entities of the zones that changed are replaced.
"""

from __future__ import annotations

from collections.abc import Collection

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .board import BoardClient, BoardError, BoardLockedError
from .const import DOMAIN, LOGGER, SUBENTRY_BOARD
from .orphans import async_remove_from_aws
from .runtime import BoardInfo, KonnectedConfigEntry

# How long a removal keeps trying to reach a board that restarts every few seconds.
RESET_RETRY_FOR = 20.0


async def async_sync_boards(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
    """Bring the running entry in line with its board subentries."""
    runtime = entry.runtime_data
    async with runtime.sync_lock:
        current, reread = _current_boards(entry)
        for board_id in runtime.boards.keys() - current.keys():
            await _async_remove_board(hass, entry, runtime.boards[board_id])
        for board_id, info in current.items():
            old = runtime.boards.get(board_id)
            if old is None:
                _async_add_board(entry, info)
            elif board_id in reread and old != info:
                await _async_update_board(hass, entry, old, info)


def _current_boards(entry: KonnectedConfigEntry) -> tuple[dict[str, BoardInfo], set[str]]:
    """Every board subentry, and which of them were read anew.

    Home Assistant gives a subentry a new data object whenever it changes, so a board whose data
    and title are the very objects seen last time is taken as it was: one change costs the same
    with 1 or 200 boards (docs/benchmarks.md).
    """
    seen = entry.runtime_data.seen_subentries
    current: dict[str, BoardInfo] = {}
    reread: set[str] = set()
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_BOARD:
            continue
        cached = seen.get(subentry.subentry_id)
        if cached is not None and cached[0] is subentry.data and cached[1] == subentry.title:
            info = cached[2]
        else:
            info = BoardInfo.from_subentry(subentry)
            seen[subentry.subentry_id] = (subentry.data, subentry.title, info)
            reread.add(info.board_id)
        current[info.board_id] = info
    for subentry_id in seen.keys() - entry.subentries.keys():
        del seen[subentry_id]
    return current, reread


@callback
def _async_add_board(entry: KonnectedConfigEntry, info: BoardInfo) -> None:
    runtime = entry.runtime_data
    runtime.boards[info.board_id] = info
    runtime.hub.track_board(info.board_id)
    if (prepare := runtime.before_board_added.pop(info.board_id, None)) is not None:
        prepare(info)
    for add in runtime.entity_adders.values():
        add(info, None)
    LOGGER.debug("Board %s added", info.board_id)


async def _async_update_board(
    hass: HomeAssistant, entry: KonnectedConfigEntry, old: BoardInfo, new: BoardInfo
) -> None:
    runtime = entry.runtime_data
    runtime.boards[new.board_id] = new
    _async_update_device(hass, entry, new)
    changed = {zone for zone in old.zones.keys() | new.zones.keys() if old.zones.get(zone) != new.zones.get(zone)}
    if not changed:
        return
    for entity in runtime.hub.entities_of(new.board_id):
        if entity.zone in changed:
            await entity.async_remove()
    added = {
        (domain, entity.unique_id)
        for domain, add in runtime.entity_adders.items()
        for entity in add(new, changed)
    }
    _async_remove_stale_entities(hass, new, changed, added)
    LOGGER.debug("Board %s: zones %s changed", new.board_id, sorted(changed))


def zone_of_unique_id(board_id: str, unique_id: str) -> str | None:
    """`<board>_<zone>` or `<board>_<zone>_<what>`; board-wide entities have no zone."""
    prefix = f"{board_id}_"
    if not unique_id.startswith(prefix):
        return None
    return unique_id[len(prefix) :].split("_", 1)[0]


@callback
def _async_remove_stale_entities(
    hass: HomeAssistant, info: BoardInfo, zones: Collection[str], kept: Collection[tuple[str, str | None]]
) -> None:
    """Registry entries of changed zones that no entity uses any more (a rewired zone)."""
    registry = er.async_get(hass)
    for registry_entry in list(registry.entities.values()):
        if (
            registry_entry.platform == DOMAIN
            and registry_entry.config_subentry_id == info.subentry_id
            and zone_of_unique_id(info.board_id, registry_entry.unique_id) in zones
            and (registry_entry.domain, registry_entry.unique_id) not in kept
        ):
            LOGGER.debug("Removing %s: its zone is no longer wired that way", registry_entry.entity_id)
            registry.async_remove(registry_entry.entity_id)


@callback
def _async_update_device(hass: HomeAssistant, entry: KonnectedConfigEntry, info: BoardInfo) -> None:
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier((DOMAIN, info.board_id), entry.entry_id)
    if device is not None:
        registry.async_update_device(
            device.id,
            name=info.title,
            configuration_url=f"http://{info.host}:{info.port}",
            sw_version=info.sw_version,
            hw_version=info.hw_version,
        )


async def _async_remove_board(hass: HomeAssistant, entry: KonnectedConfigEntry, info: BoardInfo) -> None:
    runtime = entry.runtime_data
    for entity in runtime.hub.entities_of(info.board_id):
        await entity.async_remove()
    runtime.hub.forget_board(info.board_id)
    del runtime.boards[info.board_id]
    await async_remove_from_aws(hass, entry, info.board_id)
    # Resetting the board can take a while (it restarts while it cannot reach AWS).
    entry.async_create_background_task(hass, async_reset_board(hass, info), f"{DOMAIN} reset {info.board_id}")


async def async_reset_board(hass: HomeAssistant, info: BoardInfo) -> None:
    """Return a removed board to factory settings, so it stops connecting and restarting.

    A board that cannot be reached or is locked gets a repair issue saying how to reset it.
    """
    client = BoardClient(
        info.host,
        info.port,
        async_get_clientsession(hass),
        settings_retry_for=RESET_RETRY_FOR,
        settings_confirm_for=RESET_RETRY_FOR,
    )
    try:
        await client.unprovision()
    except BoardLockedError:
        reason = "its settings are locked"
    except BoardError as err:
        LOGGER.debug("Resetting board %s failed: %s", info.board_id, err)
        reason = "it did not answer"
    else:
        LOGGER.info("Board %s is back to factory settings", info.board_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"board_not_reset_{info.board_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="board_not_reset",
        translation_placeholders={"name": info.title, "reason": reason},
    )

