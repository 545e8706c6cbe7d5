"""The firmware's Lua application, one boot of it, per release.

The release's konnected-io/konnected-security `src/lfs/*.lua`. Function names follow the Lua files; docs/protocol.md cites the lines.

Everything here runs on the event loop like the single Lua thread does; a `LuaError` raised
from a callback is handled by `Boot.call` as the NodeMCU C caller would (panic or restart).
"""

from __future__ import annotations

from collections.abc import Callable
import copy
import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from . import hardware as hw
from .http import (
    INDEX_PAGE,
    Connection,
    Request,
    body_complete,
    has_content_length,
    parse_request,
    status_line,
)
from .lua import (
    LuaError,
    arith,
    build_variables,
    checkinteger,
    concat,
    index,
    is_number,
    length,
    lua_eq,
    lua_or,
    pairs,
    sjson_decode,
    sjson_encode,
    tonumber,
    truthy,
)
from .mqtt import MqttClient
from .runtime import Boot, Mode, Timer
from .websocket import NodeWebSocket

if TYPE_CHECKING:
    from . import SimulatedBoard

URN: Final = "urn:schemas-konnected-io:device:Security:1"
MAX_TIMEOUT_MS: Final = 6870947  # tmr.c: the largest interval tmr accepts
LOCK_KEY: Final = b"lockmeup"  # server_lock.lua lock_str
LOCKED_ANSWER: Final = '{ "msg":"settings are locked" }'
STORED: Final = ("settings", "sensors", "actuators", "dht_sensors", "ds18b20_sensors")


def zone_to_pin(zone: Any) -> int | None:
    """application.lua zoneToPin (v3.1.0+): numbers or strings, no other spelling."""
    for name, pin in (("1", 1), ("2", 2), ("3", 5), ("4", 6), ("5", 7), ("6", 9)):
        if lua_eq(zone, int(name)) or lua_eq(zone, name):
            return pin
    if lua_eq(zone, "out") or lua_eq(zone, "alarm"):
        return 8
    return None


