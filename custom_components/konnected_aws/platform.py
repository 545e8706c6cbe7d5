"""What every entity platform does alike: add each board's entities, now and when boards change."""

from __future__ import annotations

from collections.abc import Collection

from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import KonnectedEntity
from .runtime import BoardEntityAdder, BoardInfo, KonnectedConfigEntry


def async_setup_board_platform(
    entry: KonnectedConfigEntry,
    domain: str,
    async_add_entities: AddConfigEntryEntitiesCallback,
    board_entities: BoardEntityAdder,
) -> None:
    """Add every adopted board's entities and register the adder for boards adopted later.

    Each board's entities belong to its config subentry, so removing the board removes them.
    """
    runtime = entry.runtime_data

    def add(info: BoardInfo, zones: Collection[str] | None) -> list[KonnectedEntity]:
        entities = board_entities(info, zones)
        if entities:
            async_add_entities(entities, config_subentry_id=info.subentry_id)
        return entities

    runtime.entity_adders[domain] = add
    for info in runtime.boards.values():
        add(info, None)
