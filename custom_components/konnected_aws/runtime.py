"""Typed runtime data of a config entry and the board view of its subentries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from homeassistant.config_entries import ConfigEntry, ConfigSubentry

from .const import (
    CONF_BOARD_ID,
    CONF_HOST,
    CONF_HW_VERSION,
    CONF_MODEL,
    CONF_PORT,
    CONF_SW_VERSION,
    CONF_ZONES,
    SUBENTRY_BOARD,
)
from .zones import ZoneConfig, zones_from_data

if TYPE_CHECKING:
    from .addresses import AddressGuard
    from .cloud import CloudAccount
    from .entity import KonnectedEntity
    from .hub import KonnectedHub
    from .orphans import OrphanRegistrations


@dataclass(frozen=True, slots=True)
class BoardInfo:
    """One adopted board, as stored in its config subentry."""

    subentry_id: str
    board_id: str
    title: str
    host: str
    port: int
    model: str
    sw_version: str | None
    hw_version: str | None
    zones: dict[str, ZoneConfig] = field(default_factory=dict)

    @property
    def mac(self) -> str:
        """The board id is the MAC without colons."""
        return ":".join(self.board_id[i : i + 2] for i in range(0, 12, 2))

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> Self:
        """Read a board subentry."""
        data = subentry.data
        return cls(
            subentry_id=subentry.subentry_id,
            board_id=data[CONF_BOARD_ID],
            title=subentry.title,
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            model=data.get(CONF_MODEL, "Konnected"),
            sw_version=data.get(CONF_SW_VERSION),
            hw_version=data.get(CONF_HW_VERSION),
            zones=zones_from_data(data.get(CONF_ZONES, {})),
        )


def adopted_boards(entry: ConfigEntry) -> list[BoardInfo]:
    """Every board subentry of an account entry."""
    return [
        BoardInfo.from_subentry(subentry)
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_BOARD
    ]


# A platform's way to add one board's entities: all of them (zones None) or those of some zones.
# Returns what it added, so stale registry entries can be told apart.
type BoardEntityAdder = Callable[[BoardInfo, Collection[str] | None], list[KonnectedEntity]]


@dataclass
class KonnectedRuntime:
    """What a loaded account entry keeps in memory; the private key never leaves it."""

    cloud: CloudAccount
    hub: KonnectedHub
    orphans: OrphanRegistrations
    # Addresses seen but not yet proven by the boards themselves.
    addresses: AddressGuard
    private_key_pem: bytes
    # Where boards and the bridge connect (wss://<endpoint>/mqtt, or the emulator's URL).
    iot_url: str
    authorizer_name: str
    boards: dict[str, BoardInfo]
    # entry.data as set up: a change there (new keys, endpoints) needs a reload; board changes do not.
    entry_data: dict[str, Any] = field(default_factory=dict)
    # One adder per platform (keyed by its domain), registered when the platform sets up.
    entity_adders: dict[str, BoardEntityAdder] = field(default_factory=dict)
    # Each board subentry's data and title as last read, with what was read from them.
    seen_subentries: dict[str, tuple[Mapping[str, Any], str, BoardInfo]] = field(default_factory=dict)
    # Run once when a board joins the running entry, before its entities are added (by board id).
    before_board_added: dict[str, Callable[[BoardInfo], None]] = field(default_factory=dict)
    # Board changes are applied one at a time (two adoptions may finish together).
    sync_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __repr__(self) -> str:
        """Show the endpoint and boards only."""
        # The private key stays out of logs and tracebacks.
        return f"KonnectedRuntime(iot_url={self.iot_url!r}, boards={list(self.boards)!r})"


type KonnectedConfigEntry = ConfigEntry[KonnectedRuntime]
