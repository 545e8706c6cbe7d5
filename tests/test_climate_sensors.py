"""DHT and DS18B20 zones end to end: configured in the UI, reported by the simulated board,
shown as sensors; a DS18B20 probe that appears later gets its own entity."""

from __future__ import annotations

from custom_components.konnected_aws.const import DOMAIN
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from .conftest import BoardFactory
from .test_end_to_end import MAC, configure_zones, setup_account, wait_for


async def test_dht_and_ds18b20_zones(hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory) -> None:
    """Zone 5 a DHT, zone 6 a 1-Wire bus; readings reach their sensors, unknown until then."""
    board = await make_board(MAC)
    entry_id = await setup_account(hass, iot_emulator)
    result = await hass.config_entries.subentries.async_init((entry_id, "board"), context={"source": SOURCE_USER})
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": board.http_port}
    )
    zones: dict[str, dict[str, object]] = {
        "5": {"type": "dht", "poll_interval": 2, "name": "Attic"},
        "6": {"type": "ds18b20", "poll_interval": 2, "name": ""},
    }
    result = await configure_zones(hass, result["flow_id"], zones)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()

    # The firmware got the sensors with their poll interval (milliseconds).
    assert [sensor["poll_interval"] for sensor in board.dht_sensors] == [2]
    assert len(board.ds18b20_sensors) == 1

    registry = er.async_get(hass)
    temperature = registry.async_get_entity_id("sensor", DOMAIN, f"{board.device_id}_5_temperature")
    humidity = registry.async_get_entity_id("sensor", DOMAIN, f"{board.device_id}_5_humidity")
    assert temperature is not None and humidity is not None
    assert hass.states.get(temperature).name.endswith("Attic temperature")

    board.set_dht("5", 21.4, 48.0)
    await wait_for(lambda: hass.states.get(temperature).state == "21.4")
    assert hass.states.get(humidity).state == "48.0"
    assert hass.states.get(temperature).attributes["unit_of_measurement"] == UnitOfTemperature.CELSIUS

    # Probes are only known once they report: each new address adds a sensor.
    board.set_probe("6", "28:FF:64:1E:0F:24:A1:3F", 19.5)
    await wait_for(lambda: registry.async_get_entity_id("sensor", DOMAIN, f"{board.device_id}_6_28ff641e0f24a13f") is not None)
    probe = registry.async_get_entity_id("sensor", DOMAIN, f"{board.device_id}_6_28ff641e0f24a13f")
    assert probe is not None
    await wait_for(lambda: hass.states.get(probe) is not None and hass.states.get(probe).state == "19.5")
    board.set_probe("6", "28:FF:64:1E:0F:24:A1:3F", 20.0)
    await wait_for(lambda: hass.states.get(probe).state == "20.0")
