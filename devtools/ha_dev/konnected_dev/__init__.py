"""Development only: SSDP discovery of simulated boards on loopback.

HA's own SSDP scanner multicasts on real network interfaces, which never reach boards
simulated on 127.0.0.1. This component sends the same M-SEARCH by unicast to the
simulator's SSDP ports (env KONNECTED_DEV_SSDP_TARGETS="127.0.0.1:1901,127.0.0.1:1902")
and hands every answer to konnected_aws exactly as HA's ssdp integration would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import os
from typing import Any
from xml.etree import ElementTree as ET

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.helpers.typing import ConfigType

DOMAIN = "konnected_dev"
SEARCH_TARGET = "urn:schemas-konnected-io:device:Security:1"
UPNP_NS = "{urn:schemas-upnp-org:device-1-0}"


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: list[dict[str, str]] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        lines = data.decode(errors="replace").split("\r\n")
        headers = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().upper()] = value.strip()
        self.answers.append(headers)


async def _search(target: tuple[str, int]) -> list[dict[str, str]]:
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(_Collector, local_addr=("127.0.0.1", 0))
    try:
        message = (
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
            f'MAN: "ssdp:discover"\r\nMX: 1\r\nST: {SEARCH_TARGET}\r\n\r\n'
        )
        transport.sendto(message.encode(), target)
        await asyncio.sleep(1.0)
    finally:
        transport.close()
    return collector.answers


async def _discover(hass: HomeAssistant, targets: list[tuple[str, int]]) -> None:
    session = async_get_clientsession(hass)
    for target in targets:
        for headers in await _search(target):
            location = headers.get("LOCATION")
            if not location:
                continue
            async with session.get(location) as response:
                description = await response.text()
            device = ET.fromstring(description).find(f"{UPNP_NS}device")  # noqa: S314 - dev-only: the description of a board this dev instance was pointed at
            upnp = {}
            if device is not None:
                upnp = {child.tag.removeprefix(UPNP_NS): (child.text or "") for child in device}
            discovery_flow.async_create_flow(
                hass,
                "konnected_aws",
                {"source": "ssdp"},
                SsdpServiceInfo(
                    ssdp_usn=headers.get("USN", ""),
                    ssdp_st=headers.get("ST", SEARCH_TARGET),
                    ssdp_location=location,
                    ssdp_headers=headers,
                    upnp=upnp,
                ),
            )


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Search now and every minute, like HA's scanner does on real networks."""
    targets = []
    for item in os.environ.get("KONNECTED_DEV_SSDP_TARGETS", "").split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            targets.append((host, int(port)))

    async def run(_: Any = None) -> None:
        await _discover(hass, targets)

    async def started(_: Event) -> None:
        await run()
        async_track_time_interval(hass, run, timedelta(minutes=1))

    @callback
    def entry_changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
        # HA's own scanner hands what it knows to an account the moment it loads
        # (konnected_aws._async_offer_discovered_boards); this helper has no such memory, so it
        # searches again then.
        if entry.domain == "konnected_aws" and entry.state is ConfigEntryState.LOADED:
            hass.async_create_task(run(), "konnected_dev search after the account loaded")

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, started)
    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, entry_changed)
    return True
