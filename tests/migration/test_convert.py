"""Converting what Home Assistant 2026.5.4's `konnected` integration stored (the fixture was written
by 2026.5.4 itself: tests/fixtures/konnected_2026_5_4/generate.py) into this integration's boards,
zones and entity unique ids, and reporting what cannot be carried over."""

from __future__ import annotations

from collections.abc import Callable
import copy
from dataclasses import replace
from typing import Any

import pytest

from custom_components.konnected_aws.binary_sensor import ZoneBinarySensor
from custom_components.konnected_aws.hub import KonnectedHub
from custom_components.konnected_aws.migration import (
    BoardMigration,
    EntityMove,
    MigratedZone,
    MigrationPlan,
    NotCarried,
    OldEntity,
    OldEntry,
    OutputAction,
    Unsupported,
    async_plan_from_hass,
    plan_migration,
)
from custom_components.konnected_aws.runtime import BoardInfo
from custom_components.konnected_aws.sensor import (
    DhtHumiditySensor,
    DhtTemperatureSensor,
    ProbeTemperatureSensor,
)
from custom_components.konnected_aws.switch import ZoneSwitch
from custom_components.konnected_aws.zones import (
    ZoneConfig,
    ZoneType,
    firmware_zone_settings,
    zones_from_data,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from . import old_storage
from .old_storage import old_devices, old_entities, old_entries

PANEL = "5ccf7fa1b2c3"  # the Alarm Panel, discovered by SSDP and set up in the options flow
ADDON = "84f3eb3c4d5e"  # the Add-on, imported from configuration.yaml (settings in default_options)
PRO = "10128508"  # the Pro's chipId
PROBE = "28:FF:6C:2A:A1:16:05:9E"


def fixture_plan() -> MigrationPlan:
    return plan_migration(old_entries(), old_entities(), old_devices())


def board(plan: MigrationPlan, board_id: str) -> BoardMigration:
    (found,) = [b for b in plan.boards if b.board_id == board_id]
    return found


def switch(
    name: str | None,
    trigger: int,
    momentary: int | None = None,
    pause: int | None = None,
    repeat: int | None = None,
) -> ZoneConfig:
    return ZoneConfig(
        type=ZoneType.SWITCH,
        name=name,
        trigger=trigger,
        momentary_ms=momentary,
        pause_ms=pause,
        repeat=repeat,
    )


# --- the fixture is what 2026.5.4 writes ----------------------------------------------------------

# Field lists of 2026.5.4: config_entries.py:1182-1201 (ConfigEntry.as_dict),
# helpers/entity_registry.py:391-427 (RegistryEntry.as_storage_fragment),
# helpers/device_registry.py:411-440 (DeviceEntry.as_storage_fragment).
CONFIG_ENTRY_FIELDS = {
    "created_at", "data", "discovery_keys", "disabled_by", "domain", "entry_id", "minor_version",
    "modified_at", "options", "pref_disable_new_entities", "pref_disable_polling", "source",
    "subentries", "title", "unique_id", "version",
}  # fmt: skip
ENTITY_FIELDS = {
    "aliases", "aliases_v2", "area_id", "categories", "capabilities", "config_entry_id",
    "config_subentry_id", "created_at", "device_class", "device_id", "disabled_by",
    "entity_category", "entity_id", "hidden_by", "icon", "id", "has_entity_name", "labels",
    "modified_at", "name", "object_id_base", "options", "original_device_class", "original_icon",
    "original_name", "platform", "suggested_object_id", "supported_features", "translation_key",
    "unique_id", "previous_unique_id", "unit_of_measurement",
}  # fmt: skip
DEVICE_FIELDS = {
    "area_id", "config_entries", "config_entries_subentries", "configuration_url", "connections",
    "created_at", "disabled_by", "entry_type", "hw_version", "id", "identifiers", "labels",
    "manufacturer", "model", "model_id", "modified_at", "name_by_user", "name",
    "primary_config_entry", "serial_number", "sw_version", "via_device_id",
}  # fmt: skip


def test_fixture_has_2026_5_4_storage_versions_and_fields() -> None:
    """Versions of 2026.5.4 (config_entries.py:135-137, entity_registry.py:82-84,
    device_registry.py:59-61) and exactly its fields; a hand-edited fixture fails here."""
    versions = {
        key: (doc["version"], doc["minor_version"], doc["key"])
        for key in old_storage.STORAGE_KEYS[:3]
        if (doc := old_storage.document(key))
    }
    assert versions == {
        "core.config_entries": (1, 5, "core.config_entries"),
        "core.entity_registry": (1, 22, "core.entity_registry"),
        "core.device_registry": (1, 12, "core.device_registry"),
    }
    assert all(set(entry) == CONFIG_ENTRY_FIELDS for entry in old_storage.config_entries())
    assert all(set(entity) == ENTITY_FIELDS for entity in old_storage.registry_entities())
    assert all(set(device) == DEVICE_FIELDS for device in old_storage.registry_devices())
    assert set(old_storage.document("core.entity_registry")["data"]) == {
        "entities",
        "deleted_entities",
    }


def test_fixture_entries_are_what_the_konnected_flows_store() -> None:
    """data {access_token, default_options, host, id, model, port} (config_flow.py:198-206,385-393);
    a UI entry's default_options is OPTIONS_SCHEMA({io: {}}) with all 16 zones "Disabled"."""
    for entry in old_storage.config_entries():
        if entry["domain"] != "konnected":
            continue
        assert set(entry["data"]) == {
            "access_token",
            "default_options",
            "host",
            "id",
            "model",
            "port",
        }
        assert entry["unique_id"] == entry["data"]["id"]
        assert (entry["version"], entry["minor_version"]) == (1, 1)
        assert len(entry["data"]["default_options"]["io"]) == 16
    sources = {
        entry["data"]["id"]: entry["source"]
        for entry in old_storage.config_entries()
        if entry["domain"] == "konnected"
    }
    assert sources == {PANEL: "ssdp", ADDON: "import", PRO: "user"}


# --- boards ---------------------------------------------------------------------------------------


def test_boards_with_address_model_and_old_title() -> None:
    """Both ESP8266 boards are offered with the old entry's title, address and model."""
    plan = fixture_plan()
    summary = {(b.board_id, b.host, b.port, b.model, b.title) for b in plan.boards}
    assert summary == {
        (PANEL, "192.168.1.61", 18597, "Konnected", "Konnected Alarm Panel"),
        (ADDON, "192.168.1.62", 11951, "Konnected", "Konnected Alarm Panel"),
    }
    entry_ids = {e.data["id"]: e.entry_id for e in old_entries()}
    assert {b.board_id: b.entry_id for b in plan.boards} == {
        PANEL: entry_ids[PANEL],
        ADDON: entry_ids[ADDON],
    }


def test_pro_is_reported_not_supported() -> None:
    """The Pro is no board to adopt; it is listed once, and none of its entities moves."""
    plan = fixture_plan()
    assert PRO not in {b.board_id for b in plan.boards}
    pro = [item for item in plan.not_carried if item.board_id == PRO]
    assert pro == [NotCarried(Unsupported.PRO_BOARD, PRO, "Konnected Alarm Panel Pro")]
    assert "not supported" in pro[0].describe()
    pro_entry = next(e.entry_id for e in old_entries() if e.data["id"] == PRO)
    pro_entities = {e.entity_id for e in old_entities() if e.config_entry_id == pro_entry}
    assert len(pro_entities) == 3
    assert not pro_entities & {move.entity_id for move in plan.entities}


def test_blink_and_discovery() -> None:
    """Panel: LED blink switched off in the options flow; Add-on: discovery off in YAML."""
    plan = fixture_plan()
    assert (board(plan, PANEL).blink, board(plan, PANEL).discovery) == (False, True)
    assert (board(plan, ADDON).blink, board(plan, ADDON).discovery) == (True, False)


def test_device_area_and_user_name() -> None:
    """The old device's area and name given by the user come with the board."""
    plan = fixture_plan()
    panel_device = board(plan, PANEL).device
    addon_device = board(plan, ADDON).device
    assert panel_device is not None and addon_device is not None
    assert (panel_device.area_id, panel_device.name_by_user) == ("hallway", "Alarm panel")
    assert (addon_device.area_id, addon_device.name_by_user) == ("garage", "Garage add-on")
    devices = {d["id"]: d for d in old_storage.registry_devices()}
    assert devices[panel_device.device_id]["identifiers"] == [["konnected", PANEL]]


# --- zones ----------------------------------------------------------------------------------------


def test_panel_zones_from_the_options_flow() -> None:
    """Every zone of the options: names, device classes, the inverted motion sensor, DHT and
    DS18B20 poll intervals, the siren on when low with its chirp, and Arm away / Arm stay."""
    assert board(fixture_plan(), PANEL).zones == {
        "1": MigratedZone(ZoneConfig(ZoneType.BINARY_SENSOR, "Front Door", "door", invert=False)),
        "2": MigratedZone(ZoneConfig(ZoneType.BINARY_SENSOR, "Living Room Windows", "window")),
        "3": MigratedZone(
            ZoneConfig(ZoneType.BINARY_SENSOR, "Hallway Motion", "motion", invert=True)
        ),
        "4": MigratedZone(ZoneConfig(ZoneType.DHT, "Attic", poll_interval=5)),
        "5": MigratedZone(ZoneConfig(ZoneType.DS18B20, "Freezer", poll_interval=2)),
        "6": MigratedZone(
            switch("Siren", trigger=0),
            (OutputAction("action2", "Siren chirp", momentary_ms=150, pause_ms=150, repeat=2),),
        ),
        "out": MigratedZone(
            switch("Arm away", trigger=1, momentary=1000),
            (OutputAction("action2", "Arm stay", momentary_ms=3000),),
        ),
    }


def test_addon_zones_from_yaml_default_options() -> None:
    """An imported entry has empty options; 2026.5.4 used default_options (panel.py:71-73)."""
    addon = next(e for e in old_entries() if e.data["id"] == ADDON)
    assert dict(addon.options) == {}
    plan = fixture_plan()
    assert board(plan, ADDON).zones == {
        "1": MigratedZone(ZoneConfig(ZoneType.BINARY_SENSOR, "Back Door", "door")),
        # No name: 2026.5.4 showed "Konnected 3c4d5e Zone 2"; ours names it itself.
        "2": MigratedZone(ZoneConfig(ZoneType.BINARY_SENSOR, None, "smoke")),
        "out": MigratedZone(switch("Garage Door Button", trigger=1, momentary=500)),
    }
    # Its YAML api_host is of no use any more and is said so.
    assert NotCarried(Unsupported.API_HOST, ADDON, "http://192.168.1.10:8123") in plan.not_carried


def test_migrated_zones_provision_the_board_like_2026_5_4() -> None:
    """The firmware gets the same inputs, output levels and poll intervals 2026.5.4 sent
    (panel.py:280-317), keyed by pin (which every firmware release reads: zones 1, 2, 3, 4, 5,
    6, out are pins 1, 2, 5, 6, 7, 9, 8); and the settings survive our subentry storage."""
    zones = {zone: migrated.config for zone, migrated in board(fixture_plan(), PANEL).zones.items()}
    assert firmware_zone_settings(zones) == {
        "sensors": [{"pin": 1}, {"pin": 2}, {"pin": 5}],
        "actuators": [{"pin": 9, "trigger": 0}, {"pin": 8, "trigger": 1}],
        "dht_sensors": [{"pin": 6, "poll_interval": 5}],
        "ds18b20_sensors": [{"pin": 7, "poll_interval": 2}],
    }
    assert zones_from_data({zone: config.as_dict() for zone, config in zones.items()}) == zones
    actions = board(fixture_plan(), PANEL).zones["out"].actions
    assert [OutputAction.from_dict(action.as_dict()) for action in actions] == list(actions)


def test_nothing_else_is_reported_for_the_fixture() -> None:
    """Besides the Pro and the Add-on's api_host, everything is carried over."""
    assert set(fixture_plan().not_carried) == {
        NotCarried(Unsupported.PRO_BOARD, PRO, "Konnected Alarm Panel Pro"),
        NotCarried(Unsupported.API_HOST, ADDON, "http://192.168.1.10:8123"),
    }


# --- entities -------------------------------------------------------------------------------------

EXPECTED_MOVES = {
    # entity id as the user has it (some renamed) → new unique id
    "binary_sensor.front_door": f"{PANEL}_1",
    "binary_sensor.konnected_alarm_panel_living_room_windows": f"{PANEL}_2",
    "binary_sensor.motion_hallway": f"{PANEL}_3",
    "sensor.konnected_alarm_panel_attic_temperature": f"{PANEL}_4_temperature",
    "sensor.konnected_alarm_panel_attic_humidity": f"{PANEL}_4_humidity",
    "sensor.konnected_alarm_panel_freezer_temperature": f"{PANEL}_5_28ff6c2aa116059e",
    "switch.konnected_alarm_panel_siren": f"{PANEL}_6",
    "switch.konnected_alarm_panel_siren_chirp": f"{PANEL}_6_action2",
    "switch.alarm_arm_away": f"{PANEL}_out",
    "switch.alarm_arm_stay": f"{PANEL}_out_action2",
    "binary_sensor.konnected_alarm_panel_back_door": f"{ADDON}_1",
    "binary_sensor.konnected_alarm_panel_konnected_3c4d5e_zone_2": f"{ADDON}_2",
    "switch.konnected_alarm_panel_garage_door_button": f"{ADDON}_out",
}


def test_every_old_entity_gets_its_new_unique_id() -> None:
    """Each entity of the two boards maps to `<board>_<key>`; the old unique ids are 2026.5.4's."""
    moves = {move.entity_id: move for move in fixture_plan().entities}
    assert {entity_id: move.new_unique_id for entity_id, move in moves.items()} == EXPECTED_MOVES
    assert moves["switch.alarm_arm_stay"].old_unique_id == f"{PANEL}-out-3000-None-None"
    assert moves["switch.konnected_alarm_panel_siren_chirp"].old_unique_id == f"{PANEL}-6-150-150-2"
    assert (
        moves["sensor.konnected_alarm_panel_attic_humidity"].old_unique_id == f"{PANEL}-4-humidity"
    )
    assert moves["sensor.konnected_alarm_panel_freezer_temperature"].old_unique_id == PROBE
    assert moves["binary_sensor.motion_hallway"] == EntityMove(
        "binary_sensor.motion_hallway", PANEL, f"{PANEL}-3", f"{PANEL}_3"
    )


def test_the_automations_entity_ids_are_moved() -> None:
    """Both automations of the fixture use entity ids that get moved (so they keep working)."""
    automations = (old_storage.FIXTURE / "automations.yaml").read_text()
    used = {"binary_sensor.motion_hallway", "binary_sensor.front_door", "switch.alarm_arm_away"}
    assert all(entity_id in automations for entity_id in used)
    assert used <= set(EXPECTED_MOVES)


async def test_new_unique_ids_are_what_our_entities_use(hass: HomeAssistant) -> None:
    """The zone, DHT and probe entities of this integration, built from the migrated zones,
    carry exactly the unique ids the plan gives (entity.py: `<board>_<key>`)."""
    panel = board(fixture_plan(), PANEL)
    zones = {zone: migrated.config for zone, migrated in panel.zones.items()}
    info = BoardInfo(
        "subentry", PANEL, panel.title, panel.host, panel.port, panel.model, None, None, zones
    )

    async def no_levels(board_id: str) -> None:
        return None

    hub = KonnectedHub(hass, "entry", no_levels)
    built = {
        *(ZoneBinarySensor(hub, info, zone, zones[zone]).unique_id for zone in ("1", "2", "3")),
        DhtTemperatureSensor(hub, info, "4").unique_id,
        DhtHumiditySensor(hub, info, "4").unique_id,
        ProbeTemperatureSensor(hub, info, "5", PROBE).unique_id,
        ZoneSwitch(hub, info, "6", zones["6"]).unique_id,
        ZoneSwitch(hub, info, "out", zones["out"]).unique_id,
    }
    planned = {move.new_unique_id for move in fixture_plan().entities if move.board_id == PANEL}
    assert built <= planned
    # What is left are the further actions, whose entities the actions extension adds.
    assert planned - built == {f"{PANEL}_6_action2", f"{PANEL}_out_action2"}


# --- the fixture in a real Home Assistant of today ------------------------------------------------


async def test_plan_from_a_running_home_assistant(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Today's Home Assistant loads (and migrates) the 2026.5.4 files; reading the old entries,
    entities and devices from it gives the same plan as from the files."""
    old_storage.fill(hass_storage)
    await old_storage.async_load_into(hass)
    registry = er.async_get(hass)
    for entity_id in EXPECTED_MOVES:
        entry = registry.async_get(entity_id)
        assert entry is not None and entry.platform == "konnected", entity_id
    humidity = registry.async_get("sensor.konnected_alarm_panel_attic_humidity")
    assert humidity is not None and humidity.disabled_by is er.RegistryEntryDisabler.USER
    plan = async_plan_from_hass(hass)
    expected = fixture_plan()
    assert sorted(plan.boards, key=lambda b: b.board_id) == sorted(
        expected.boards, key=lambda b: b.board_id
    )
    assert set(plan.entities) == set(expected.entities)
    assert set(plan.not_carried) == set(expected.not_carried)


# --- what cannot be carried over, on variants of the fixture --------------------------------------


def panel_entry(change: Callable[[dict[str, Any]], object]) -> OldEntry:
    """The Panel's entry with its options changed."""
    entry = next(e for e in old_entries() if e.data["id"] == PANEL)
    options = copy.deepcopy(dict(entry.options))
    change(options)
    return replace(entry, options=options)


def plan_with_panel(change: Callable[[dict[str, Any]], object]) -> MigrationPlan:
    entries = [panel_entry(change) if e.data["id"] == PANEL else e for e in old_entries()]
    return plan_migration(entries, old_entities(), old_devices())


def test_entity_of_a_zone_no_longer_set_up_is_reported() -> None:
    """Zone 2 disabled after its entity was registered: the entity stays behind, listed."""
    plan = plan_with_panel(lambda o: o.update(binary_sensors=o["binary_sensors"][::2]))
    entity_id = "binary_sensor.konnected_alarm_panel_living_room_windows"
    assert entity_id not in {move.entity_id for move in plan.entities}
    assert NotCarried(Unsupported.ENTITY_NOT_CONFIGURED, PANEL, entity_id) in plan.not_carried


def test_sensors_of_a_zone_no_longer_dht_are_reported() -> None:
    """Zone 4 rewired from DHT to a contact: both old climate entities stay behind, listed."""
    plan = plan_with_panel(
        lambda o: (
            o.update(sensors=o["sensors"][1:]),
            o["binary_sensors"].append({"zone": "4", "type": "door", "inverse": False}),
        )
    )
    assert board(plan, PANEL).zones["4"].config.type is ZoneType.BINARY_SENSOR
    for key in ("temperature", "humidity"):
        entity_id = f"sensor.konnected_alarm_panel_attic_{key}"
        assert NotCarried(Unsupported.ENTITY_NOT_CONFIGURED, PANEL, entity_id) in plan.not_carried


def test_changed_pulse_leaves_the_old_switch_behind() -> None:
    """2026.5.4 put the pulse into the unique id (#34951): an entity of an older pulse setting
    matches no action and is reported, not moved onto another action."""

    def slower(options: dict[str, Any]) -> None:
        options["switches"][3]["momentary"] = 4000

    plan = plan_with_panel(slower)
    assert (
        NotCarried(Unsupported.ENTITY_NOT_CONFIGURED, PANEL, "switch.alarm_arm_stay")
        in plan.not_carried
    )
    assert board(plan, PANEL).zones["out"].actions == (
        OutputAction("action2", "Arm stay", momentary_ms=4000),
    )


def test_actions_with_another_output_level_are_reported() -> None:
    """One level per output: the first state's is kept, the differing one is named."""

    def chirp_high(options: dict[str, Any]) -> None:
        options["switches"][1]["activation"] = "high"

    plan = plan_with_panel(chirp_high)
    assert board(plan, PANEL).zones["6"].config.trigger == 0
    assert (
        NotCarried(Unsupported.OUTPUT_LEVEL_DIFFERS, PANEL, "zone 6: Siren chirp")
        in plan.not_carried
    )


def test_repeat_forever_pattern_keeps_its_entity() -> None:
    """repeat -1 prints as "--1" in the old unique id; the entity still moves."""
    entry = panel_entry(lambda o: o["switches"][1].update(repeat=-1))
    chirp = OldEntity(
        "switch.chirp_forever", f"{PANEL}-6-150-150--1", entry.entry_id, "Siren chirp"
    )
    plan = plan_migration([entry], [chirp])
    assert plan.entities == (
        EntityMove("switch.chirp_forever", PANEL, chirp.unique_id, f"{PANEL}_6_action2"),
    )
    assert board(plan, PANEL).zones["6"].actions[0].repeat == -1


def test_zones_the_board_does_not_have_are_reported() -> None:
    """A YAML setup could name Pro zones on an ESP8266 board; they are listed, the rest kept."""
    plan = plan_with_panel(
        lambda o: o["binary_sensors"].append({"zone": "9", "type": "door", "inverse": False})
    )
    assert "9" not in board(plan, PANEL).zones
    assert NotCarried(Unsupported.ZONE_NOT_ON_BOARD, PANEL, "zone 9") in plan.not_carried


def test_a_zone_set_up_twice_keeps_the_first() -> None:
    plan = plan_with_panel(
        lambda o: o["sensors"].append({"zone": "1", "type": "dht", "poll_interval": 3})
    )
    assert board(plan, PANEL).zones["1"].config.type is ZoneType.BINARY_SENSOR
    assert NotCarried(Unsupported.ZONE_USED_TWICE, PANEL, "zone 1") in plan.not_carried


def test_probe_of_two_ds18b20_zones_is_told_by_its_name() -> None:
    """With two 1-Wire zones the probe's zone comes from its old name "<zone name> Temperature"."""
    second = {"zone": "2", "type": "ds18b20", "name": "Cellar", "poll_interval": 3}
    entry = panel_entry(
        lambda o: (o.update(binary_sensors=o["binary_sensors"][::2]), o["sensors"].append(second))
    )
    probe = next(e for e in old_entities() if e.unique_id == PROBE)
    assert (
        plan_migration([entry], [probe]).entities[0].new_unique_id == f"{PANEL}_5_28ff6c2aa116059e"
    )
    renamed = replace(probe, original_name="Something Temperature")
    plan = plan_migration([entry], [renamed])
    assert plan.entities == ()
    assert plan.not_carried == (NotCarried(Unsupported.PROBE_ZONE_UNKNOWN, PANEL, probe.entity_id),)


def test_unnamed_probe_zone_uses_the_old_default_name() -> None:
    """An unnamed DS18B20 zone was "Konnected <id[6:]> Sensor <zone>" (panel.py:242-244)."""
    second = {"zone": "2", "type": "ds18b20", "poll_interval": 3}
    entry = panel_entry(
        lambda o: (o.update(binary_sensors=o["binary_sensors"][::2]), o["sensors"].append(second))
    )
    probe = OldEntity(
        "sensor.cellar_probe",
        "28:AA:00:00:00:00:00:01",
        entry.entry_id,
        "Konnected a1b2c3 Sensor 2 Temperature",
    )
    assert (
        plan_migration([entry], [probe]).entities[0].new_unique_id == f"{PANEL}_2_28aa000000000001"
    )


def test_unknown_device_class_is_dropped_and_reported() -> None:
    """A device class today's Home Assistant does not know would break the entity."""
    plan = plan_with_panel(lambda o: o["binary_sensors"][0].update(type="doorbell"))
    assert board(plan, PANEL).zones["1"].config == ZoneConfig(ZoneType.BINARY_SENSOR, "Front Door")
    assert NotCarried(Unsupported.DEVICE_CLASS, PANEL, "zone 1: doorbell") in plan.not_carried
    # The entity still moves: its unique id does not depend on the device class.
    assert "binary_sensor.front_door" in {move.entity_id for move in plan.entities}


def test_entity_without_its_entry_is_reported() -> None:
    orphan = OldEntity("binary_sensor.lost", f"{PANEL}-1", "gone", None)
    assert plan_migration(old_entries(), [orphan]).not_carried[-1] == NotCarried(
        Unsupported.ENTITY_WITHOUT_ENTRY, None, "binary_sensor.lost"
    )


@pytest.mark.parametrize(
    ("change", "subject"),
    [
        (lambda o: o.update(binary_sensors="zone 1"), "binary_sensors"),
        (lambda o: o["binary_sensors"].append("zone 4"), "binary_sensors"),
        (lambda o: o["binary_sensors"].append({"zone": None, "type": "door"}), "binary sensor"),
        (lambda o: o["binary_sensors"].append({"zone": "4", "type": 7}), "binary sensor zone 4"),
        (lambda o: o["sensors"].append({"zone": "6", "type": "bme280"}), "sensor zone 6"),
        (
            lambda o: o["sensors"].append({"zone": "6", "type": "dht", "poll_interval": "often"}),
            "sensor zone 6",
        ),
        (lambda o: o["switches"].append({"zone": "2", "momentary": "long"}), "switch zone 2"),
        (lambda o: o["switches"].append({"zone": ["2"]}), "switch"),
        (lambda o: o["switches"].append({"zone": "2", "pause": True}), "switch zone 2"),
    ],
)
def test_malformed_settings_are_reported_not_raised(
    change: Callable[[dict[str, Any]], object], subject: str
) -> None:
    """Settings 2026.5.4's schemas would never have stored: listed, everything else converted."""
    plan = plan_with_panel(change)
    malformed = [item for item in plan.not_carried if item.reason is Unsupported.MALFORMED]
    assert len(malformed) == 1 and malformed[0].subject.startswith(subject), malformed
    assert board(plan, PANEL).zones["out"].actions  # the rest is still there


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"id": "5ccf7fa1b2c3", "model": "Konnected", "port": 18597}, Unsupported.MALFORMED),
        (
            {"id": "5ccf7fa1b2c3", "model": "Konnected", "host": "h", "port": "x"},
            Unsupported.MALFORMED,
        ),
        ({"id": "somechipid", "model": "Konnected", "host": "h", "port": 1}, Unsupported.NOT_A_MAC),
        (
            {"id": "5ccf7fa1b2c3", "model": "Konnected Pro", "host": "h", "port": 1},
            Unsupported.PRO_BOARD,
        ),
    ],
)
def test_boards_that_cannot_be_adopted(data: dict[str, Any], reason: Unsupported) -> None:
    entity = OldEntity("binary_sensor.x", f"{data['id']}-1", "e1", "x")
    plan = plan_migration([OldEntry("e1", "Old board", data, {})], [entity])
    assert plan.boards == () and plan.entities == ()
    assert [item.reason for item in plan.not_carried] == [reason]


def test_every_reason_reads_as_a_sentence() -> None:
    for reason in Unsupported:
        assert NotCarried(reason, PANEL, "zone 1").describe().startswith(f"{PANEL}: zone 1: ")
