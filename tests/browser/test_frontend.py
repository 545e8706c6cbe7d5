"""A user's first hour with konnected_aws, clicked through Home Assistant's real frontend.

Headless Chromium against `hass` on 127.0.0.1 with the local AWS IoT emulator (moto + the
broker running the shipped authorizer) and two simulated boards: one answers SSDP, the other
is reachable only by address. Each step is a helper below; a failing step leaves a screenshot,
the page HTML and the logs in .test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
import re

import aiohttp
from playwright.async_api import Page, expect

from .browser import StepRecorder
from .pages import (
    FLOW_TIMEOUT_MS,
    INTEGRATION_NAME,
    FieldValue,
    FlowDialog,
    HomeAssistantUi,
    Owner,
)
from .stack import LOOPBACK, BoardControl, SimulatedBoardProcess, Stack

# What the flows, entities and boards are called on screen (translations/en.json, entity
# names); kept here so a renaming touches one place.
ACCOUNT_FORM_TITLE = "Connect your AWS account"
ACCOUNT_PROGRESS = "Setting up your AWS account"
ACCOUNT_CREATED = "Created configuration for AWS"
ADOPTED = "is adopted and connected through AWS IoT"
# The board flow names its reason explicitly, so en.json's text shows (not HA's default).
ZONES_UPDATED = "Zones updated."
INPUT_ZONE = "1"  # a contact on zone 1, shown as "Zone 1" until renamed
INPUT_ENTITY = "Zone 1"
OUTPUT_ZONE = "out"  # the alarm output, a switch by default
OUTPUT_ENTITY = "Alarm output"

# The zone forms of the board's Reconfigure, one mapping per step, keyed by the flow's field
# names: step one chooses each zone's type (kept as they are here), step two shows only the
# chosen types' settings (section "zone_N", then the field).
RECONFIGURE_STEPS: Sequence[Mapping[str, FieldValue]] = [
    {},
    {"zone_1": {"name": "Front door"}, "zone_2": {"device_class": "Motion"}},
]
RENAMED_ENTITY = "Front door"
MOTION_ENTITY = "Zone 2"
# The zones step after adding a board by address: defaults, except a named zone 1, zone 2
# wired normally open (inverted) and an alarm output that is on when low.
ADD_BY_ADDRESS_STEPS: Sequence[Mapping[str, FieldValue]] = [
    {},
    {
        "zone_1": {"name": "Garage side door"},
        "zone_2": {"invert": True},
        "zone_out": {"trigger": "Low"},
    },
]
NAMED_ENTITY = "Garage side door"
INVERTED_ENTITY = "Zone 2"

DISCOVERY_TIMEOUT_MS = (
    150_000  # konnected_dev scans every minute; the first scan precedes the account
)
WALK_TIMEOUT_S = 480
COMMAND_TIMEOUT_S = 15


def board_title(board: SimulatedBoardProcess) -> str:
    """How HA names a board: model and the end of its MAC (config_flow.board_title)."""
    return f"Konnected {board.mac_tail}"


async def submit_steps(dialog: FlowDialog, steps: Sequence[Mapping[str, FieldValue]]) -> None:
    """Fill and submit each form of a multi-step flow."""
    for values in steps:
        await dialog.fill(values)
        await dialog.submit()


# --- the steps ---------------------------------------------------------------------------


async def add_account(ui: HomeAssistantUi, stack: Stack) -> None:
    """Add integration > Konnected (AWS IoT): keys in, emulator endpoints pre-filled, progress."""
    dialog = await ui.add_integration(INTEGRATION_NAME)
    await dialog.expect_title(ACCOUNT_FORM_TITLE)
    # The advanced section is pre-filled from the environment (config_flow._account_schema).
    assert await dialog.value("aws_endpoint_url", section="advanced") == stack.moto_url
    assert await dialog.value("iot_url", section="advanced") == stack.iot_url
    # Any keys work on the emulator.
    await dialog.fill(
        {"access_key_id": "AKIABROWSERTEST", "secret_access_key": "browser-test-secret"}
    )
    await dialog.submit()
    await dialog.expect_text(ACCOUNT_PROGRESS)
    await dialog.expect_text(ACCOUNT_CREATED)
    await dialog.finish("Finish")


async def adopt_discovered(ui: HomeAssistantUi, board: SimulatedBoardProcess) -> None:
    """The Discovered card > Add > Submit: one click adopts the board."""
    await ui.open_integrations()
    dialog = await ui.open_discovered(DISCOVERY_TIMEOUT_MS)
    await dialog.expect_text(f"at {LOOPBACK}")
    await dialog.submit()
    await dialog.expect_text(f"{board_title(board)} {ADOPTED}")
    await dialog.finish("Close")
    # No leftover card for an adopted board (checked on the loaded dashboard).
    await expect(ui.integration_card()).to_be_visible()
    await expect(ui.discovered_card()).to_have_count(0)
    await ui.open_integration_page()
    await expect(ui.board_row(board_title(board))).to_have_count(1)


async def zone_follows_board(
    ui: HomeAssistantUi, board: SimulatedBoardProcess, hardware: BoardControl
) -> None:
    """A contact opens and closes on the board; its entity on the device page follows."""
    await ui.open_board_device(board_title(board))
    await ui.expect_entity_state(INPUT_ENTITY, "Closed")
    await hardware.set_zone(INPUT_ZONE, 1)
    await ui.expect_entity_state(INPUT_ENTITY, "Open")
    await hardware.set_zone(INPUT_ZONE, 0)
    await ui.expect_entity_state(INPUT_ENTITY, "Closed")


async def output_follows_switch(
    ui: HomeAssistantUi, board: SimulatedBoardProcess, hardware: BoardControl
) -> None:
    """The alarm output's toggle on the device page drives the board's pin, on and off."""
    await ui.open_board_device(board_title(board))
    switch = ui.entity_switch(OUTPUT_ENTITY)
    await expect(switch).not_to_be_checked()
    assert await hardware.output_level(OUTPUT_ZONE) == 0
    for turn_on in (True, False):
        await ui.toggle(OUTPUT_ENTITY)
        await expect(switch).to_be_checked(checked=turn_on)
        await wait_for_level(hardware, OUTPUT_ZONE, 1 if turn_on else 0)


async def wait_for_level(hardware: BoardControl, zone: str, level: int) -> None:
    """The command travels HA > AWS IoT (emulated) > board: poll the pin until it is there."""
    async with asyncio.timeout(COMMAND_TIMEOUT_S):
        # polling is the only way to watch a pin from outside the simulator
        while await hardware.output_level(zone) != level:  # noqa: ASYNC110
            await asyncio.sleep(0.2)


async def reconfigure_zones(ui: HomeAssistantUi, board: SimulatedBoardProcess) -> None:
    """The board's Reconfigure: rename a zone and make another a motion sensor."""
    dialog = await ui.reconfigure_board(board_title(board))
    await dialog.expect_title(f"Zones of {board_title(board)}")
    await submit_steps(dialog, RECONFIGURE_STEPS)
    await dialog.expect_text(ZONES_UPDATED)
    await dialog.finish("Close")
    await ui.open_board_device(board_title(board))
    await ui.expect_entity_state(RENAMED_ENTITY, "Closed")
    await ui.expect_entity_state(MOTION_ENTITY, "Clear")  # a motion sensor's "off"


