"""What the removed core `konnected` integration left behind, as Home Assistant 2026.5.4 wrote it.

The conversion is pure: `plan_migration` takes the old config entries, entity registry entries
and devices as plain typed values and returns, per board, what this integration needs to adopt it
(board id, address, title, zone settings, LED and discovery settings), the new unique id of every
old entity, and everything that cannot be carried over, with the reason (for a repair issue).
Only `async_plan_from_hass` touches Home Assistant. Formats and source lines: docs/migration.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, NamedTuple

from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .board import zones_for_model
from .board.models import BoardDataError, board_id_from_mac
from .zones import DEFAULT_POLL_INTERVAL_MINUTES, OutputAction, ZoneConfig, ZoneType

OLD_DOMAIN: Final = "konnected"
# config_flow.py:81-84 / panel.py:53-54 of 2026.5.4: the only two models it knew.
OLD_MODEL: Final = "Konnected"
OLD_MODEL_PRO: Final = "Konnected Pro"
# Temperature and humidity keys of the DHT entities (sensor.py:27-40).
DHT_KEYS: Final = ("temperature", "humidity")


# --- what the old integration stored -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OldEntry:
    """A `konnected` config entry: `data` {host, port, id, model, access_token, default_options}."""

    entry_id: str
    title: str
    data: Mapping[str, Any]
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OldEntity:
    """An entity registry entry of platform `konnected`."""

    entity_id: str
    unique_id: str
    config_entry_id: str | None
    original_name: str | None

    @property
    def domain(self) -> str:
        """binary_sensor, sensor or switch."""
        return self.entity_id.partition(".")[0]


@dataclass(frozen=True, slots=True)
class OldDevice:
    """A device registry entry identified by (`konnected`, board id) (panel.py:159-168)."""

    device_id: str
    board_id: str
    area_id: str | None
    name_by_user: str | None


# --- what this integration makes of it ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MigratedZone:
    """A zone's settings, and for an output its further actions."""

    config: ZoneConfig
    actions: tuple[OutputAction, ...] = ()


class Unsupported(StrEnum):
    """Why something is not carried over (the repair issue lists each one)."""

    PRO_BOARD = "pro_board"
    NOT_A_MAC = "not_a_mac"
    ZONE_NOT_ON_BOARD = "zone_not_on_board"
    ZONE_USED_TWICE = "zone_used_twice"
    OUTPUT_LEVEL_DIFFERS = "output_level_differs"
    MALFORMED = "malformed"
    DEVICE_CLASS = "device_class"
    API_HOST = "api_host"
    ENTITY_WITHOUT_ENTRY = "entity_without_entry"
    ENTITY_NOT_CONFIGURED = "entity_not_configured"
    PROBE_ZONE_UNKNOWN = "probe_zone_unknown"


_EXPLANATIONS: Final = {
    Unsupported.PRO_BOARD: "the Alarm Panel Pro (ESP32) is not supported; use ESPHome",
    Unsupported.NOT_A_MAC: "its board id is not a MAC address, so it is no legacy ESP8266 board",
    Unsupported.ZONE_NOT_ON_BOARD: "the ESP8266 boards have no such zone",
    Unsupported.ZONE_USED_TWICE: "the zone was set up twice; the first setting is kept",
    Unsupported.OUTPUT_LEVEL_DIFFERS: (
        "an output has one on level for all its actions; the first action's level is kept"
    ),
    Unsupported.MALFORMED: "the stored setting could not be read",
    Unsupported.DEVICE_CLASS: "Home Assistant no longer knows this sensor type; none is set",
    Unsupported.API_HOST: (
        "the custom Home Assistant URL is not needed: boards report through AWS IoT"
    ),
    Unsupported.ENTITY_WITHOUT_ENTRY: "its Konnected entry no longer exists",
    Unsupported.ENTITY_NOT_CONFIGURED: "its zone or action is no longer set up on the board",
    Unsupported.PROBE_ZONE_UNKNOWN: "the DS18B20 zone this probe belongs to cannot be told",
}


@dataclass(frozen=True, slots=True)
class NotCarried:
    """One thing left behind: a board, a zone, a setting or an entity."""

    reason: Unsupported
    board_id: str | None
    subject: str

    def describe(self) -> str:
        """One line for the repair issue."""
        where = f"{self.board_id}: " if self.board_id else ""
        return f"{where}{self.subject}: {_EXPLANATIONS[self.reason]}"


