"""Config flows: the AWS account (entry) and its boards (subentries)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
import os
import secrets
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

import probatio as vol

from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import instance_id
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo

from .addresses import Address
from .adoption import (
    AdoptionError,
    async_adopt_board,
    async_read_board,
    async_reprovision_board,
    check_supported,
)
from .board import BoardStatus, find_board_port, is_supported, zones_for_model
from .cloud import AwsCredentials, CloudAccount, SetupStep, StepState, progress_fraction
from .cloud.errors import CloudError, InvalidCredentialsError, MissingPermissionError
from .const import (
    CONF_ACCESS_KEY_ID,
    CONF_ACCOUNT_ID,
    CONF_ADVANCED,
    CONF_AUTHORIZER_NAME,
    CONF_AWS_ENDPOINT_URL,
    CONF_BLINK,
    CONF_BOARD_ID,
    CONF_BRIDGE_ID,
    CONF_BRIDGE_TOKEN,
    CONF_IOT_ENDPOINT,
    CONF_IOT_URL,
    CONF_KEY_KIND,
    CONF_KEY_SOURCE,
    CONF_MODEL,
    CONF_REGION,
    CONF_RUNTIME_USER_ARN,
    CONF_SECRET_ACCESS_KEY,
    CONF_ZONES,
    DEFAULT_AUTHORIZER_NAME,
    DOMAIN,
    ENV_AWS_ENDPOINT_URL,
    ENV_IOT_URL,
    KEY_KIND_RUNTIME,
    KEY_KIND_SETUP,
    LOGGER,
    SUBENTRY_BOARD,
)
from .legacy import (
    LEGACY_ENTRY_ID,
    async_finish_board,
    async_move_registry_entries,
    legacy_board,
)
from .runtime import KonnectedConfigEntry
from .zone_form import (
    zone_settings_schema,
    zone_types_from_form,
    zone_types_schema,
    zones_from_settings,
)
from .zones import (
    ZoneConfig,
    ZoneType,
    default_zones,
    needs_reprovisioning,
    zones_from_data,
)

# Setup waits up to 20 s for the bridge to connect; allow that plus the unload.
ACCOUNT_RELOAD_TIMEOUT = 30.0
_RELOADING_STATES = frozenset(
    {
        ConfigEntryState.UNLOAD_IN_PROGRESS,
        ConfigEntryState.NOT_LOADED,
        ConfigEntryState.SETUP_IN_PROGRESS,
    }
)

DEFAULT_REGION = "us-east-1"


def credentials_from(data: Mapping[str, Any]) -> AwsCredentials:
    """AWS credentials of an entry's data (or of a form's input)."""
    return AwsCredentials(
        access_key_id=data[CONF_ACCESS_KEY_ID],
        secret_access_key=data[CONF_SECRET_ACCESS_KEY],
        region=data[CONF_REGION],
    )


def cloud_account_for(data: Mapping[str, Any]) -> CloudAccount:
    """Return the cloud layer for an entry's data; a custom AWS endpoint is for emulators only."""
    return CloudAccount(credentials_from(data), endpoint_url=data.get(CONF_AWS_ENDPOINT_URL) or None)


def _account_schema(defaults: Mapping[str, Any], *, with_region: bool) -> vol.Schema:
    secret = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
    fields: dict[Any, Any] = {
        vol.Required(CONF_KEY_KIND, default=KEY_KIND_SETUP): SelectSelector(
            SelectSelectorConfig(options=[KEY_KIND_SETUP, KEY_KIND_RUNTIME], translation_key="key_kind")
        ),
        vol.Required(CONF_ACCESS_KEY_ID): str,
        vol.Required(CONF_SECRET_ACCESS_KEY): secret,
    }
    if with_region:
        fields[vol.Required(CONF_REGION, default=defaults.get(CONF_REGION, DEFAULT_REGION))] = str
    fields[vol.Required(CONF_ADVANCED)] = section(
        vol.Schema(
            {
                vol.Optional(
                    CONF_AWS_ENDPOINT_URL,
                    default=defaults.get(CONF_AWS_ENDPOINT_URL)
                    or os.environ.get(ENV_AWS_ENDPOINT_URL, ""),
                ): str,
                vol.Optional(
                    CONF_IOT_URL,
                    default=defaults.get(CONF_IOT_URL) or os.environ.get(ENV_IOT_URL, ""),
                ): str,
            }
        ),
        {"collapsed": True},
    )
    return vol.Schema(fields)