class Firmware:
    """One boot's Lua state: globals, loaded modules, timers."""

    def __init__(self, board: SimulatedBoard, boot: Boot) -> None:
        """Start one boot's Lua state for `board`."""
        self.board = board
        self.boot = boot
        self.release = board.release
        self.timing = board.timing
        self.hardware = board.hardware
        self.loaded: dict[str, Any] = {}
        # Lua globals.
        self.sensor_put: list[dict[str, Any]] = []
        self.actuator_get: list[Any] = []
        self.infinite_loops: dict[Any, bool] = {}
        self.mqtt: MqttClient | None = None  # `mqttC` (v3.1.1+) or aws_iot.lua's `c`
        self.full_payload: str | None = None  # server_receiver.lua fullPayload / bBodyMissing
        self.body_missing = False
        self.global_request: Request | None = None  # v3.1.1+: `request`/`response` are globals
        self.global_response = False
        self.ds18b20_sens: list[bytes] = []  # ds18b20.lua (or the C module): one state for all buses
        self.ds18b20_pin: int | None = None
        self.ds18b20_callback: Callable[[dict[bytes, str]], None] | None = None
        self._ds18b20_c_timer: Timer | None = None
        self.aws: AwsIot | None = None

    # --- helpers --------------------------------------------------------------------------

    def require(self, name: str) -> Any:
        """Load a stored settings file as Lua's `require` does: one table per boot until rewritten."""
        if name not in self.loaded:
            self.loaded[name] = copy.deepcopy(self.board.files[name])
        return self.loaded[name]

    def timer(self) -> Timer:
        """tmr.create(): callbacks under luaL_pcallx on NodeMCU 3.0."""
        return Timer(self.boot, protected=True)

    def alarm(self, milliseconds: Any, function: Callable[[], None], *, scaled: bool = True) -> None:
        """tmr.create():alarm(ms, tmr.ALARM_SINGLE, fn) with tmr.c's argument checks."""
        interval = checkinteger(milliseconds, "#2 to 'alarm'")
        if not 0 < interval <= MAX_TIMEOUT_MS:
            raise LuaError("bad argument #2 to 'alarm' (wrong arg range)")
        seconds = self.timing.ms(interval) if scaled else interval / 1000
        self.timer().alarm(seconds, Mode.SINGLE, lambda _: function())

    def after(self, seconds: float, function: Callable[[], None]) -> None:
        """Start a single-shot timer with a firmware-constant interval."""
        self.timer().alarm(seconds, Mode.SINGLE, lambda _: function())

    def restart(self) -> None:
        """node.restart()."""
        self.board.restart_now(self.boot)

    def device_pin(self, device: Any) -> Any:
        """Return the pin as getDevicePin (v3.1.0+) or `device.pin`."""
        if self.release.zones and index(device, "zone") is not None:
            return zone_to_pin(index(device, "zone"))
        return index(device, "pin")

    def keyed(self, device: Any, **values: Any) -> dict[str, Any]:
        """`{zone = device.zone, ...}` when the device has a zone (v3.1.0+), else `{pin = device.pin, ...}`."""
        if self.release.zones and index(device, "zone") is not None:
            key = {"zone": index(device, "zone")}
        else:
            key = {"pin": index(device, "pin")} if index(device, "pin") is not None else {}
        return {**key, **{name: value for name, value in values.items() if value is not None}}

    def report(self, entry: dict[str, Any]) -> None:
        """table.insert(sensorPut, entry)."""
        self.sensor_put.append(entry)

    # --- boot -------------------------------------------------------------------------------

    def application(self) -> None:
        """application.lua, run from the SNTP callback in wifi.lua's bootApp after server.lua."""
        release = self.release
        sensors = self.require("sensors")
        dht_sensors = self.require("dht_sensors")
        ds18b20_sensors = self.require("ds18b20_sensors")
        actuators = self.require("actuators")
        settings = self.require("settings")
        for _, sensor in pairs(sensors):
            self.hardware.mode(self.device_pin(sensor))
        for _, actuator in pairs(actuators):
            pin = self.device_pin(actuator)
            if release.actuator_initial_state:
                self.hardware.write(pin, 1 if lua_eq(index(actuator, "trigger"), 0) else 0)
            self.hardware.mode(pin)
            self.actuator_get.append(actuator)
        if length(dht_sensors) > 0:
            for _, sensor in pairs(dht_sensors):
                self._start_dht(sensor)
        if length(ds18b20_sensors) > 0:
            for _, sensor in pairs(ds18b20_sensors):
                self._start_ds18b20(sensor)
        poll = self.timer()
        poll.alarm(self.timing.poll_interval, Mode.AUTO, lambda _: self._poll_inputs(sensors))
        endpoint_type = lua_or(index(settings, "endpoint_type"), "rest")
        if lua_eq(endpoint_type, "rest"):
            RestEndpoint(self, settings).start()
        elif lua_eq(endpoint_type, "aws_iot"):
            self.aws = AwsIot(self)
            self.aws.start_loop()

    def _poll_interval(self, sensor: Any) -> float:
        """(tonumber(poll_interval) > 0 or 3) minutes, in simulated seconds."""
        minutes = tonumber(index(sensor, "poll_interval")) or 0
        return self.timing.ms((minutes if minutes > 0 else 3) * 60 * 1000)

    def _log_target(self, sensor: Any, shown_pin: Any) -> str:
        """Return the concatenation in the 'Polling ... on zone/pin' print (nil raises)."""
        if self.release.zones and index(sensor, "zone") is not None:
            return concat("zone ", index(sensor, "zone"))
        return concat("pin ", shown_pin)

    def _start_dht(self, sensor: Any) -> None:
        interval = self._poll_interval(sensor)
        self._log_target(sensor, index(sensor, "pin"))

        def read() -> None:
            pin = checkinteger(self.device_pin(sensor), "#1 to 'read'")
            if not 0 < pin < 13:
                raise LuaError(f"dht {pin} does not exist")
            strings = hw.dht_strings(self.hardware.dht.get(pin))
            if strings is not None:
                self.report(self.keyed(sensor, temp=strings[0], humi=strings[1]))

        self.timer().alarm(interval, Mode.AUTO, lambda _: read())
        read()

    def _start_ds18b20(self, sensor: Any) -> None:
        interval = self._poll_interval(sensor)
        pin = self.device_pin(sensor)
        self._log_target(sensor, pin if self.release.zones else index(sensor, "pin"))

        def deliver(temperatures: dict[bytes, str]) -> None:
            for rom, value in temperatures.items():
                self.report(self.keyed(sensor, temp=value, addr=hw.rom_string(rom)))

        def read() -> None:
            self._ds18b20_read(pin, deliver)

        self.timer().alarm(interval, Mode.AUTO, lambda _: read())
        read()

    def _ds18b20_read(self, pin: Any, callback: Callable[[dict[bytes, str]], None]) -> None:
        """Read a 1-Wire bus once.

        The v3.x ds18b20.lua keeps `pin`, `cb` and the found
        sensors (`sens`, searched only while empty) at module level, and the v2.3.2 C module
        keeps the bus pin and callback in C globals: a second bus changes them for the first.
        """
        checked = checkinteger(pin, "#1 to 'setup'")
        if not 0 < checked < 13:
            raise LuaError(f"ow {checked} does not exist")
        self.ds18b20_pin = checked
        self.ds18b20_callback = callback
        if self.release.ds18b20_lua_module and not self.ds18b20_sens:
            self.ds18b20_sens = sorted(self._search_bus(checked))

        def readout() -> None:
            bus_pin = self.ds18b20_pin if self.ds18b20_pin is not None else -1
            bus = self.hardware.buses.get(bus_pin, {})
            # ds18b20.lua reads the addresses it found first; the C module searches the bus now.
            found = self.ds18b20_sens if self.release.ds18b20_lua_module else sorted(self._search_bus(bus_pin))
            temperatures: dict[bytes, str] = {}
            for rom in found:
                if rom not in bus:
                    continue  # nobody answers on this pin: the scratchpad CRC fails
                if self.release.ds18b20_lua_module:
                    value = hw.ds18b20_lua_string(rom, bus[rom])
                    if value is not None:
                        temperatures[rom] = value
                else:
                    temperatures[rom] = hw.ds18b20_c_string(rom, bus[rom])
            if self.ds18b20_callback is not None:
                self.ds18b20_callback(temperatures)

        if self.release.ds18b20_lua_module:
            self.timer().alarm(self.timing.ds18b20_conversion, Mode.SINGLE, lambda _: readout())
        else:  # the C module's one conversion timer: a second read re-arms it
            if self._ds18b20_c_timer is None:
                self._ds18b20_c_timer = self.timer()
            self._ds18b20_c_timer.alarm(self.timing.ds18b20_conversion, Mode.SINGLE, lambda _: readout())

    def _search_bus(self, pin: int) -> list[bytes]:
        """ow.search: ROM codes with a valid CRC (and, in ds18b20.lua, a DS18x20 family)."""
        return [
            rom
            for rom in self.hardware.buses.get(pin, {})
            if hw.one_wire_crc8(rom[:7]) == rom[7]
            and (not self.release.ds18b20_lua_module or rom[0] in (hw.DS18B20_FAMILY, hw.DS18S20_FAMILY))
        ]

    def _poll_inputs(self, sensors: Any) -> None:
        """Run the 200 ms sensorTimer: report every input whose level differs from the last seen."""
        for _, sensor in pairs(sensors):
            level = self.hardware.read(self.device_pin(sensor))
            if not lua_eq(index(sensor, "state"), level):
                sensor["state"] = level
                self.report(self.keyed(sensor, state=level))

    # --- switch.lua -------------------------------------------------------------------------

    def switch(self, payload: Any) -> dict[str, Any]:
        """Run require("switch")(payload).

        The module is reloaded for every call, and loading it
        runs `infiniteLoops = {}`: a new global table, which stops every endless pattern at its
        next off step; a finite pattern already running is never cancelled.
        """
        self.infinite_loops = {}
        zone = index(payload, "zone") if self.release.zones else None
        pin: Any = tonumber(index(payload, "pin"))
        state: Any = tonumber(index(payload, "state"))
        times = tonumber(index(payload, "times"))
        if zone is not None:
            pin = zone_to_pin(zone)
        self.hardware.write(pin, state)
        if truthy(index(payload, "momentary")):
            self._turn_off_in(pin, state, index(payload, "momentary"), times, index(payload, "pause"))
            if times == -1:
                state = -1  # "this indicates an infinite repeat"
        return {"zone": zone, "state": state} if zone is not None else {"pin": pin, "state": state}

    def _turn_off_in(self, pin: Any, on_state: int, delay: Any, times: int | None, pause: Any) -> None:
        off = 1 if on_state == 0 else 0
        remaining = times if times is not None else -1
        if remaining == -1:
            self.infinite_loops[pin] = True
        loops = self

        def off_step() -> None:
            nonlocal remaining
            self.hardware.write(pin, off)
            remaining -= 1
            if (remaining > 0 or loops.infinite_loops.get(pin)) and truthy(pause):

                def on_step() -> None:
                    self.hardware.write(pin, on_state)
                    self._turn_off_in(pin, on_state, delay, remaining, pause)

                self.alarm(pause, on_step)

        self.alarm(delay, off_step)

    # --- HTTP (server_receiver.lua) ---------------------------------------------------------

    def http_receive(self, connection: Connection, payload: str) -> None:
        """Run the `receive` callback of a server socket, once per TCP segment."""
        if self.board.stall_http:
            return
        if has_content_length(payload) or self.body_missing:
            self.full_payload = (self.full_payload or "") + payload
            if not body_complete(self.full_payload):
                self.body_missing = True
                return
            payload, self.full_payload, self.body_missing = self.full_payload, None, False
        request = parse_request(payload)
        if self.release.close_before_settings:
            self.global_request, self.global_response = request, True
        if self._route(connection, request) and self.release.close_before_settings:
            self.global_request, self.global_response = None, False  # `sck, request, response = nil`

    def _route(self, connection: Connection, request: Request) -> bool:
        """Dispatch on the path; False when it returned early (the deferred PUT /settings)."""
        release = self.release
        path = request.path
        if request.method == "OPTIONS":
            headers = "Access-Control-Allow-Methods: POST, GET, PUT, OPTIONS\r\nAccess-Control-Allow-Headers: Content-Type\r\n"
            status = release.options_status if release.options_status != 200 else None
            self.respond(connection, "", None, status, headers)
        elif path == "/":
            self._respond_file(connection, "text/html")
        elif path == "/favicon.ico":
            self._respond_file(connection, "image/x-icon")
        elif path == "/Device.xml":
            self.respond(connection, self.description(), "text/xml")
        elif path == "/settings":
            if release.close_before_settings and self.mqtt is not None and request.method != "GET":
                self._settings_after_close(connection)
                return False
            self.respond(connection, *self.server_settings(request))
        elif path == "/device" or (release.zone_path and path == "/zone"):
            self.respond(connection, self.server_device(request))
        elif path == "/status":
            self.respond(connection, sjson_encode(self.server_status()))
        elif path == "/lock" and release.settings_lock:
            self.respond(connection, *self.server_lock(request))
        # /ota (not simulated) and anything else: no answer; the idle timeout closes the socket
        return True

    def _settings_after_close(self, connection: Connection) -> None:
        """Answer and save after the MQTT connection closed (v3.1.1+).

        v3.1.1+: `mqttC:on("offline", ...answer...)` then `mqttC:close()`; the answer, and
        the saving, happen in that `offline` callback, reading the globals `request` and
        `response` as they are then (another request in between leaves them nil).
        """
        client = self.mqtt
        assert client is not None

        def offline() -> None:
            if not self.global_response:
                raise LuaError("attempt to index global 'response' (a nil value)")
            request = self.global_request
            if request is None:
                raise LuaError("attempt to index global 'request' (a nil value)")
            self.respond(connection, *self.server_settings(request))

        client.on("offline", offline)
        client.close()

    def respond(self, connection: Connection, body: Any = None, content_type: Any = None, status: Any = None, headers: str = "") -> None:
        """httpd_res.lua respondWithText."""
        if not isinstance(body, str):
            raise LuaError("bad argument #1 to 'len' (string expected, got nil)")
        encoded = body.encode()
        if self.board.garble_http and encoded:
            encoded = encoded[: max(1, len(encoded) // 3)]  # test hook: an answer cut short
        kind = content_type if content_type is not None else "application/json"
        code = status if status is not None else 200
        if self.release.content_headers_when_empty:
            head = f"Content-Type: {kind}\r\nContent-Length: {len(encoded)}\r\nAccess-Control-Allow-Origin: *\r\n{headers}"
        else:
            content = f"Content-Type: {kind}\r\nContent-Length: {len(encoded)}\r\n" if encoded else ""
            head = f"Access-Control-Allow-Origin: *\r\n{headers}{content}"
        connection.send_and_close((status_line(code) + head + "\r\n").encode() + encoded)

    def _respond_file(self, connection: Connection, content_type: str) -> None:
        """respondWithFile: no Content-Length, gzip, closed at the end."""
        head = f"HTTP/1.1 200\r\nContent-Type: {content_type}\r\nAccess-Control-Allow-Origin: *\r\nContent-Encoding: gzip\r\n\r\n"
        connection.send_and_close(head.encode() + INDEX_PAGE)

    # --- server_settings.lua ----------------------------------------------------------------

    def server_settings(self, request: Request) -> tuple[Any, ...]:
        """Answer `/settings` (GET, PUT)."""
        if request.method == "GET":
            if request.query.get("restart", "false") == "true":
                self._settings_restart()
            if request.query.get("restore", "false") == "true":
                self.board.wifi_configured = False  # node.restore(): the SDK's WiFi config too
                self._settings_restart()
            return ("",)
        if request.method in ("PUT", "POST") and request.content_type == "application/json":
            if self.release.settings_lock and self.board.locked:
                return (LOCKED_ANSWER, None, 409)
            body = request.body
            values = {
                "token": index(body, "token"),
                "endpoint": lua_or(index(body, "endpoint"), index(body, "apiUrl")),
                "endpoint_type": index(body, "endpoint_type"),
                "blink": index(body, "blink"),
                "discovery": index(body, "discovery"),
                "aws": index(body, "aws"),
            }
            if self.release.time_server:
                values["time_server"] = index(body, "time_server")
            settings = {key: value for key, value in values.items() if value is not None}
            self._store("settings", settings)
            for name in STORED[1:]:
                self._store(name, index(body, name))
            self._settings_restart()
            return ("",)
        return (None,)

    def _store(self, name: str, value: Any) -> None:
        """setVar(name, variables_build(value)): nil keeps the old file."""
        built = build_variables(value, sjson_null=not self.release.nodemcu3)
        if built is None:
            return
        self.board.files[name] = built
        self.loaded.pop(name, None)  # package.loaded[name] = nil

    def _settings_restart(self) -> None:
        """server_settings.lua's restartTimer (a new one each time the module loads)."""
        Timer(self.boot, protected=True).alarm(self.timing.reboot_delay, Mode.SINGLE, lambda _: self.restart())

    # --- server_status.lua / server_device.lua / server_lock.lua / ssdp.lua ------------------

    def server_status(self) -> dict[str, Any]:
        """Answer `/status`."""
        board = self.board
        settings = self.require("settings")
        if self.release.status_settings_subset:
            shown: Any = {"endpoint": index(settings, "endpoint"), "endpoint_type": index(settings, "endpoint_type")}
        else:
            if isinstance(settings, dict):  # v2.3.2 clears them on the loaded table itself
                settings.pop("token", None)
                settings.pop("aws", None)
            shown = settings
        return {
            "hwVersion": board.hw_version,
            "swVersion": self.release.sw_version,
            "heap": 21000,
            "uptime": int(self.boot.loop.time() - self.boot.started),
            "ip": "127.0.0.1",
            "port": board.http_port,
            "nm": "255.0.0.0",
            "gw": "127.0.0.1",
            "mac": board.mac,
            "rssi": -61,
            "sensors": self.require("sensors"),
            "actuators": self.require("actuators"),
            "dht_sensors": self.require("dht_sensors"),
            "ds18b20_sensors": self.require("ds18b20_sensors"),
            "settings": shown,
        }

    def server_device(self, request: Request) -> Any:
        """Answer `/device` (GET, PUT)."""
        if request.method == "GET":
            pin = request.query.get("pin", "all")
            zone = request.query.get("zone", "all") if self.release.zones else None
            if pin == "all" or zone == "all":
                listed = []
                for _, sensor in pairs(self.require("sensors")):
                    if self.release.zones and index(sensor, "pin") is None:
                        listed.append({"zone": index(sensor, "zone"), "state": index(sensor, "state")})
                    else:
                        listed.append({"pin": index(sensor, "pin"), "state": index(sensor, "state")})
                return sjson_encode(listed)
            return sjson_encode([{"pin": pin, "state": self.hardware.read(pin)}])
        if request.content_type == "application/json" and request.method == "PUT":
            body = request.body
            if truthy(index(body, 1)):
                return sjson_encode([self.switch(item) for _, item in pairs(body)])
            return sjson_encode(self.switch(body))
        return None

    def server_lock(self, request: Request) -> tuple[Any, ...]:
        """Answer `/lock` (GET, PUT)."""
        board = self.board
        if request.method == "GET":
            return (sjson_encode({"state": "locked" if board.locked else "unlocked"}),)
        if request.content_type == "application/json" and request.method == "PUT":
            password = index(request.body, "pwd")
            if not truthy(password):
                return (sjson_encode({"msg": "missing `pwd` field"}), None, 400)
            signature = hmac.new(LOCK_KEY, concat(password).encode("latin-1"), hashlib.sha1).hexdigest()
            if board.locked:
                if signature == board.lock_signature:
                    board.lock_signature = ""
                    return (sjson_encode({"state": "unlocked"}),)
                return (sjson_encode({"msg": "incorrect value for pwd"}), None, 403)
            board.lock_signature = signature
            return (sjson_encode({"state": "locked"}),)
        return (sjson_encode({"msg": "unsupported request"}), None, 400)

    def description(self) -> str:
        """ssdp.lua Device.xml."""
        board = self.board
        return (
            '<?xml version="1.0"?>\r\n'
            f'<root xmlns="urn:schemas-upnp-org:device-1-0" configId="{board.http_port}">\r\n'
            "  <specVersion><major>1</major><minor>0</minor></specVersion>\r\n"
            f"  <URLBase>http://127.0.0.1:{board.http_port}</URLBase>\r\n"
            f"  <device>\r\n    <deviceType>{URN}</deviceType>\r\n"
            f"    <friendlyName>{board.name}</friendlyName>\r\n"
            "    <manufacturer>konnected.io</manufacturer>\r\n"
            "    <manufacturerURL>http://konnected.io/</manufacturerURL>\r\n"
            "    <modelDescription>Konnected Security</modelDescription>\r\n"
            f"    <modelName>{board.name}</modelName>\r\n"
            f"    <modelNumber>{self.release.sw_version}</modelNumber>\r\n"
            f"    <serialNumber>{board.chip_id}</serialNumber>\r\n"
            f"    <UDN>{board.udn}</UDN>\r\n"
            "    <presentationURL>/</presentationURL>\r\n"
            "  </device>\r\n</root>\r\n"
        )

    def ssdp_answer(self, datagram: str) -> str | None:
        """ssdp_response.lua: the unicast answer to an M-SEARCH, or None."""
        if "M-SEARCH" not in datagram:
            return None
        urn_match = re.search(r"ST: (urn:[!-~]*)", datagram)
        urn = urn_match.group(1) if urn_match else None
        if self.release.ssdp_urn_prefix:
            wanted = re.search(r"ST:\s*ssdp:all", datagram) is not None or (urn is not None and URN.startswith(urn))
        else:
            wanted = urn == URN or "ST: ssdp:all" in datagram
        if not wanted:
            return None
        board = self.board
        return (
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\n"
            f"ST: {URN}\r\nUSN: {board.udn}::{URN}\r\nEXT:\r\n"
            f"SERVER: NodeMCU/{self.release.nodemcu_version} UPnP/1.1 {board.name}/{self.release.sw_version}\r\n"
            f"LOCATION: http://127.0.0.1:{board.http_port}/Device.xml\r\n\r\n"
        )

    def ssdp_notify(self, nt: str, usn_suffix: str) -> str:
        """ssdp_notify.lua."""
        board = self.board
        return (
            "NOTIFY * HTTP/1.1\r\nCACHE-CONTROL: max-age=1800\r\n"
            f"NT: {nt}\r\nUSN: {board.udn}{usn_suffix}\r\nNTS: ssdp:alive\r\n"
            f"SERVER: NodeMCU/{self.release.nodemcu_version} UPnP/1.1 {board.name}/{self.release.sw_version}\r\n"
            f"LOCATION: http://127.0.0.1:{board.http_port}/Device.xml\r\n"
            f"BOOTID.UPNP.ORG: 1\r\nCONFIGID.UPNP.ORG: {board.http_port}\r\n\r\n"
        )


class AwsIot:
    """aws_iot.lua (+ mqtt_ws.lua underneath)."""

    def __init__(self, firmware: Firmware) -> None:
        """Load aws_iot.lua with the stored settings."""
        self.fw = firmware
        board = firmware.board
        release = firmware.release
        settings = firmware.require("settings")
        self.settings = settings
        self.device_id = board.mac.lower().replace(":", "")
        websocket = NodeWebSocket(
            firmware.boot,
            connect_timeout=board.timing.ws_connect_timeout,
            ping_interval=board.timing.ws_ping_interval,
            close_timeout=board.timing.ws_close_timeout,
            latency=board.timing.reconnect_delay,
        )
        board.websocket = websocket
        if release.close_before_settings:
            self.topics = index(index(settings, "aws"), "topics")
            self.client = MqttClient(firmware.boot, websocket, index(settings, "aws"), board.mqtt_connected)
        else:
            self.client = MqttClient(firmware.boot, websocket, index(settings, "aws"), board.mqtt_connected)
            self.topics = index(index(settings, "aws"), "topics")
        firmware.mqtt = self.client
        self.send_timer = firmware.timer()
        self.timeout = firmware.timer()
        self.heartbeat = firmware.timer()
        self.mqtt_timeout = firmware.timer()
        self.failures = 0
        self._offline_depth = 0
        timing = board.timing
        self.timeout.register(timing.puback_timeout, Mode.SEMI, lambda _: self._no_puback())
        self.send_timer.register(timing.send_interval, Mode.AUTO, self._send_next)
        self.heartbeat.register(timing.heartbeat_first, Mode.AUTO, self._heartbeat)
        if release.connect_timeout_restart:
            self.mqtt_timeout.register(timing.connect_timeout, Mode.SEMI, lambda _: firmware.restart())
        self.client.on("puback", self._puback)
        self.client.on("message", self._message)
        self.client.on("connect", self._connect)

    def start_loop(self) -> None:
        """startLoop(): the `offline` handler, the 10 s watchdog, the first connect."""
        self.client.on("offline", self._offline)
        endpoint = index(self.settings, "endpoint")
        if self.fw.release.connect_timeout_restart:
            self.mqtt_timeout.start()
            if not isinstance(endpoint, str) and not is_number(endpoint):
                raise LuaError("bad argument #1 to 'gsub' (string expected, got nil)")
            # string.gsub(endpoint, "-ats", ""): every "-ats", first attempt only.
            self.client.connect(concat(endpoint).replace("-ats", ""))
        else:
            self.client.connect(endpoint)

    def _offline(self) -> None:
        fw = self.fw
        if fw.release.offline_restart:
            self.failures += 1
            self.send_timer.stop()
            if self.failures >= 10:
                fw.after(fw.timing.offline_restart_delay, fw.restart)
            else:
                self.client.connect(index(self.settings, "endpoint"))
            return
        self.send_timer.stop()
        self._offline_depth += 1
        try:
            if self._offline_depth > 50:
                raise LuaError("stack overflow")  # a URL that never parses recurses forever
            self.client.connect(index(self.settings, "endpoint"))
        finally:
            self._offline_depth -= 1

    def _connect(self) -> None:
        fw = self.fw
        self.mqtt_timeout.stop()
        self.client.subscribe(index(self.topics, "switch"))
        for actuator in fw.actuator_get:
            pin = fw.device_pin(actuator)
            fw.report(fw.keyed(actuator, state=fw.hardware.read(pin)))
        self.heartbeat.start()
        self.send_timer.start()

    def _heartbeat(self, timer: Timer) -> None:
        beat = self.fw.server_status()
        beat = {**beat, "topic": index(self.topics, "heartbeat"), "timestamp": int(time.time())}
        self.fw.report({key: value for key, value in beat.items() if value is not None})
        timer.interval(self.fw.timing.heartbeat_interval)

    def _send_next(self, timer: Timer) -> None:
        fw = self.fw
        if not fw.sensor_put:
            return
        sensor = fw.sensor_put[0]
        timer.stop()
        retry = sensor.get("retry")
        if retry is not None and retry > 10:
            fw.sensor_put.clear()  # "Retried 10 times and failed. Rebooting in 30 seconds."
            fw.after(fw.timing.retry_restart_delay, fw.restart)
            return
        message_id = self.client.msg_id
        topic = lua_or(sensor.get("topic"), index(self.topics, "sensor"))
        sensor["device_id"] = self.device_id
        self.timeout.start()
        self.client.publish(topic, sensor)
        fw.board.record_publish(topic, sjson_encode(sensor))
        sensor["message_id"] = message_id

    def _no_puback(self) -> None:
        queue = self.fw.sensor_put
        if not queue:
            raise LuaError("attempt to index field '?' (a nil value)")
        queue[0]["retry"] = arith(lua_or(queue[0].get("retry"), 0)) + 1
        queue[0].pop("message_id", None)
        self.send_timer.start()

    def _puback(self, message_id: int) -> None:
        queue = self.fw.sensor_put
        if queue and lua_eq(queue[0].get("message_id"), message_id):
            queue.pop(0)
            self.timeout.stop()
            self.send_timer.start()

    def _message(self, topic: bytes, message: bytes) -> None:
        fw = self.fw
        payload = sjson_decode(message)
        fw.board.commands.append(payload)
        if not fw.release.end_state_report:
            fw.switch(payload)
            pin = index(payload, "pin")
            fw.report({"pin": pin, "state": fw.hardware.read(pin)})
            return
        end_state = fw.switch(payload)
        fw.report(end_state)
        momentary = index(payload, "momentary")
        if truthy(momentary) and not lua_eq(index(payload, "times"), -1):
            pause = lua_or(index(payload, "pause"), 0)
            times = lua_or(index(payload, "times"), 1)
            revert_in = (arith(momentary) + arith(pause)) * arith(times) - arith(pause)
            reverted = 1 if end_state["state"] == 0 else 0

            def revert() -> None:
                if fw.release.zones and end_state.get("zone") is not None:
                    fw.report({"zone": end_state["zone"], "state": reverted})
                else:
                    fw.report({"pin": end_state.get("pin"), "state": reverted})

            fw.alarm(revert_in, revert)


class RestEndpoint:
    """rest_endpoint.lua: actuator states fetched from, and sensor changes PUT to, `endpoint`."""

    def __init__(self, firmware: Firmware, settings: Any) -> None:
        """Load rest_endpoint.lua with the stored settings."""
        self.fw = firmware
        self.settings = settings
        self.dni = firmware.board.mac.replace(":", "")
        self.timeout = firmware.timer()
        self.timeout.register(firmware.timing.rest_timeout, Mode.SEMI, lambda _: firmware.restart())
        self.send_timer = firmware.timer()

    def start(self) -> None:
        """Start the send timer."""
        self.send_timer.alarm(self.fw.timing.send_interval, Mode.AUTO, self._tick)

    def _headers(self, content: bool) -> dict[str, str]:
        concat("Authorization: Bearer ", index(self.settings, "token"))  # nil token: a Lua error
        headers = {"Authorization": f"Bearer {index(self.settings, 'token')}", "Accept": "application/json"}
        if content:
            headers["Content-Type"] = "application/json"
        return headers

    def _tick(self, timer: Timer) -> None:
        fw = self.fw
        endpoint = index(self.settings, "endpoint")
        if fw.actuator_get:
            timer.stop()
            actuator = fw.actuator_get[0]
            self.timeout.start()
            if fw.release.zones and index(actuator, "zone") is not None:
                url = concat(endpoint, "/device/", self.dni, "?zone=", index(actuator, "zone"))
            else:
                url = concat(endpoint, "/device/", self.dni, "?pin=", index(actuator, "pin"))
            headers = self._headers(False)
            fw.boot.spawn(self._request("GET", url, headers, None, lambda code, body: self._got(timer, actuator, code, body)))
        elif fw.sensor_put:
            timer.stop()
            sensor = fw.sensor_put[0]
            self.timeout.start()
            url = concat(endpoint, "/device/", self.dni)
            headers = self._headers(True)
            fw.boot.spawn(self._request("PUT", url, headers, sjson_encode(sensor), lambda code, _: self._put(timer, sensor, code)))

    async def _request(self, method: str, url: str, headers: dict[str, str], body: str | None, callback: Callable[[int, str | None], None]) -> None:
        """NodeMCU http.get/http.put: the callback gets (code, body), code < 0 on failure."""
        try:
            async with aiohttp.ClientSession() as session, session.request(method, url, headers=headers, data=body) as answer:
                code, text = answer.status, await answer.text()
        except (aiohttp.ClientError, OSError, ValueError):
            code, text = -1, None
        self.fw.boot.call(callback, code, text, protected=True)

    def _got(self, timer: Timer, actuator: Any, code: int, body: str | None) -> None:
        fw = self.fw
        self.timeout.stop()
        zone = pin = state = None
        if body is not None and 200 <= code < 300:
            try:
                answer = sjson_decode(body)
                zone = index(answer, "zone")
                pin = tonumber(index(answer, "pin"))
                state = tonumber(index(answer, "state"))
            except LuaError:
                pass
        own_pin = tonumber(index(actuator, "pin"))
        if fw.release.zones:  # v3.1.0+: pin or tonumber(actuator.pin) or zoneToPin(actuator.zone)
            target = pin if pin is not None else own_pin if own_pin is not None else zone_to_pin(index(actuator, "zone"))
            matches = lua_eq(pin, own_pin) or lua_eq(zone, index(actuator, "zone"))
        else:
            target = index(actuator, "pin")
            matches = lua_eq(pin, own_pin if fw.release.nodemcu3 else index(actuator, "pin"))
        fw.hardware.mode(target)
        if matches and 200 <= code < 300 and state is not None:
            fw.hardware.write(target, state)
        else:
            fw.hardware.write(target, 1 if lua_eq(index(actuator, "trigger"), 0) else 0)
        fw.actuator_get.pop(0)
        timer.start()

    def _put(self, timer: Timer, sensor: dict[str, Any], code: int) -> None:
        fw = self.fw
        self.timeout.stop()
        if 200 <= code < 300:
            if fw.sensor_put and fw.sensor_put[0] is sensor:
                fw.sensor_put.pop(0)
        else:
            retry = sensor.get("retry") or 0
            if retry == 10:
                fw.sensor_put.clear()
                fw.after(fw.timing.retry_restart_delay, fw.restart)
            else:
                sensor["retry"] = retry + 1
        timer.start()