@dataclass(frozen=True, slots=True)
class BoardMigration:
    """One old board, ready to be offered for adoption."""

    entry_id: str
    board_id: str
    host: str
    port: int
    model: str
    title: str
    zones: dict[str, MigratedZone]
    blink: bool
    discovery: bool
    device: OldDevice | None = None


@dataclass(frozen=True, slots=True)
class EntityMove:
    """An old entity registry entry and the unique id it gets on this integration's platform."""

    entity_id: str
    board_id: str
    old_unique_id: str
    new_unique_id: str


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """Everything found: boards to adopt, entities to move, what is left behind."""

    boards: tuple[BoardMigration, ...] = ()
    entities: tuple[EntityMove, ...] = ()
    not_carried: tuple[NotCarried, ...] = ()


# --- conversion ------------------------------------------------------------------------------


def plan_migration(
    entries: Iterable[OldEntry],
    entities: Iterable[OldEntity] = (),
    devices: Iterable[OldDevice] = (),
) -> MigrationPlan:
    """Convert every old entry and map every old entity; nothing is dropped silently."""
    devices_by_board = {device.board_id: device for device in devices}
    boards: dict[str, BoardMigration] = {}  # by old entry id
    known_ids: dict[str, dict[tuple[str, str], str]] = {}  # by old entry id
    old_ids: dict[str, str] = {}  # entry id → old board id, also for boards left behind
    left: list[NotCarried] = []
    for entry in entries:
        old_id = old_ids[entry.entry_id] = str(entry.data.get("id", ""))
        board, board_left = convert_entry(entry)
        left.extend(board_left)
        if board is not None:
            boards[entry.entry_id] = replace(board, device=devices_by_board.get(old_id))
            known_ids[entry.entry_id] = old_unique_ids(old_id, board)
    moves: list[EntityMove] = []
    for entity in entities:
        entry_id = entity.config_entry_id or ""
        if entry_id not in old_ids:
            left.append(NotCarried(Unsupported.ENTITY_WITHOUT_ENTRY, None, entity.entity_id))
            continue
        if entry_id not in boards:
            continue  # a board left behind: its own line in `left` covers its entities
        board = boards[entry_id]
        move = map_entity(entity, board, old_ids[entry_id], known_ids[entry_id])
        if move is not None:
            moves.append(move)
        elif entity.domain == "sensor" and is_probe_address(entity.unique_id):
            left.append(
                NotCarried(Unsupported.PROBE_ZONE_UNKNOWN, board.board_id, entity.entity_id)
            )
        else:
            left.append(
                NotCarried(Unsupported.ENTITY_NOT_CONFIGURED, board.board_id, entity.entity_id)
            )
    return MigrationPlan(tuple(boards.values()), tuple(moves), tuple(left))


def entry_options(entry: OldEntry) -> Mapping[str, Any]:
    """Return the settings in force: options, or `default_options` for a YAML import (panel.py:71-73)."""
    if entry.options:
        return entry.options
    defaults = entry.data.get("default_options")
    return defaults if isinstance(defaults, Mapping) else {}


def convert_entry(entry: OldEntry) -> tuple[BoardMigration | None, list[NotCarried]]:
    """One old entry: the board to adopt (None when it cannot be), and what is left behind."""
    data = entry.data
    old_id = str(data.get("id", ""))
    if data.get("model") == OLD_MODEL_PRO:
        return None, [NotCarried(Unsupported.PRO_BOARD, old_id, entry.title)]
    try:
        board_id = board_id_from_mac(old_id)
        host = str(data["host"])
        port = int(data["port"])
    except BoardDataError:
        return None, [NotCarried(Unsupported.NOT_A_MAC, old_id, entry.title)]
    except KeyError, TypeError, ValueError:
        return None, [NotCarried(Unsupported.MALFORMED, old_id, f"{entry.title}: host or port")]
    model = str(data.get("model") or OLD_MODEL)
    options = entry_options(entry)
    zones, left = convert_zones(board_id, options, zones_for_model(model))
    if options.get("api_host"):
        left.append(NotCarried(Unsupported.API_HOST, board_id, str(options["api_host"])))
    board = BoardMigration(
        entry_id=entry.entry_id,
        board_id=board_id,
        host=host,
        port=port,
        model=model,
        title=entry.title,
        zones=zones,
        # Both default to on when unset (panel.py:350-351).
        blink=bool(options.get("blink", True)),
        discovery=bool(options.get("discovery", True)),
    )
    return board, left