def _flatten_advanced(user_input: Mapping[str, Any]) -> dict[str, Any]:
    data = {key: value for key, value in user_input.items() if key != CONF_ADVANCED}
    for key, value in user_input.get(CONF_ADVANCED, {}).items():
        data[key] = value.strip() if isinstance(value, str) else value
    return data


def _valid_url(value: str, schemes: tuple[str, ...]) -> bool:
    if not value:
        return True
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname)


def _check_account_input(data: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not _valid_url(data.get(CONF_AWS_ENDPOINT_URL, ""), ("http", "https")):
        errors[CONF_ADVANCED] = "invalid_url"
    if not _valid_url(data.get(CONF_IOT_URL, ""), ("ws", "wss")):
        errors[CONF_ADVANCED] = "invalid_url"
    return errors


async def _async_verify(hass: HomeAssistant, data: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """Return the account id, or a form error key."""
    try:
        account_id = await hass.async_add_executor_job(cloud_account_for(data).verify)
    except InvalidCredentialsError:
        return None, {"base": "invalid_auth"}
    except MissingPermissionError:
        return None, {"base": "missing_permission"}
    except CloudError as err:
        LOGGER.debug("Checking AWS credentials failed: %s", err)
        return None, {"base": "cannot_connect"}
    return account_id, {}


class KonnectedAwsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an AWS account; adopt discovered boards into it."""

    VERSION = 1

    def __init__(self) -> None:
        """Start empty."""
        self._account_data: dict[str, Any] = {}
        self._setup_task: asyncio.Task[None] | None = None
        self._setup_error: str | None = None
        self._discovered: tuple[BoardStatus, str, int] | None = None
        self._legacy_entry_id = ""

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Boards are subentries of the account."""
        return {SUBENTRY_BOARD: BoardSubentryFlow}

    # --- the AWS account -------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the account's credentials and region.

        One AWS account per Home Assistant: every board is adopted into it, so discovery never
        has to ask which account a board belongs to.
        """
        if self._async_current_entries(include_ignore=False):
            return self.async_abort(reason="single_account")
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _flatten_advanced(user_input)
            errors = _check_account_input(data)
            if not errors:
                account_id, errors = await _async_verify(self.hass, data)
            if not errors:
                await self.async_set_unique_id(f"{account_id}_{data[CONF_REGION]}")
                self._abort_if_unique_id_configured()
                self._account_data = {**data, CONF_ACCOUNT_ID: account_id}
                return await self.async_step_setup_cloud()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _account_schema({}, with_region=True), user_input
            ),
            errors=errors,
        )

    async def async_step_setup_cloud(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create or repair the AWS resources, with a progress bar."""
        if self._setup_task is None:
            self._setup_error = None
            self._setup_task = self.hass.async_create_task(self._async_setup_cloud(), eager_start=False)
        if not self._setup_task.done():
            return self.async_show_progress(
                step_id="setup_cloud",
                progress_action="setting_up_aws",
                progress_task=self._setup_task,
            )
        task, self._setup_task = self._setup_task, None
        try:
            task.result()
        except CloudError as err:
            LOGGER.warning("Setting up the AWS account failed: %s", err)
            self._setup_error = "permission" if isinstance(err, MissingPermissionError) else "cloud"
            return self.async_show_progress_done(next_step_id="setup_failed")
        return self.async_show_progress_done(next_step_id="finish")

    async def _async_setup_cloud(self) -> None:
        """Set the AWS side up with setup keys, or check run-time keys; then the bridge principal.

        Setup keys are used for this step only: what is stored is the run-time key `ensure`
        makes for Home Assistant, which can do nothing in IAM, Lambda or the IoT authorizer.
        """
        data = self._account_data
        kind = data.pop(CONF_KEY_KIND, KEY_KIND_SETUP)
        if kind == KEY_KIND_SETUP:
            loop = self.hass.loop

            def progress(step: SetupStep, state: StepState) -> None:
                loop.call_soon_threadsafe(self.async_update_progress, progress_fraction(step, state))

            resources = await self.hass.async_add_executor_job(cloud_account_for(data).ensure, progress)
            data.update(
                {
                    CONF_ACCESS_KEY_ID: resources.runtime_credentials.access_key_id,
                    CONF_SECRET_ACCESS_KEY: resources.runtime_credentials.secret_access_key,
                    CONF_RUNTIME_USER_ARN: resources.runtime_user_arn,
                    CONF_KEY_SOURCE: KEY_KIND_SETUP,
                    CONF_IOT_ENDPOINT: resources.iot_endpoint,
                    CONF_AUTHORIZER_NAME: resources.authorizer_name,
                }
            )
        else:
            # Keys from the CloudFormation stack an administrator deployed: check they can run.
            account = cloud_account_for(data)
            endpoint = await self.hass.async_add_executor_job(account.iot_endpoint)
            await self.hass.async_add_executor_job(account.load_private_key)
            data.update(
                {
                    CONF_KEY_SOURCE: KEY_KIND_RUNTIME,
                    CONF_IOT_ENDPOINT: endpoint,
                    CONF_AUTHORIZER_NAME: data.get(CONF_AUTHORIZER_NAME) or DEFAULT_AUTHORIZER_NAME,
                }
            )
        await self._async_register_bridge(cloud_account_for(data))

    async def _async_register_bridge(self, account: CloudAccount) -> None:
        """Home Assistant's own revocable principal, registered with the run-time key."""
        data = self._account_data
        bridge_id = data.get(CONF_BRIDGE_ID)
        record = None
        if bridge_id is not None:
            record = await self.hass.async_add_executor_job(account.registry.get, bridge_id)
        if record is None or record.status != "active" or record.token != data.get(CONF_BRIDGE_TOKEN):
            # A revoked or lost principal is replaced (how the "bridge refused" repair is fixed).
            bridge_id = bridge_id or f"bridge{secrets.token_hex(8)}"
            user_id = await instance_id.async_get(self.hass)
            credentials = await self.hass.async_add_executor_job(
                account.registry.register, bridge_id, user_id, "bridge"
            )
            data[CONF_BRIDGE_ID] = bridge_id
            data[CONF_BRIDGE_TOKEN] = credentials.token

    async def async_step_setup_failed(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Say why setting up AWS failed."""
        return self.async_abort(reason=f"setup_failed_{self._setup_error or 'cloud'}")

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the entry (or update it, when reconfiguring)."""
        data = self._account_data
        if self.source == SOURCE_RECONFIGURE:
            return self._async_update_account(self._get_reconfigure_entry(), data)
        if self.source == SOURCE_REAUTH:
            return self._async_update_account(self._get_reauth_entry(), data)
        return self.async_create_entry(
            title=f"AWS {data[CONF_ACCOUNT_ID]} ({data[CONF_REGION]})", data=data
        )

    def _async_update_account(self, entry: ConfigEntry, data: Mapping[str, Any]) -> ConfigFlowResult:
        """Store new account data; exactly one reload follows.

        A loaded entry's update listener reloads it when its data changed; an entry that is not
        loaded (setup failed on the old keys) has no listener, so the flow reloads it.
        """
        if entry.state is ConfigEntryState.LOADED:
            return self.async_update_and_abort(entry, data=data)
        return self.async_update_reload_and_abort(entry, data=data)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Handle stored keys that stopped working."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle a refused stored run-time key: setup keys make a new one, or enter run-time keys."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            account_id, errors = await _async_verify(self.hass, data)
            if not errors:
                await self.async_set_unique_id(f"{account_id}_{data[CONF_REGION]}")
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                self._account_data = data
                return await self.async_step_setup_cloud()
        secret = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_KEY_KIND, default=KEY_KIND_SETUP): SelectSelector(
                        SelectSelectorConfig(options=[KEY_KIND_SETUP, KEY_KIND_RUNTIME], translation_key="key_kind")
                    ),
                    vol.Required(CONF_ACCESS_KEY_ID): str,
                    vol.Required(CONF_SECRET_ACCESS_KEY): secret,
                }
            ),
            description_placeholders={"account": entry.data[CONF_ACCOUNT_ID]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change keys or endpoints of the same account, and repair its AWS resources."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **_flatten_advanced(user_input)}
            errors = _check_account_input(data)
            if not errors:
                account_id, errors = await _async_verify(self.hass, data)
            if not errors:
                await self.async_set_unique_id(f"{account_id}_{data[CONF_REGION]}")
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                self._account_data = data
                return await self.async_step_setup_cloud()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_account_schema(entry.data, with_region=False),
            errors=errors,
        )

    # --- boards found on the network ------------------------------------------------------

    async def async_step_ssdp(self, discovery_info: SsdpServiceInfo) -> ConfigFlowResult:
        """Handle a board that answered SSDP: update a known board's address or offer to adopt it."""
        location = urlsplit(discovery_info.ssdp_location or "")
        upnp = discovery_info.upnp
        if not location.hostname:
            return self.async_abort(reason="not_konnected")
        if not is_supported(upnp.get("manufacturer"), upnp.get("modelName")):
            return self.async_abort(reason="not_supported")
        host, port = location.hostname, location.port or 80
        try:
            status = await async_read_board(self.hass, host, port)
        except AdoptionError:
            return self.async_abort(reason="cannot_connect")
        if status.support_problem is not None:
            return self.async_abort(reason=status.support_problem)
        await self.async_set_unique_id(status.board_id)
        if _async_update_known_board(self.hass, status.board_id, host, port):
            return self.async_abort(reason="already_configured")
        self._abort_if_unique_id_configured()
        self._discovered = (status, host, port)
        self.context["title_placeholders"] = {"name": board_title(status), "host": host}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One click: adopt the board into the account with its default zones.

        Without an account yet, the click leads into connecting the AWS account; the board is
        offered again as soon as the account is set up.
        """
        assert self._discovered is not None
        status, host, port = self._discovered
        if _async_board_owner(self.hass, status.board_id) is not None:
            # Added by address while this card waited: never register or provision it twice.
            return self.async_abort(reason="already_configured")
        if not self._async_current_entries(include_ignore=False):
            if user_input is not None:
                return await self.async_step_user()
            return self.async_show_form(
                step_id="discovery_confirm",
                description_placeholders={"name": board_title(status), "host": host},
            )
        entry = await _async_account_entry(self.hass)
        if entry is None:
            return self.async_abort(reason="account_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            zones = default_zones(status)
            try:
                data = await async_adopt_board(self.hass, entry, status, host, port, zones, blink=True)
            except AdoptionError as err:
                errors["base"] = err.reason
            else:
                if _async_board_owner(self.hass, status.board_id) is not None:
                    return self.async_abort(reason="already_configured")
                self.hass.config_entries.async_add_subentry(
                    entry,
                    ConfigSubentry(
                        data=MappingProxyType(data),
                        subentry_type=SUBENTRY_BOARD,
                        title=board_title(status),
                        unique_id=status.board_id,
                    ),
                )
                return self.async_abort(reason="adopted", description_placeholders={"name": board_title(status)})
        return self.async_show_form(
            step_id="adopt",
            description_placeholders={"name": board_title(status), "host": host, "account": entry.title},
            errors=errors,
        )

    # --- boards of the removed core `konnected` integration ---------------------------------

    async def async_step_integration_discovery(self, discovery_info: dict[str, Any]) -> ConfigFlowResult:
        """Handle a board the old Konnected integration ran: offer it with everything it had."""
        board, _plan = legacy_board(self.hass, discovery_info[LEGACY_ENTRY_ID])
        if board is None:
            return self.async_abort(reason="not_supported")
        await self.async_set_unique_id(board.board_id)
        self._abort_if_unique_id_configured()
        if _async_board_owner(self.hass, board.board_id) is not None:
            return self.async_abort(reason="already_configured")
        self._legacy_entry_id = board.entry_id
        self.context["title_placeholders"] = {"name": board.title, "host": board.host}
        return await self.async_step_legacy_confirm()

    async def async_step_legacy_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Adopt a board of the old integration with its zones, then move its entities over."""
        board, plan = legacy_board(self.hass, self._legacy_entry_id)
        if board is None:
            return self.async_abort(reason="already_configured")
        if not self._async_current_entries(include_ignore=False):
            if user_input is not None:
                return await self.async_step_user()
            return self.async_show_form(
                step_id="legacy_account", description_placeholders={"name": board.title, "host": board.host}
            )
        entry = await _async_account_entry(self.hass)
        if entry is None:
            return self.async_abort(reason="account_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                status = await async_read_board(self.hass, board.host, board.port)
                if status.board_id != board.board_id:
                    raise AdoptionError("wrong_board")  # noqa: TRY301 - shown by the except below like every adoption error
                zones = {
                    zone: replace(migrated.config, actions=migrated.actions) for zone, migrated in board.zones.items()
                }
                data = await async_adopt_board(
                    self.hass, entry, status, board.host, board.port, zones, blink=board.blink
                )
            except AdoptionError as err:
                errors["base"] = err.reason
            else:
                subentry = ConfigSubentry(
                    data=MappingProxyType(data),
                    subentry_type=SUBENTRY_BOARD,
                    title=board.title,
                    unique_id=board.board_id,
                )
                entry.runtime_data.before_board_added[board.board_id] = partial(
                    async_move_registry_entries, self.hass, entry, board=board, plan=plan
                )
                self.hass.config_entries.async_add_subentry(entry, subentry)
                await async_finish_board(self.hass, board, plan)
                return self.async_abort(reason="adopted", description_placeholders={"name": board.title})
        zone_count = sum(1 for zone in board.zones.values() if zone.config.type is not ZoneType.DISABLED)
        moved = sum(1 for move in plan.entities if move.board_id == board.board_id)
        return self.async_show_form(
            step_id="legacy_confirm",
            description_placeholders={
                "name": board.title,
                "host": f"{board.host}:{board.port}",
                "account": entry.title,
                "zones": str(zone_count),
                "entities": str(moved),
            },
            errors=errors,
        )

    async def async_step_legacy_account(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Lead an old board's card into connecting an account when none exists yet."""
        return await self.async_step_legacy_confirm(user_input)

    async def async_step_adopt(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the confirmation form of a discovered board, once an account exists."""
        return await self.async_step_discovery_confirm(user_input)


def board_title(status: BoardStatus) -> str:
    """Name of a board's subentry and device: model and the end of its MAC."""
    return f"{status.model} {status.board_id[-6:]}"


def _account_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """Account entries; ignored discoveries are entries of this domain too, but no accounts."""
    return [entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.source != SOURCE_IGNORE]


@callback
def _async_board_owner(hass: HomeAssistant, board_id: str) -> ConfigEntry | None:
    """Return the account entry the board is adopted into, if it is adopted."""
    for entry in _account_entries(hass):
        for subentry in entry.subentries.values():
            if subentry.subentry_type == SUBENTRY_BOARD and subentry.unique_id == board_id:
                return entry
    return None


@callback
def _async_abort_discovery_of(hass: HomeAssistant, board_id: str) -> None:
    """Abort the discovery of a board adopted by address: its Discovered card would only confuse; take it away."""
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN, match_context={"unique_id": board_id}):
        hass.config_entries.flow.async_abort(flow["flow_id"])


async def _async_account_entry(hass: HomeAssistant) -> KonnectedConfigEntry | None:
    """Return the account entry once loaded.

    An entry being reloaded (new keys) is waited for (bounded) instead of refusing the click.
    """
    entries = _account_entries(hass)
    if len(entries) != 1 or entries[0].disabled_by is not None:
        return None
    entry = entries[0]
    try:
        async with asyncio.timeout(ACCOUNT_RELOAD_TIMEOUT):
            while entry.state is not ConfigEntryState.LOADED:
                if entry.state not in _RELOADING_STATES:
                    return None
                await asyncio.sleep(0.2)
    except TimeoutError:
        return None
    return cast("KonnectedConfigEntry", entry)


@callback
def _async_update_known_board(hass: HomeAssistant, board_id: str, host: str, port: int) -> bool:
    """Handle an adopted board that answered at an address: remember it until the board itself confirms it.

    The caller has seen the board's MAC there, which any LAN device can claim, so the address
    is only stored once the board's heartbeat through AWS IoT reports it too (addresses.py).
    """
    entry = _async_board_owner(hass, board_id)
    if entry is None:
        return False
    if entry.state is ConfigEntryState.LOADED:
        cast("KonnectedConfigEntry", entry).runtime_data.addresses.async_answered_at(board_id, Address(host, port))
    return True


# --- boards (subentries) ---------------------------------------------------------------


class BoardSubentryFlow(ConfigSubentryFlow):
    """Add a board by address, or change a board's zones: zone types first, then their settings."""

    def __init__(self) -> None:
        """Start empty."""
        self._status: BoardStatus | None = None
        self._host = ""
        self._port = 0
        self._current: dict[str, ZoneConfig] = {}
        self._zone_types: dict[str, ZoneType] = {}
        self._blink = True

    def _entry(self) -> KonnectedConfigEntry | None:
        entry = self._get_entry()
        if entry.state is not ConfigEntryState.LOADED:
            return None
        return cast("KonnectedConfigEntry", entry)

    def _zone_names(self) -> tuple[str, ...]:
        if self._status is not None:
            return zones_for_model(self._status.model)
        return zones_for_model(self._get_reconfigure_subentry().data.get(CONF_MODEL, ""))

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the board's address (for networks where SSDP does not reach)."""
        if self._entry() is None:
            return self.async_abort(reason="account_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            port: int | None = user_input.get(CONF_PORT)
            if port is None:
                # Legacy boards listen on 8000 + chip id / 1000; the board itself says which.
                port = await find_board_port(host)
            try:
                if port is None:
                    raise AdoptionError("port_not_found")  # noqa: TRY301 - shown by the except below like every adoption error
                status = await async_read_board(self.hass, host, port)
                check_supported(status)
            except AdoptionError as err:
                errors["base"] = err.reason
            else:
                if _async_board_owner(self.hass, status.board_id) is not None:
                    return self.async_abort(reason="already_configured")
                self._status, self._host, self._port = status, host, port
                self._current = default_zones(status)
                return await self.async_step_zones()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(CONF_HOST): str,
                        vol.Optional(CONF_PORT): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
                    }
                ),
                user_input,
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change an adopted board's zones."""
        if self._entry() is None:
            return self.async_abort(reason="account_not_loaded")
        data = self._get_reconfigure_subentry().data
        self._current = zones_from_data(data.get(CONF_ZONES, {}))
        self._blink = bool(data.get(CONF_BLINK, True))
        return await self.async_step_zones()

    async def async_step_zones(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Step one: what each zone is wired as."""
        zone_names = self._zone_names()
        if user_input is not None:
            self._zone_types = zone_types_from_form(zone_names, user_input)
            self._blink = bool(user_input.get(CONF_BLINK, True))
            return await self.async_step_zone_settings()
        return self.async_show_form(
            step_id="zones",
            data_schema=zone_types_schema(zone_names, self._current, self._blink),
            description_placeholders=self._placeholders(),
        )

    async def async_step_zone_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Step two: only the settings of each chosen type; then adopt or apply."""
        errors: dict[str, str] = {}
        if user_input is not None or not self._zone_types:
            zones, errors = zones_from_settings(self._zone_types, user_input or {}, self._current)
            if not errors:
                try:
                    return await self._async_apply(zones)
                except AdoptionError as err:
                    errors["base"] = err.reason
        return self.async_show_form(
            step_id="zone_settings",
            data_schema=self.add_suggested_values_to_schema(
                zone_settings_schema(self._zone_types, self._current), user_input
            ),
            description_placeholders=self._placeholders(),
            errors=errors,
        )

    def _placeholders(self) -> dict[str, str]:
        if self._status is not None:
            return {"name": board_title(self._status), "host": self._host}
        subentry = self._get_reconfigure_subentry()
        return {"name": subentry.title, "host": str(subentry.data[CONF_HOST])}

    async def _async_apply(self, zones: dict[str, ZoneConfig]) -> SubentryFlowResult:
        entry = self._entry()
        if entry is None:
            return self.async_abort(reason="account_not_loaded")
        if self._status is not None:
            status = self._status
            adopted = await async_adopt_board(
                self.hass, entry, status, self._host, self._port, zones, blink=self._blink
            )
            _async_abort_discovery_of(self.hass, status.board_id)
            return self.async_create_entry(title=board_title(status), data=adopted, unique_id=status.board_id)
        subentry = self._get_reconfigure_subentry()
        data = subentry.data
        rebooting = needs_reprovisioning(
            zones_from_data(data.get(CONF_ZONES, {})), zones
        ) or self._blink != bool(data.get(CONF_BLINK, True))
        if rebooting:
            await async_reprovision_board(
                self.hass, entry, data[CONF_HOST], data[CONF_PORT], data[CONF_BOARD_ID], zones, blink=self._blink
            )
        return self.async_update_and_abort(
            entry,
            subentry,
            data={
                **data,
                CONF_ZONES: {zone: config.as_dict() for zone, config in zones.items()},
                CONF_BLINK: self._blink,
            },
            reason="reconfigured_rebooting" if rebooting else "reconfigure_successful",
        )
