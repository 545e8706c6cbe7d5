"""The `.storage` files Home Assistant 2026.5.4 wrote for a `konnected` user (the fixture)."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

from custom_components.konnected_aws.migration import (
    OLD_DOMAIN,
    OldDevice,
    OldEntity,
    OldEntry,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "konnected_2026_5_4"
STORAGE_KEYS = (
    "core.config_entries",
    "core.entity_registry",
    "core.device_registry",
    "core.area_registry",
)


def document(key: str) -> dict[str, Any]:
    """A whole storage file: version, minor_version, key, data."""
    loaded: dict[str, Any] = json.loads((FIXTURE / ".storage" / key).read_text())
    return loaded


def config_entries() -> list[dict[str, Any]]:
    """Every stored config entry (also other domains')."""
    entries: list[dict[str, Any]] = document("core.config_entries")["data"]["entries"]
    return entries


def old_entries() -> list[OldEntry]:
    """The `konnected` entries, as ConfigEntry exposes them."""
    return [
        OldEntry(entry["entry_id"], entry["title"], entry["data"], entry["options"])
        for entry in config_entries()
        if entry["domain"] == OLD_DOMAIN
    ]


def registry_entities() -> list[dict[str, Any]]:
    """Every stored entity registry entry."""
    entities: list[dict[str, Any]] = document("core.entity_registry")["data"]["entities"]
    return entities


def old_entities() -> list[OldEntity]:
    """The entity registry entries of platform `konnected`."""
    return [
        OldEntity(
            entity["entity_id"],
            entity["unique_id"],
            entity["config_entry_id"],
            entity["original_name"],
        )
        for entity in registry_entities()
        if entity["platform"] == OLD_DOMAIN
    ]


def registry_devices() -> list[dict[str, Any]]:
    """Every stored device registry entry."""
    devices: list[dict[str, Any]] = document("core.device_registry")["data"]["devices"]
    return devices


def old_devices() -> Iterator[OldDevice]:
    """The devices identified by (`konnected`, board id)."""
    for device in registry_devices():
        for domain, board_id in device["identifiers"]:
            if domain == OLD_DOMAIN:
                yield OldDevice(device["id"], board_id, device["area_id"], device["name_by_user"])


def entity_id_of(unique_id: str) -> str:
    """The entity id the user had for an old unique id."""
    (entity_id,) = [
        e["entity_id"]
        for e in registry_entities()
        if e["platform"] == OLD_DOMAIN and e["unique_id"] == unique_id
    ]
    return str(entity_id)


def fill(hass_storage: dict[str, Any]) -> None:
    """Put the files into the test's mocked storage."""
    for key in STORAGE_KEYS:
        hass_storage[key] = document(key)


async def async_load_into(hass: HomeAssistant) -> None:
    """Load config entries and registries from storage as Home Assistant does at startup, with
    its storage migrations from 2026.5.4's versions (the test `hass` starts them empty)."""
    await hass.config_entries.async_initialize()
    for key in (ar.DATA_REGISTRY, dr.DATA_REGISTRY, er.DATA_REGISTRY):
        hass.data.pop(key, None)
    # Their async_get caches the instance per hass (helpers/singleton.py: lru_cache).
    ar.async_get.cache_clear()  # type: ignore[attr-defined]
    er.async_get.cache_clear()  # type: ignore[attr-defined]
    await ar.async_load(hass)
    dr.async_setup(hass)
    await dr.async_load(hass)
    await er.async_load(hass)