_DEVICE_CLASSES: Final = frozenset(str(device_class) for device_class in BinarySensorDeviceClass)


class _Malformed(ValueError):
    """A stored zone setting that 2026.5.4's schemas would not have produced."""


def convert_zones(
    board_id: str, options: Mapping[str, Any], board_zones: Sequence[str]
) -> tuple[dict[str, MigratedZone], list[NotCarried]]:
    """Convert the `binary_sensors`, `sensors` and `switches` lists to zones (read as panel.py:197-265 does).

    `io` is not read: 2026.5.4 set up entities from the three lists only.
    """
    zones: dict[str, MigratedZone] = {}
    left: list[NotCarried] = []

    def accept(zone: str, migrated: MigratedZone) -> None:
        if zone not in board_zones:
            left.append(NotCarried(Unsupported.ZONE_NOT_ON_BOARD, board_id, f"zone {zone}"))
        elif zone in zones:
            left.append(NotCarried(Unsupported.ZONE_USED_TWICE, board_id, f"zone {zone}"))
        else:
            zones[zone] = migrated

    for item in _items(options, "binary_sensors", board_id, left):
        try:
            zone, config = _binary_sensor(item)
        except _Malformed as err:
            left.append(NotCarried(Unsupported.MALFORMED, board_id, f"binary sensor {err}"))
            continue
        if config.device_class not in _DEVICE_CLASSES:
            # ZoneBinarySensor would fail on it; the zone still works without one.
            left.append(
                NotCarried(
                    Unsupported.DEVICE_CLASS, board_id, f"zone {zone}: {config.device_class}"
                )
            )
            config = replace(config, device_class=None)
        accept(zone, MigratedZone(config))
    for item in _items(options, "sensors", board_id, left):
        try:
            zone, config = _climate_sensor(item)
        except _Malformed as err:
            left.append(NotCarried(Unsupported.MALFORMED, board_id, f"sensor {err}"))
            continue
        accept(zone, MigratedZone(config))
    outputs, output_left = _outputs(board_id, _items(options, "switches", board_id, left))
    left.extend(output_left)
    for zone, migrated in outputs.items():
        accept(zone, migrated)
    return zones, left


def _items(
    options: Mapping[str, Any], key: str, board_id: str, left: list[NotCarried]
) -> list[Mapping[str, Any]]:
    value = options.get(key) or []
    if not isinstance(value, list):
        left.append(NotCarried(Unsupported.MALFORMED, board_id, key))
        return []
    items = [item for item in value if isinstance(item, Mapping)]
    if len(items) != len(value):
        left.append(NotCarried(Unsupported.MALFORMED, board_id, key))
    return items


def _zone_of(item: Mapping[str, Any]) -> str:
    zone = item.get("zone")
    if isinstance(zone, bool) or not isinstance(zone, (str, int)):
        raise _Malformed(repr(item))
    return str(zone)


def _binary_sensor(item: Mapping[str, Any]) -> tuple[str, ZoneConfig]:
    """{zone, type (device class), name?, inverse} (config_flow.py:113-122)."""
    zone = _zone_of(item)
    device_class = item.get("type")
    if not isinstance(device_class, str) or not device_class:
        raise _Malformed(f"zone {zone}: type {device_class!r}")
    return zone, ZoneConfig(
        type=ZoneType.BINARY_SENSOR,
        name=_name(item),
        device_class=device_class,
        invert=bool(item.get("inverse", False)),
    )


def _climate_sensor(item: Mapping[str, Any]) -> tuple[str, ZoneConfig]:
    """{zone, type dht|ds18b20, name?, poll_interval minutes} (config_flow.py:124-135)."""
    zone = _zone_of(item)
    kind = str(item.get("type", "")).lower()
    if kind not in (ZoneType.DHT, ZoneType.DS18B20):
        raise _Malformed(f"zone {zone}: type {item.get('type')!r}")
    try:
        poll_interval = int(item.get("poll_interval") or DEFAULT_POLL_INTERVAL_MINUTES)
    except (TypeError, ValueError) as err:
        raise _Malformed(f"zone {zone}: poll_interval {item.get('poll_interval')!r}") from err
    return zone, ZoneConfig(type=ZoneType(kind), name=_name(item), poll_interval=poll_interval)