async def add_board_by_address(
    ui: HomeAssistantUi, board: SimulatedBoardProcess, hardware: BoardControl
) -> None:
    """Add board by address: host and port, then the zones, and the board is adopted with them."""
    dialog = await ui.add_board_by_address()
    await dialog.fill({"host": LOOPBACK, "port": board.http_port})
    await dialog.submit()
    await dialog.expect_title(re.compile(r"^\s*Zones of"))
    await submit_steps(dialog, ADD_BY_ADDRESS_STEPS)
    finish = dialog.root.get_by_role("button", name="Finish", exact=True)
    await expect(finish).to_be_visible(timeout=FLOW_TIMEOUT_MS)
    await dialog.finish("Finish")
    await ui.open_integration_page()
    await expect(ui.board_row(board_title(board))).to_have_count(1)
    await ui.open_board_device(board_title(board))
    await ui.expect_entity_state(NAMED_ENTITY, "Closed")
    await ui.expect_entity_state(INVERTED_ENTITY, "Open")  # a closed circuit, inverted
    # Active low: the board holds the output high while it is off.
    await expect(ui.entity_switch(OUTPUT_ENTITY)).not_to_be_checked()
    assert await hardware.output_level(OUTPUT_ZONE) == 1


async def remove_board(
    ui: HomeAssistantUi, board: SimulatedBoardProcess, kept: SimulatedBoardProcess
) -> None:
    """The board's menu > Delete: its row and its device are gone, the other board stays."""
    await ui.remove_board(board_title(board))
    await ui.open("/config/devices/dashboard")
    # The list has loaded once the kept board shows; only then does an absence mean something.
    await expect(ui.page.get_by_text(board_title(kept), exact=True)).to_be_visible()
    await expect(ui.page.get_by_text(board_title(board), exact=True)).to_have_count(0)


# --- the walk ----------------------------------------------------------------------------


async def test_user_sets_up_boards_in_the_browser(
    stack: Stack, page: Page, steps: StepRecorder
) -> None:
    """Onboarding to a removed board, every click in the real frontend."""
    ui = HomeAssistantUi(page, stack.ha_url)
    adopted, by_address = stack.discoverable_board, stack.hidden_board
    async with asyncio.timeout(WALK_TIMEOUT_S), aiohttp.ClientSession() as session:
        hardware = BoardControl(session, adopted)
        async with steps("onboarding"):
            await ui.onboard(Owner())
        async with steps("add the AWS account"):
            await add_account(ui, stack)
        async with steps("adopt the discovered board"):
            await adopt_discovered(ui, adopted)
        async with steps("zone follows the board"):
            await zone_follows_board(ui, adopted, hardware)
        async with steps("output follows the switch"):
            await output_follows_switch(ui, adopted, hardware)
        async with steps("reconfigure zones"):
            await reconfigure_zones(ui, adopted)
        async with steps("add a board by address"):
            await add_board_by_address(ui, by_address, BoardControl(session, by_address))
        async with steps("remove a board"):
            await remove_board(ui, by_address, kept=adopted)
