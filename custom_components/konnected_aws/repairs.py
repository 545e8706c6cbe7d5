"""Repairs: entries made before Home Assistant had its own run-time key move over once."""

from __future__ import annotations

from typing import Any, cast

import probatio as vol

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .cloud import AwsCredentials, CloudAccount
from .cloud.errors import CloudError, InvalidCredentialsError, MissingPermissionError
from .const import (
    CONF_ACCESS_KEY_ID,
    CONF_ACCOUNT_ID,
    CONF_AWS_ENDPOINT_URL,
    CONF_KEY_SOURCE,
    CONF_REGION,
    CONF_RUNTIME_USER_ARN,
    CONF_SECRET_ACCESS_KEY,
    DOMAIN,
    KEY_KIND_SETUP,
    LOGGER,
)
from .runtime import KonnectedConfigEntry

ISSUE_SETUP_KEYS_STORED = "setup_keys_stored"


def stores_setup_keys(data: dict[str, Any]) -> bool:
    """Entries from before the split kept the keys that set the account up."""
    return CONF_KEY_SOURCE not in data


@callback
def async_check_stored_keys(hass: HomeAssistant, entry: KonnectedConfigEntry) -> None:
    """Raise (or clear) the repair asking once for setup keys to replace the stored ones."""
    issue_id = f"{ISSUE_SETUP_KEYS_STORED}_{entry.entry_id}"
    if not stores_setup_keys(dict(entry.data)):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_SETUP_KEYS_STORED,
        translation_placeholders={"entry": entry.title},
        data={"entry_id": entry.entry_id},
    )


class ReplaceStoredKeysFlow(RepairsFlow):
    """Setup keys once (never stored): `ensure` makes the run-time key the entry keeps from then on."""

    def __init__(self, entry: KonnectedConfigEntry) -> None:
        """For one account entry."""
        self._entry = entry

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the form."""
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Ask for setup keys, set the account up with them, store only the run-time key."""
        entry = self._entry
        errors: dict[str, str] = {}
        if user_input is not None:
            setup = CloudAccount(
                AwsCredentials(user_input[CONF_ACCESS_KEY_ID], user_input[CONF_SECRET_ACCESS_KEY], entry.data[CONF_REGION]),
                endpoint_url=entry.data.get(CONF_AWS_ENDPOINT_URL) or None,
            )
            try:
                if await self.hass.async_add_executor_job(setup.verify) != entry.data[CONF_ACCOUNT_ID]:
                    errors["base"] = "wrong_account"
                else:
                    resources = await self.hass.async_add_executor_job(setup.ensure)
            except InvalidCredentialsError:
                errors["base"] = "invalid_auth"
            except MissingPermissionError:
                errors["base"] = "missing_permission"
            except CloudError as err:
                LOGGER.warning("Replacing the stored AWS key failed: %s", err)
                errors["base"] = "cannot_connect"
            if not errors:
                self.hass.config_entries.async_update_entry(
                    entry,
                    data={
                        **entry.data,
                        CONF_ACCESS_KEY_ID: resources.runtime_credentials.access_key_id,
                        CONF_SECRET_ACCESS_KEY: resources.runtime_credentials.secret_access_key,
                        CONF_RUNTIME_USER_ARN: resources.runtime_user_arn,
                        CONF_KEY_SOURCE: KEY_KIND_SETUP,
                    },
                )
                return self.async_create_entry(data={})
        secret = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({vol.Required(CONF_ACCESS_KEY_ID): str, vol.Required(CONF_SECRET_ACCESS_KEY): secret}),
            description_placeholders={"entry": entry.title},
            errors=errors,
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the fix flow of a repair issue."""
    entry_id = str((data or {}).get("entry_id"))
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise data_entry_flow.UnknownFlow(issue_id)
    return ReplaceStoredKeysFlow(cast("KonnectedConfigEntry", entry))