class _Pattern(NamedTuple):
    name: str | None
    momentary_ms: int | None
    pause_ms: int | None
    repeat: int | None


def _outputs(
    board_id: str, items: list[Mapping[str, Any]]
) -> tuple[dict[str, MigratedZone], list[NotCarried]]:
    """{zone, name?, activation high|low, momentary?, pause?, repeat?} (config_flow.py:137-148).

    Several entries on one zone are the `more_states` of config_flow.py:739-753: the first
    becomes the zone's own settings, each further one an OutputAction.
    """
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    left: list[NotCarried] = []
    for item in items:
        try:
            grouped.setdefault(_zone_of(item), []).append(item)
        except _Malformed as err:
            left.append(NotCarried(Unsupported.MALFORMED, board_id, f"switch {err}"))
    outputs: dict[str, MigratedZone] = {}
    for zone, states in grouped.items():
        try:
            patterns = [_pattern(zone, state) for state in states]
        except _Malformed as err:
            left.append(NotCarried(Unsupported.MALFORMED, board_id, f"switch {err}"))
            continue
        trigger = _trigger(states[0])
        left.extend(
            NotCarried(
                Unsupported.OUTPUT_LEVEL_DIFFERS, board_id, f"zone {zone}: {pattern.name or number}"
            )
            for number, (state, pattern) in enumerate(zip(states, patterns, strict=True), start=1)
            if _trigger(state) != trigger
        )
        first = patterns[0]
        config = ZoneConfig(
            type=ZoneType.SWITCH,
            name=first.name,
            trigger=trigger,
            momentary_ms=first.momentary_ms,
            pause_ms=first.pause_ms,
            repeat=first.repeat,
        )
        actions = tuple(
            OutputAction(action_key(number), p.name, p.momentary_ms, p.pause_ms, p.repeat)
            for number, p in enumerate(patterns[1:], start=2)
        )
        outputs[zone] = MigratedZone(config, actions)
    return outputs, left


def action_key(number: int) -> str:
    """Stable key of a zone's n-th action (n ≥ 2; the first is the zone itself)."""
    return f"action{number}"


def _pattern(zone: str, item: Mapping[str, Any]) -> _Pattern:
    try:
        return _Pattern(
            _name(item),
            _optional_int(item.get("momentary")),
            _optional_int(item.get("pause")),
            _optional_int(item.get("repeat")),
        )
    except (TypeError, ValueError) as err:
        raise _Malformed(f"zone {zone}: {dict(item)!r}") from err


def _trigger(item: Mapping[str, Any]) -> int:
    """Return the level that turns the output on: low → 0, anything else 1 (panel.py:292)."""
    return 0 if item.get("activation", "high") in (0, "low") else 1


def _name(item: Mapping[str, Any]) -> str | None:
    """Return the user's name, or None for the old default.

    Absent means 2026.5.4's default "Konnected <id[6:]> ..." (panel.py:205-244),
    which becomes this integration's own translated zone name instead.
    """
    name = item.get("name")
    return name if isinstance(name, str) and name.strip() else None


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise TypeError("a flag is no number")
    return int(value)


# --- entities ----------------------------------------------------------------------------------


def new_unique_id(board_id: str, key: str) -> str:
    """Return the unique id in this integration's scheme (entity.py: `<board id>_<key>`)."""
    return f"{board_id}_{key}"


