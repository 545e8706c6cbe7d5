"""Coming from the removed core `konnected` integration.

Offer its boards, then move what the user built (entity ids, names, areas, icons, disabled state, the device's area and name) over.

The conversion itself is `migration.py` (pure); this module only acts on Home Assistant.
"""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)

from .const import DOMAIN, LOGGER
from .migration import (
    OLD_DOMAIN,
    BoardMigration,
    MigrationPlan,
    Unsupported,
    async_plan_from_hass,
)
from .runtime import BoardInfo, KonnectedConfigEntry

# What the legacy discovery flow is started with.
LEGACY_ENTRY_ID = "legacy_entry_id"
# Reasons that leave a whole board behind (it gets no card, only a repair issue).
BOARD_WIDE = frozenset({Unsupported.PRO_BOARD, Unsupported.NOT_A_MAC})


@callback
def async_offer_legacy_boards(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
    """Offer a card per board of the old integration that is not adopted yet."""
    adopted = {subentry.unique_id for subentry in entry.subentries.values()}
    plan = async_plan_from_hass(hass)
    for board in plan.boards:
        if board.board_id in adopted:
            continue
        hass.async_create_task(
            hass.config_entries.flow.async_init(
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={LEGACY_ENTRY_ID: board.entry_id},
            ),
            f"{DOMAIN} offer legacy board",
        )
    _async_report_unsupported(hass, plan)


def legacy_board(hass: HomeAssistant, legacy_entry_id: str) -> tuple[BoardMigration | None, MigrationPlan]:
    """Return the old entry's board as this integration would adopt it, and the whole plan."""
    plan = async_plan_from_hass(hass)
    board = next((board for board in plan.boards if board.entry_id == legacy_entry_id), None)
    return board, plan


@callback
def async_move_registry_entries(
    hass: HomeAssistant,
    entry: KonnectedConfigEntry,
    info: BoardInfo,
    board: BoardMigration,
    plan: MigrationPlan,
) -> None:
    """Before the board's entities are created: give the old registry entries to this integration.

    The entity registry keeps each entry's entity id, user name, icon, area and disabled state;
    only its platform, unique id, config entry and device change. Runs when the board is added
    to the running entry, right before its entities are (boards.py), so they take these entries.
    """
    device_registry = dr.async_get(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        config_subentry_id=info.subentry_id,
        identifiers={(DOMAIN, info.board_id)},
        connections={(dr.CONNECTION_NETWORK_MAC, info.mac)},
        manufacturer="Konnected",
        model=info.model,
        name=info.title,
    )
    if board.device is not None:
        device_registry.async_update_device(
            device.id, area_id=board.device.area_id, name_by_user=board.device.name_by_user
        )
    entity_registry = er.async_get(hass)
    for move in plan.entities:
        if move.board_id != board.board_id or entity_registry.async_get(move.entity_id) is None:
            continue
        entity_registry.async_update_entity_platform(
            move.entity_id,
            DOMAIN,
            new_config_entry_id=entry.entry_id,
            new_config_subentry_id=info.subentry_id,
            new_unique_id=move.new_unique_id,
            new_device_id=device.id,
        )
        LOGGER.debug("Moved %s from the Konnected integration", move.entity_id)


async def async_finish_board(hass: HomeAssistant, board: BoardMigration, plan: MigrationPlan) -> None:
    """List what could not be carried over, then remove the old entry (and what is left of it)."""
    left = [item for item in plan.not_carried if item.board_id == board.board_id]
    if left:
        ir.async_create_issue(
            hass,
            DOMAIN,
            f"legacy_not_carried_{board.board_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="legacy_not_carried",
            translation_placeholders={
                "board": board.title,
                "items": "\n".join(f"- {item.describe()}" for item in left),
            },
        )
    old_entry = hass.config_entries.async_get_entry(board.entry_id)
    if old_entry is not None and old_entry.domain == OLD_DOMAIN:
        await hass.config_entries.async_remove(old_entry.entry_id)
        LOGGER.info("The Konnected integration's entry for %s was moved and removed", board.title)


@callback
def _async_report_unsupported(hass: HomeAssistant, plan: MigrationPlan) -> None:
    """Boards of the old integration this one cannot run (the Pro) are said so, once each."""
    for item in plan.not_carried:
        if item.board_id is None or item.reason not in BOARD_WIDE:
            continue
        ir.async_create_issue(
            hass,
            DOMAIN,
            f"legacy_unsupported_{item.board_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="legacy_unsupported",
            translation_placeholders={"board": item.subject, "reason": item.describe()},
        )
