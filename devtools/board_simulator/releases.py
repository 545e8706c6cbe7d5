"""What differs between the simulated firmware releases (konnected-io/konnected-security tags).

Each flag names the tag and file that introduced it; docs/protocol.md has the line numbers.
Only releases whose Lua was read in full are offered: a flag interpolated for an unread tag
would be a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Release:
    """One firmware release's behaviour switches."""

    sw_version: str
    hw_version: str  # device.lua `hwVersion` (a firmware constant, not the hardware)
    nodemcu_version: str  # node.info() in the SSDP SERVER header
    nodemcu3: bool  # NodeMCU 3.0: tmr/websocket/sntp callbacks run under luaL_pcallx, no sjson.NULL
    zones: bool  # v3.1.0 application.lua zoneToPin: `zone` keys in settings, reports and switch
    zone_path: bool  # v3.1.5 server_receiver.lua: `/zone` routed like `/device`
    close_before_settings: bool  # v3.1.1 server_receiver.lua: PUT /settings waits for mqttC:close()
    settings_lock: bool  # v3.0.0 server_lock.lua, the 409 in server_settings.lua
    connect_timeout_restart: bool  # v3.0.0 aws_iot.lua mqttTimeout (and the -ats strip)
    offline_restart: bool  # v2.3.4 aws_iot.lua: restart after the 10th `offline`
    end_state_report: bool  # v2.3.4 aws_iot.lua: report switch()'s end state (+ revert), not gpio.read
    actuator_initial_state: bool  # v2.3.4 application.lua: write the off level (from trigger) at boot
    ds18b20_lua_module: bool  # v3.0.0 ds18b20.lua (Lua module) instead of NodeMCU's C ds18b20 module
    status_settings_subset: bool  # v2.3.4 server_status.lua: settings = {endpoint, endpoint_type}
    content_headers_when_empty: bool  # v2.3.2 httpd_res.lua: Content-Type/Length even for ""
    options_status: int  # OPTIONS answer status (204 on v2.3.2, 200 from v3.0.0)
    ssdp_urn_prefix: bool  # v3.1.5 ssdp_response.lua: ST may be any prefix of the URN
    time_server: bool  # v3.1.3 server_settings.lua stores `time_server`


RELEASES: Final = {
    "2.3.2": Release(
        sw_version="2.3.2",
        hw_version="2.3.0",
        nodemcu_version="2.2.0",
        nodemcu3=False,
        zones=False,
        zone_path=False,
        close_before_settings=False,
        settings_lock=False,
        connect_timeout_restart=False,
        offline_restart=False,
        end_state_report=False,
        actuator_initial_state=False,
        ds18b20_lua_module=False,
        status_settings_subset=False,
        content_headers_when_empty=True,
        options_status=204,
        ssdp_urn_prefix=False,
        time_server=False,
    ),
    "3.0.1": Release(
        sw_version="3.0.1",
        hw_version="3.0.0",
        nodemcu_version="3.0.0",
        nodemcu3=True,
        zones=False,
        zone_path=False,
        close_before_settings=False,
        settings_lock=True,
        connect_timeout_restart=True,
        offline_restart=True,
        end_state_report=True,
        actuator_initial_state=True,
        ds18b20_lua_module=True,
        status_settings_subset=True,
        content_headers_when_empty=False,
        options_status=200,
        ssdp_urn_prefix=False,
        time_server=False,
    ),
    "3.1.5": Release(
        sw_version="3.1.5",
        hw_version="3.0.0",
        nodemcu_version="3.0.0",
        nodemcu3=True,
        zones=True,
        zone_path=True,
        close_before_settings=True,
        settings_lock=True,
        connect_timeout_restart=True,
        offline_restart=True,
        end_state_report=True,
        actuator_initial_state=True,
        ds18b20_lua_module=True,
        status_settings_subset=True,
        content_headers_when_empty=False,
        options_status=200,
        ssdp_urn_prefix=True,
        time_server=True,
    ),
}


def release(sw_version: str) -> Release:
    """Return the simulated release, or a clear error for one that is not simulated."""
    try:
        return RELEASES[sw_version]
    except KeyError:
        raise ValueError(
            f"firmware {sw_version!r} is not simulated; choose one of {', '.join(RELEASES)}"
        ) from None