def old_unique_ids(old_id: str, board: BoardMigration) -> dict[tuple[str, str], str]:
    """(domain, 2026.5.4 unique id) → new unique id, for every entity the settings produce.

    Old ids: binary_sensor.py:50 `<id>-<zone>`; sensor.py:114 `<id>-<zone>-<temperature|humidity>`;
    switch.py:63-66 `<id>-<zone>-<momentary>-<pause>-<repeat>` (None printed as "None").
    DS18B20 entities use the probe address alone (sensor.py:114) and are mapped by `map_entity`.
    """
    mapping: dict[tuple[str, str], str] = {}
    for zone, migrated in board.zones.items():
        config = migrated.config
        match config.type:
            case ZoneType.BINARY_SENSOR:
                mapping["binary_sensor", f"{old_id}-{zone}"] = new_unique_id(board.board_id, zone)
            case ZoneType.DHT:
                for key in DHT_KEYS:
                    mapping["sensor", f"{old_id}-{zone}-{key}"] = new_unique_id(
                        board.board_id, f"{zone}_{key}"
                    )
            case ZoneType.SWITCH:
                for key, pattern in switch_patterns(zone, migrated):
                    momentary, pause, repeat = (
                        pattern.momentary_ms,
                        pattern.pause_ms,
                        pattern.repeat,
                    )
                    old = f"{old_id}-{zone}-{momentary}-{pause}-{repeat}"
                    # Two states with one pattern shared one unique id: 2026.5.4 only ever
                    # registered the first, so the first keeps it.
                    mapping.setdefault(("switch", old), new_unique_id(board.board_id, key))
            case _:
                pass
    return mapping


def switch_patterns(zone: str, migrated: MigratedZone) -> list[tuple[str, _Pattern]]:
    """(entity key, pattern) of each switch of an output: the zone itself, then its actions."""
    config = migrated.config
    own = _Pattern(config.name, config.momentary_ms, config.pause_ms, config.repeat)
    return [(zone, own)] + [
        (
            f"{zone}_{action.key}",
            _Pattern(action.name, action.momentary_ms, action.pause_ms, action.repeat),
        )
        for action in migrated.actions
    ]


def map_entity(
    entity: OldEntity, board: BoardMigration, old_id: str, known: Mapping[tuple[str, str], str]
) -> EntityMove | None:
    """Return the move for one old entity of this board (`known`: `old_unique_ids`), or None."""
    new = known.get((entity.domain, entity.unique_id))
    if new is None and entity.domain == "sensor":
        zone = probe_zone(entity, board, old_id)
        if zone is not None:
            new = new_unique_id(board.board_id, f"{zone}_{probe_key(entity.unique_id)}")
    if new is None:
        return None
    return EntityMove(entity.entity_id, board.board_id, entity.unique_id, new)


def probe_key(address: str) -> str:
    """Return a DS18B20 address "28:FF:6C:..." as this integration's key (sensor.py, probe entities)."""
    return address.replace(":", "").lower()


def is_probe_address(value: str) -> bool:
    """Eight colon-separated hex bytes, as the firmware formats them (application.lua:100)."""
    parts = value.split(":")
    return len(parts) == 8 and all(len(part) == 2 and _is_hex(part) for part in parts)


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in text)


def probe_zone(entity: OldEntity, board: BoardMigration, old_id: str) -> str | None:
    """Return the DS18B20 zone of an old probe entity: the only one, or the one its name came from.

    The old entity's name is "<zone name> Temperature" (sensor.py:121-124), the zone name
    defaulting to "Konnected <id[6:]> Sensor <zone>" (panel.py:242-244).
    """
    if not is_probe_address(entity.unique_id):
        return None
    candidates = [zone for zone, m in board.zones.items() if m.config.type is ZoneType.DS18B20]
    if len(candidates) == 1:
        return candidates[0]
    named = [
        zone
        for zone in candidates
        if entity.original_name
        == f"{board.zones[zone].config.name or f'Konnected {old_id[6:]} Sensor {zone}'} Temperature"
    ]
    return named[0] if len(named) == 1 else None


# --- Home Assistant side -------------------------------------------------------------------------


@callback
def async_plan_from_hass(hass: HomeAssistant) -> MigrationPlan:
    """Read the old entries, entity and device registries of a running Home Assistant."""
    entries = [
        OldEntry(entry.entry_id, entry.title, entry.data, entry.options)
        for entry in hass.config_entries.async_entries(OLD_DOMAIN)
    ]
    entities = [
        OldEntity(entity.entity_id, entity.unique_id, entity.config_entry_id, entity.original_name)
        for entity in er.async_get(hass).entities.values()
        if entity.platform == OLD_DOMAIN
    ]
    device_registry = dr.async_get(hass)
    devices = [
        OldDevice(device.id, board_id, device.area_id, device.name_by_user)
        for entry in hass.config_entries.async_entries(OLD_DOMAIN)
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        for domain, board_id in device.identifiers
        if domain == OLD_DOMAIN
    ]
    return plan_migration(entries, entities, devices)
