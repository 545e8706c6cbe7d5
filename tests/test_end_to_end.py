"""A simulated board discovered, adopted through the config flow, connected through the
emulated custom authorizer, and bridged into Home Assistant entities."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import aiomqtt
import pytest

from custom_components.konnected_aws.cloud.signing import generate_key_pair, sign_token
from custom_components.konnected_aws.const import DOMAIN
from devtools.board_simulator import SimulatedBoard
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import (
    SOURCE_SSDP,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    SubentryFlowResult,
)
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo

from .conftest import BoardFactory

MAC = "88:40:f5:20:99:48"
OTHER_MAC = "5c:cf:7f:00:00:01"


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until true (state arrives through real sockets)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def setup_account(hass: HomeAssistant, emulator: IotEmulator) -> str:
    """The user step with the emulator's endpoints; returns the entry id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "access_key_id": "AKIAEMULATOR",
            "secret_access_key": "emulator-secret",
            "region": emulator.region,
            "advanced": {"aws_endpoint_url": emulator.aws_endpoint_url, "iot_url": emulator.ws_url},
        },
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None and entry.state is ConfigEntryState.LOADED
    return entry.entry_id


def ssdp_info(board: SimulatedBoard) -> SsdpServiceInfo:
    """What HA's ssdp integration hands over for the board's answer."""
    return SsdpServiceInfo(
        ssdp_usn=f"{board.udn}::urn:schemas-konnected-io:device:Security:1",
        ssdp_st="urn:schemas-konnected-io:device:Security:1",
        ssdp_location=f"http://127.0.0.1:{board.http_port}/Device.xml",
        upnp={"manufacturer": "konnected.io", "modelName": "Konnected", "UDN": board.udn},
    )


