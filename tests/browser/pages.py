"""Small page helpers for Home Assistant's frontend, one per thing a user does.

Everything here clicks what a person sees (buttons, cards, rows by their visible names) with
Playwright locators, which pierce the frontend's open shadow roots. Forms of config flows are
driven by `FlowDialog.fill`, keyed by the flow's own field names (the `vol.Schema` keys, and
section keys for `section(...)`): when a form changes, only the values passed to it change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass
import re

from playwright.async_api import Error as PlaywrightError, Locator, Page, expect

INTEGRATION_NAME = "Konnected (AWS IoT)"  # manifest.json "name"
DOMAIN = "konnected_aws"
FLOW_TIMEOUT_MS = 120_000
FIELD_RENDER_TIMEOUT_S = 20  # account setup and adoption wait for AWS and a board reboot

# A field value: text or number typed in, a bool for a checkbox or switch, or the visible label of a
# select option or radio button. A Mapping fills the fields of a section.
type FieldValue = str | int | float | bool | Mapping[str, FieldValue]

# Marks every field element of the open flow form with its schema key. ha-form renders one
# element per schema item and gives it the item as its `schema` property (name, type,
# selector); the key is otherwise not in the DOM for selects, radios and sections.
_TAG_FIELDS_JS = """
(root) => {
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      const schema = el.schema;
      if (schema && !Array.isArray(schema) && typeof schema.name === 'string') {
        el.setAttribute('data-field', schema.name);
      }
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  if (root.shadowRoot) walk(root.shadowRoot);
  walk(root);
}
"""


@dataclass(frozen=True)
class Owner:
    """The user created during onboarding."""

    name: str = "Browser Test"
    username: str = "owner"
    password: str = "browser-test-password"


class FlowDialog:
    """The data entry flow dialog (config flows, subentry flows, reconfigure)."""

    def __init__(self, page: Page) -> None:
        """The dialog as it is open on the page."""
        self.page = page
        self.root = page.locator("dialog-data-entry-flow")

    async def expect_title(self, title: str | re.Pattern[str]) -> None:
        """Wait for a step with this title (a form, a progress, a result)."""
        await expect(self.root.locator(".dialog-title, [slot=headerTitle]").first).to_have_text(
            title, timeout=FLOW_TIMEOUT_MS
        )

    async def expect_text(
        self, text: str | re.Pattern[str], timeout_ms: int = FLOW_TIMEOUT_MS
    ) -> None:
        """Wait until the dialog shows this text (a description, a result, an error)."""
        await expect(self.root).to_contain_text(text, timeout=timeout_ms)

    async def _field(self, name: str, section: str | None) -> Locator:
        """The field element of a schema key (inside its section, opened)."""
        scope = self.root
        if section is not None:
            scope = await self._rendered(self.root.locator(f'[data-field="{section}"]'))
            await self._expand(scope)
        return await self._rendered(scope.locator(f'[data-field="{name}"]'))

    async def _rendered(self, field: Locator) -> Locator:
        """Wait for ha-form to render a field: it does so after the step arrives (and a
        section's fields when it opens), so the tags are re-applied until the field is there.
        On timeout the locator is returned as is and its use reports it missing."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIELD_RENDER_TIMEOUT_S):
                while True:
                    await self.root.evaluate(_TAG_FIELDS_JS)
                    if await field.count():
                        return field
                    await asyncio.sleep(0.2)
        return field

    @staticmethod
    async def _expand(section: Locator) -> None:
        panel = section.locator("ha-expansion-panel").first
        if await panel.get_attribute("expanded") is None:
            await section.locator("[slot=header]").first.click()
            await expect(panel).to_have_attribute("expanded", "")

    async def value(self, name: str, section: str | None = None) -> str:
        """What a text field holds (for pre-filled fields)."""
        return await (await self._field(name, section)).locator("input").first.input_value()

    async def fill(self, values: Mapping[str, FieldValue], section: str | None = None) -> None:
        """Set fields by their schema keys; a Mapping value fills that section's fields."""
        for name, value in values.items():
            if isinstance(value, Mapping):
                await self.fill(value, section=name)
                continue
            await self._set(await self._field(name, section), value)

    async def _set(self, field: Locator, value: str | float | bool) -> None:
        await expect(field).to_have_count(1)
        if isinstance(value, bool):
            # A plain bool renders a checkbox, a boolean selector a switch.
            toggle = field.get_by_role("checkbox").or_(field.get_by_role("switch")).first
            if await toggle.is_checked() != value:
                # the control drawn over the input takes the click, as it does for a finger
                await field.locator("ha-checkbox, ha-switch").first.click()
            await expect(toggle).to_be_checked(checked=value)
        elif await field.locator("ha-picker-field").count():
            await field.locator("ha-picker-field").click()
            await field.get_by_role("menuitem", name=str(value), exact=True).click()
            await expect(field.locator("ha-picker-field")).to_contain_text(str(value))
        elif await field.get_by_role("radio").count():
            option = field.get_by_role("radio", name=str(value), exact=True)
            await option.click()
            await expect(option).to_be_checked()
        else:
            await field.locator("input").first.fill(str(value))

    async def submit(self) -> None:
        """Send the form (or move on from a message) with the dialog's main button."""
        await self.root.get_by_role("button", name="Submit", exact=True).click()

    async def finish(self, button: str) -> None:
        """Close a result ("Finish" after an entry is created, "Close" after an abort)."""
        # the footer's button: the dialog's X is also called "Close"
        footer_button = self.root.locator("ha-dialog-footer").get_by_role(
            "button", name=button, exact=True
        )
        await footer_button.click()
        await expect(footer_button).to_be_hidden()


class HomeAssistantUi:
    """The pages a user goes through, by URL or by clicking."""

    def __init__(self, page: Page, base_url: str) -> None:
        """Drive `page` against Home Assistant at `base_url`."""
        self.page = page
        self.base_url = base_url

    async def open(self, path: str) -> None:
        """Type an address into the browser.

        A dialog that just closed goes back in history (the frontend pushes a state for each
        dialog); that late navigation can abort ours, which is then simply repeated.
        """
        try:
            await self.page.goto(self.base_url + path)
        except PlaywrightError as err:
            if "ERR_ABORTED" not in err.message:
                raise
            await self.page.wait_for_load_state()
            await self.page.goto(self.base_url + path)

    # --- onboarding ---------------------------------------------------------------------

    async def onboard(self, owner: Owner) -> None:
        """A fresh instance: create the owner, keep the suggested location, country and
        analytics (all off), finish."""
        page = self.page
        await self.open("/")
        await page.get_by_role("button", name="Create my smart home").click()
        for field, value in {
            "name": owner.name,
            "username": owner.username,
            "password": owner.password,
            "password_confirm": owner.password,
        }.items():
            await page.locator(f"input[name={field}]").fill(value)
        await page.get_by_role("button", name="Create account").click()
        for heading in ("Home location", "country your home is in", "Help us help you"):
            await expect(page.get_by_text(heading)).to_be_visible(timeout=30_000)
            await page.get_by_role("button", name="Next").click()
        await page.get_by_role("button", name="Finish").click()
        await expect(page.get_by_text(owner.name, exact=True).first).to_be_visible(timeout=30_000)

    # --- Settings > Devices & services ----------------------------------------------------

    async def open_integrations(self) -> None:
        """Settings > Devices & services."""
        await self.open("/config/integrations/dashboard")
        await expect(self.page.get_by_role("button", name="Add integration")).to_be_visible()

    async def add_integration(self, name: str) -> FlowDialog:
        """Add integration > search > pick it; returns its first step."""
        await self.open_integrations()
        await self.page.get_by_role("button", name="Add integration").click()
        await self.page.get_by_placeholder("Search for a brand name").fill(name)
        # Scoped to the dialog: a Discovered card behind it shows the same name.
        await self.page.locator("dialog-add-integration").get_by_text(name, exact=True).click()
        # With a board already discovered (shown before the account exists), HA first asks
        # whether to add it; setting the integration up itself is the other choice.
        other = self.page.get_by_text(f"Set up another instance of {name}")
        flow = self.page.locator("dialog-data-entry-flow")
        await expect(other.or_(flow).first).to_be_visible(timeout=FLOW_TIMEOUT_MS)
        if await other.count():
            await other.click()
        return FlowDialog(self.page)

    def integration_card(self) -> Locator:
        """This integration's card under "Configured"."""
        return self.page.locator(f'ha-integration-card[data-domain="{DOMAIN}"]')

    def discovered_card(self) -> Locator:
        """A card of the "Discovered" section for this integration."""
        return self.page.locator("ha-config-flow-card").filter(has_text=INTEGRATION_NAME)

    async def open_discovered(self, timeout_ms: int) -> FlowDialog:
        """Wait for a Discovered card (discovery runs every minute), click Add."""
        card = self.discovered_card()
        await expect(card.first).to_be_visible(timeout=timeout_ms)
        await card.first.get_by_role("button", name="Add", exact=True).click()
        return FlowDialog(self.page)

    async def open_integration_page(self) -> None:
        """The integration's page: its account entry with the boards under it."""
        await self.open(f"/config/integrations/integration/{DOMAIN}")
        await expect(self.page.get_by_role("button", name="Add board by address")).to_be_visible()

    def board_row(self, title: str) -> Locator:
        """A board (subentry) under the account on the integration page."""
        return self.page.locator("ha-config-sub-entry-row").filter(
            has=self.page.locator(
                "[slot=headline]", has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")
            )
        )

    async def add_board_by_address(self) -> FlowDialog:
        """The subentry flow's "user" step."""
        await self.open_integration_page()
        await self.page.get_by_role("button", name="Add board by address").click()
        return FlowDialog(self.page)

    async def reconfigure_board(self, title: str) -> FlowDialog:
        """The gear of a board's row: the subentry's reconfigure flow."""
        await self.open_integration_page()
        await self.board_row(title).get_by_role("button", name="Configure", exact=True).click()
        return FlowDialog(self.page)

    async def remove_board(self, title: str) -> None:
        """The board's menu > Delete, confirmed."""
        await self.open_integration_page()
        row = self.board_row(title)
        await row.get_by_role("button", name="Menu", exact=True).first.click()
        await row.get_by_role("menuitem", name="Delete").click()
        confirm = self.page.locator("dialog-box")
        await confirm.get_by_role("button", name="Delete", exact=True).click()
        await expect(confirm.get_by_role("button", name="Delete", exact=True)).to_be_hidden()
        await expect(row).to_have_count(0)

    async def open_board_device(self, title: str) -> None:
        """The board's device page (its entities with their states and controls)."""
        await self.open_integration_page()
        await self.board_row(title).locator("ha-config-entry-device-row").click()
        await expect(self.page.get_by_role("heading", name="Device info")).to_be_visible()

    # --- a device page --------------------------------------------------------------------

    def entity_row(self, name: str) -> Locator:
        """An entity's row on the device page, by the name shown."""
        return self.page.locator("hui-generic-entity-row").filter(
            has=self.page.locator(f'.info[title="{name}"]')
        )

    async def expect_entity_state(self, name: str, shown: str, timeout_ms: int = 20_000) -> None:
        """The row shows this state text ("Open", "Closed", ...)."""
        await expect(self.entity_row(name)).to_contain_text(
            re.compile(rf"\b{re.escape(shown)}\b"), timeout=timeout_ms
        )

    def entity_switch(self, name: str) -> Locator:
        """The toggle of a switch entity's row (its state is the inner switch's aria-checked)."""
        return self.entity_row(name).get_by_role("switch")

    async def toggle(self, name: str) -> None:
        """Click a switch entity's toggle (the control, as a finger would)."""
        await self.entity_row(name).locator("ha-switch").click()
