"""A board's local address changes only when the board itself proves it.

Anything on the LAN can answer SSDP or HTTP with an adopted board's MAC. A new address (from
discovery, typed by hand, or reported in a heartbeat) is therefore only stored when both hold:
the device at that address answers `/status` with the board's MAC, and the board's own
heartbeat, which arrives through AWS IoT under the board's token, reports that address. Until
then nothing is sent to the new address (no token, no signature) and its answers set no state.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.core import HomeAssistant, callback

from .adoption import board_client
from .board import BoardError
from .const import CONF_HOST, CONF_PORT, DOMAIN, LOGGER
from .runtime import KonnectedConfigEntry


@dataclass(frozen=True, slots=True)
class Address:
    """Where a board's local HTTP API answers."""

    host: str
    port: int

    def __str__(self) -> str:
        """Return `host:port`."""
        return f"{self.host}:{self.port}"


def heartbeat_address(status: dict[str, object]) -> Address | None:
    """Return the address a heartbeat reports (`ip`, `port` of the firmware's status document)."""
    host, port = status.get("ip"), status.get("port")
    if isinstance(host, str) and host and isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        return Address(host, port)
    return None


class AddressGuard:
    """Holds unproven addresses per board and commits one when the board's heartbeat agrees."""

    def __init__(self, hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
        """One per loaded account entry."""
        self._hass = hass
        self._entry = entry
        # Seen answering with the board's MAC, not yet confirmed by the board through AWS.
        self._answering: dict[str, Address] = {}
        # Reported by the board through AWS, not yet seen answering with its MAC.
        self._reported: dict[str, Address] = {}

    def pending(self, board_id: str) -> Address | None:
        """Return an address waiting for the board's confirmation (for diagnostics and tests)."""
        return self._answering.get(board_id)

    @callback
    def async_answered_at(self, board_id: str, address: Address) -> None:
        """Note that the device at `address` answered with the board's MAC (discovery or typed by hand)."""
        if self._stored(board_id) == address:
            self._answering.pop(board_id, None)
            return
        if self._reported.get(board_id) == address:
            self._commit(board_id, address)
            return
        LOGGER.info(
            "Board %s answers at a new address; it is used once the board confirms it through AWS IoT",
            board_id,
        )
        self._answering[board_id] = address

    @callback
    def async_heartbeat(self, board_id: str, status: dict[str, object]) -> None:
        """Take the address of a heartbeat that arrived through AWS IoT: the board itself says where it is."""
        address = heartbeat_address(status)
        if address is None or address == self._stored(board_id):
            self._reported.pop(board_id, None)
            return
        if self._answering.get(board_id) == address:
            self._commit(board_id, address)
            return
        self._reported[board_id] = address
        # Moved without being rediscovered (new DHCP lease): look there for the MAC.
        self._entry.async_create_background_task(
            self._hass, self._async_check(board_id, address), f"{DOMAIN} check address of {board_id}"
        )

    async def _async_check(self, board_id: str, address: Address) -> None:
        try:
            status = await board_client(self._hass, address.host, address.port).get_status()
        except BoardError as err:
            LOGGER.debug("Board %s reported an address that does not answer: %s", board_id, err)
            return
        if status.board_id == board_id and self._reported.get(board_id) == address:
            self._commit(board_id, address)

    def _stored(self, board_id: str) -> Address | None:
        info = self._entry.runtime_data.boards.get(board_id)
        return None if info is None else Address(info.host, info.port)

    @callback
    def _commit(self, board_id: str, address: Address) -> None:
        self._answering.pop(board_id, None)
        self._reported.pop(board_id, None)
        for subentry in self._entry.subentries.values():
            if subentry.unique_id == board_id:
                LOGGER.info("Board %s confirmed its new address", board_id)
                self._hass.config_entries.async_update_subentry(
                    self._entry, subentry, data={**subentry.data, CONF_HOST: address.host, CONF_PORT: address.port}
                )
                return