async def adopt(hass: HomeAssistant, board: SimulatedBoard) -> None:
    """One click on the discovered board."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "adopt"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "adopted"
    await hass.async_block_till_done()


async def adopted_board(
    hass: HomeAssistant, emulator: IotEmulator, make_board: BoardFactory, mac: str = MAC
) -> tuple[SimulatedBoard, ConfigEntry]:
    """A simulated board adopted into a freshly added account; returns it and the account entry."""
    board = await make_board(mac)
    entry_id = await setup_account(hass, emulator)
    await adopt(hass, board)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    return board, entry


ZONE_NAMES = ("1", "2", "3", "4", "5", "6", "out")


async def configure_zones(
    hass: HomeAssistant, flow_id: str, zones: dict[str, dict[str, object]], *, blink: bool = True
) -> SubentryFlowResult:
    """The board flow's two zone steps: each zone's type, then the settings of the wired ones.

    `zones` maps a zone to its type and settings; zones left out are not wired.
    """
    types: dict[str, object] = {f"zone_{zone}": zones.get(zone, {}).get("type", "disabled") for zone in ZONE_NAMES}
    result = await hass.config_entries.subentries.async_configure(flow_id, {**types, "blink": blink})
    if result["type"] is not FlowResultType.FORM or result["step_id"] != "zone_settings":
        return result
    settings = {
        f"zone_{zone}": {key: value for key, value in config.items() if key != "type"}
        for zone, config in zones.items()
        if config.get("type", "disabled") != "disabled"
    }
    return await hass.config_entries.subentries.async_configure(flow_id, settings)


def entity_id(hass: HomeAssistant, domain: str, unique_id: str) -> str:
    """Entity id by unique id (ids never depend on settings)."""
    found = er.async_get(hass).async_get_entity_id(domain, DOMAIN, unique_id)
    assert found is not None, unique_id
    return found


async def test_discover_adopt_bridge_and_survive_a_broker_restart(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """The whole path, from SSDP to entity states and back to the board."""
    board = await make_board(MAC)
    await setup_account(hass, iot_emulator)
    await adopt(hass, board)

    # The board connected through the custom authorizer as its own principal.
    assert board.settings["endpoint_type"] == "aws_iot"
    assert board.mqtt_connected.is_set()
    principals = {auth.principal_id for auth in iot_emulator.by_client.values()}
    assert board.device_id in principals

    zone_1 = entity_id(hass, "binary_sensor", f"{board.device_id}_1")
    output = entity_id(hass, "switch", f"{board.device_id}_out")
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_OFF)

    board.set_zone("1", 1)
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_ON)
    board.set_zone("1", 0)
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_OFF)

    await hass.services.async_call("switch", "turn_on", {"entity_id": output}, blocking=True)
    await wait_for(lambda: board.level("out") == 1)
    await wait_for(lambda: hass.states.get(output).state == STATE_ON)
    await hass.services.async_call("switch", "turn_off", {"entity_id": output}, blocking=True)
    await wait_for(lambda: hass.states.get(output).state == STATE_OFF)

    # A broker outage: entities go unavailable, and come back with the true state,
    # including a change that happened while nothing could be reported.
    await iot_emulator.stop_broker()
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_UNAVAILABLE)
    board.set_zone("1", 1)
    await iot_emulator.start_broker()
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_ON, timeout=20)
    board.set_zone("1", 0)
    await wait_for(lambda: hass.states.get(zone_1).state == STATE_OFF)


async def test_a_board_with_another_boards_token_is_refused(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """A forged signature is refused at connect; a stolen valid token cannot reach its own topics."""
    board, _entry = await adopted_board(hass, iot_emulator, make_board)
    intruder = await make_board(OTHER_MAC)
    token, signature = await hass.async_add_executor_job(iot_emulator.signed_token, board.device_id)

    def provision(token: str, signature: str) -> dict[str, object]:
        return {
            "endpoint_type": "aws_iot",
            "endpoint": iot_emulator.ws_url,
            "aws": {
                "authorizer": "konnected-aws",
                "token": token,
                "token_signature": signature,
                "topics": {
                    "sensor": f"konnected/{intruder.device_id}/sensor",
                    "heartbeat": f"konnected/{intruder.device_id}/heartbeat",
                    "switch": f"konnected/{intruder.device_id}/switch",
                },
            },
            "sensors": [{"zone": 1}],
        }

    def forged_signature(token: str) -> str:
        return sign_token(generate_key_pair().private_pem, token)

    denied_before = len(iot_emulator.denials)
    async with aiomqtt_session() as session, session.put(
        f"http://127.0.0.1:{intruder.http_port}/settings",
        json=provision(token, forged_signature(token)),
    ) as response:
        assert response.status == 200
    await asyncio.sleep(1.0)
    assert not intruder.mqtt_connected.is_set()

    # With the other board's valid token it is that board's principal: only that board's
    # topics are allowed, and touching any other gets the connection dropped.
    rogue = iot_emulator.mqtt_client(token, signature)
    with pytest.raises(aiomqtt.MqttError):  # noqa: PT012 - the emulator drops the session at some point inside it
        async with rogue:
            await rogue.subscribe(f"konnected/{intruder.device_id}/switch", qos=1)
            await rogue.publish(f"konnected/{intruder.device_id}/sensor", b'{"zone":1,"state":1}', qos=1)
            await asyncio.sleep(2)
            await rogue.publish(f"konnected/{intruder.device_id}/sensor", b'{"zone":1,"state":1}', qos=1)
    assert iot_emulator.denials[denied_before:]
    assert all(principal == board.device_id for _, principal, _ in iot_emulator.denials[denied_before:])


def aiomqtt_session():  # type: ignore[no-untyped-def]
    """A plain aiohttp session for talking to the simulated board like a user would."""
    return aiohttp.ClientSession()


async def test_two_discovered_boards_adopted_back_to_back(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """Adopting reloads the account entry; a second click right after the first waits for it."""
    first = await make_board(MAC)
    second = await make_board(OTHER_MAC)
    await setup_account(hass, iot_emulator)
    flows = [
        await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(board))
        for board in (first, second)
    ]
    assert [flow["step_id"] for flow in flows] == ["adopt", "adopt"]
    for flow in flows:
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "adopted"
    await hass.async_block_till_done()

    for board in (first, second):
        zone_1 = entity_id(hass, "binary_sensor", f"{board.device_id}_1")
        board.set_zone("1", 1)
        await wait_for(lambda zone_1=zone_1: hass.states.get(zone_1).state == STATE_ON)


async def test_a_pulse_on_232_firmware_shows_its_end(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory
) -> None:
    """2.3.2 reports the level right after switching and never the pulse's end (aws_iot.lua):
    Home Assistant reads the level back once the pulse is over, so the output does not stay on."""
    from devtools.board_simulator import SimulatedBoard, Timing  # noqa: PLC0415

    from .conftest import FAST  # noqa: PLC0415

    board = SimulatedBoard(MAC, sw_version="2.3.2", timing=Timing(**vars(FAST)))
    await board.start()
    try:
        entry_id = await setup_account(hass, iot_emulator)
        await adopt(hass, board)
        entry = hass.config_entries.async_get_entry(entry_id)
        assert entry is not None
        subentry_id = next(iter(entry.subentries))
        result = await hass.config_entries.subentries.async_init(
            (entry_id, "board"), context={"source": "reconfigure", "subentry_id": subentry_id}
        )
        result = await configure_zones(
            hass, result["flow_id"], {"1": {"type": "binary_sensor"}, "out": {"type": "switch", "momentary_ms": 300}}
        )
        assert result["type"] is FlowResultType.ABORT, result
        output = entity_id(hass, "switch", f"{board.device_id}_out")
        await wait_for(lambda: hass.states.get(output).state == STATE_OFF)
        await hass.services.async_call("switch", "turn_on", {"entity_id": output}, blocking=True)
        await wait_for(lambda: hass.states.get(output).state == STATE_ON)
        await wait_for(lambda: hass.states.get(output).state == STATE_OFF, timeout=10)
    finally:
        await board.close()
