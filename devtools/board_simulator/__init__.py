"""A simulated legacy Konnected board that behaves like the real firmware, per release.

The Lua of konnected-io/konnected-security (tags v2.3.2, v3.0.1, v3.1.5) and the NodeMCU C
modules it runs on (websocketclient.c, sjson.c, tmr.c, dht.c, the Lua panic handler) are
modelled in `firmware.py`, `websocket.py`, `mqtt.py`, `http.py`, `lua.py`; docs/protocol.md
describes each release with file:line references. The board refuses what the firmware
refuses, crashes where the firmware crashes (a Lua error restarts the chip) and answers late
or never where the firmware does.

Not firmware: `/_sim/...` is not served; scripts drive the hardware with `set_zone`,
`set_dht`, `set_probe`, and the hooks `stall_http`, `garble_http`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import json
import logging
from typing import Any, Final

from .firmware import URN, Firmware
from .hardware import DhtReading, Hardware, parse_rom
from .http import HttpServer
from .lua import LuaError
from .releases import RELEASES, Release, release
from .runtime import Boot
from .websocket import NodeWebSocket

__all__ = ["RELEASES", "URN", "SimulatedBoard", "Timing"]

_LOGGER = logging.getLogger(__name__)

ZONE_TO_PIN: Final = {"1": 1, "2": 2, "3": 5, "4": 6, "5": 7, "6": 9, "out": 8, "alarm": 8}
SSDP_MULTICAST: Final = ("239.255.255.250", 1900)


@dataclass
class Timing:
    """Firmware delays in seconds (defaults: the firmware's), shortened in tests.

    `scale` multiplies what the firmware is told in milliseconds or minutes (momentary,
    pause, DHT/DS18B20 poll intervals); the rest are the firmware's constants, one field each.
    """

    reboot_delay: float = 2.0  # server_settings.lua restartTimer 2000 ms
    boot_time: float = 1.0  # down while restarting (boot, WiFi, SNTP)
    heartbeat_interval: float = 300.0  # aws_iot.lua t:interval(300000)
    reconnect_delay: float = 1.0  # one WebSocket attempt's TCP+TLS set-up on the ESP8266 (not a firmware wait)
    scale: float = 1.0
    connect_timeout: float = 10.0  # aws_iot.lua mqttTimeout 10000 ms (v3.0.0+): restart
    ws_connect_timeout: float = 10.0  # websocketclient.c WS_CONNECT_TIMEOUT_MS
    ws_ping_interval: float = 30.0  # websocketclient.c WS_PING_INTERVAL_MS
    ws_close_timeout: float = 5.0  # websocketclient.c WS_FORCE_CLOSE_TIMEOUT_MS
    offline_restart_delay: float = 3.0  # aws_iot.lua: restart 3 s after the 10th offline
    puback_timeout: float = 3.0  # aws_iot.lua timeout 3000 ms
    retry_restart_delay: float = 30.0  # aws_iot.lua / rest_endpoint.lua: 30 s after 10 retries
    send_interval: float = 0.2  # sendTimer 200 ms
    poll_interval: float = 0.2  # application.lua sensorTimer 200 ms
    heartbeat_first: float = 0.2  # aws_iot.lua heartbeat registered at 200 ms
    error_restart_delay: float = 2.0  # NodeMCU 3 node.c default_onerror DELAY2SEC
    panic_restart_delay: float = 3.0  # PANIC spins until the watchdog resets (estimate: ~3 s)
    ssdp_notify_delay: float = 15.0  # server.lua NOTIFY alarm 15000 ms
    http_idle_timeout: float = 10.0  # server.lua net.createServer(net.TCP, 10)
    ds18b20_conversion: float = 0.75  # 750 ms conversion (12 bit)
    rest_timeout: float = 10.0  # rest_endpoint.lua timeout 10000 ms

    def ms(self, value: float) -> float:
        """Firmware milliseconds from the settings or a command, in simulated seconds."""
        return value / 1000.0 * self.scale


class SimulatedBoard:
    """One board on 127.0.0.1: HTTP on `http_port`, SSDP on `ssdp_port`."""

    def __init__(
        self,
        mac: str,
        *,
        http_port: int = 0,
        ssdp_port: int = 0,
        name: str = "Konnected",
        sw_version: str = "3.1.5",
        hw_version: str | None = None,
        timing: Timing | None = None,
    ) -> None:
        """Make a board with factory settings (REST mode, nothing configured)."""
        self.release: Release = release(sw_version)
        self.mac = mac.lower()
        self.device_id = self.mac.replace(":", "")
        self.name = name
        self.sw_version = sw_version
        self.hw_version = hw_version or self.release.hw_version
        self.timing = timing or Timing()
        self.http_port = http_port
        self.ssdp_port = ssdp_port
        self.hardware = Hardware()
        # The files the firmware keeps in SPIFFS (settings.lua, sensors.lua, ... as loaded).
        self.files: dict[str, Any] = {
            "settings": {},
            "sensors": [],
            "actuators": [],
            "dht_sensors": [],
            "ds18b20_sensors": [],
        }
        self.lock_signature = ""  # device_config.lc lock_sig (v3.0.0+)
        self.wifi_configured = True  # node.restore() clears it: the board then boots into setup mode
        self.boots = 0
        self.published: list[tuple[str, dict[str, Any]]] = []  # every PUBLISH written, retries too
        self.commands: list[Any] = []
        self.lua_errors: list[str] = []
        self.panics = 0
        self.notifications: list[str] = []  # SSDP NOTIFY datagrams sent
        self.notify_address: tuple[str, int] | None = None  # where NOTIFY goes (None: nowhere)
        self.mqtt_connected = asyncio.Event()
        self.websocket: NodeWebSocket | None = None  # this boot's WebSocket client, if any
        self.stall_http = False  # a board that accepts connections but never answers
        self.garble_http = False  # a board whose answers are cut short (heap exhausted)
        self.firmware: Firmware | None = None
        self._boot: Boot | None = None
        self._http: HttpServer | None = None
        self._ssdp: asyncio.DatagramTransport | None = None
        self._power: asyncio.Task[None] | None = None
        self._resets: set[asyncio.TimerHandle] = set()  # watchdog / onerror restarts under way
        self._error_restart_armed = False

    # --- identity ---------------------------------------------------------------------------

    @property
    def chip_id(self) -> int:
        """node.chipid(): the ESP8266 reports the MAC's last three bytes."""
        return int(self.device_id[-6:], 16)

    @property
    def udn(self) -> str:
        """device.lua id: a fixed prefix and the chip id in lowercase hex, not zero padded."""
        return f"uuid:8f655392-a778-4fee-97b9-4825918{self.chip_id:x}"

    @property
    def settings(self) -> dict[str, Any]:
        """What settings.lua holds (only the keys that were given)."""
        value = self.files["settings"]
        return value if isinstance(value, dict) else {}

    @property
    def locked(self) -> bool:
        """device_config.lock_sig set (v3.0.0+ `/lock`)."""
        return self.lock_signature != ""

    def _loaded(self, name: str) -> Any:
        if self.firmware is not None and name in self.firmware.loaded:
            return self.firmware.loaded[name]
        return self.files[name]

    @property
    def sensors(self) -> Any:
        """The `sensors` table as `/status` shows it now (with each polled `state`)."""
        return self._loaded("sensors")

    @property
    def actuators(self) -> Any:
        """Return the stored `actuators` settings file, as loaded this boot."""
        return self._loaded("actuators")

    @property
    def dht_sensors(self) -> Any:
        """Return the stored `dht_sensors` settings file, as loaded this boot."""
        return self._loaded("dht_sensors")

    @property
    def ds18b20_sensors(self) -> Any:
        """Return the stored `ds18b20_sensors` settings file, as loaded this boot."""
        return self._loaded("ds18b20_sensors")

    # --- power ------------------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        """Running (not off, not between a reset and the next boot)."""
        return self._boot is not None and self._boot.alive

    async def start(self) -> None:
        """Power on (or the boot after a reset): HTTP and SSDP, then application.lua.

        `boots` counts up once the HTTP server listens (when a client could first reach it).
        """
        self._error_restart_armed = False
        boot = Boot(self, f"board {self.device_id}")
        self._boot = boot
        self.mqtt_connected.clear()
        self.websocket = None
        self.hardware.reset_outputs()
        # init.lua: pin D8 driven low at every boot (relay hack).
        self.hardware.write(8, 0)
        if not self.wifi_configured:
            self.boots += 1
            return  # enduser_setup's access point: not on the LAN
        firmware = Firmware(self, boot)
        self.firmware = firmware
        # server.lua (from the SNTP callback, before application.lua)
        settings = firmware.require("settings")
        http = HttpServer(boot, firmware.http_receive, self.timing.http_idle_timeout)
        self.http_port = await http.listen(self.http_port)
        self._http = http
        self.boots += 1
        if not (isinstance(settings, dict) and settings.get("discovery") is False):
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _SsdpSocket(self, boot), local_addr=("127.0.0.1", self.ssdp_port), reuse_port=True
            )
            self._ssdp = transport
            self.ssdp_port = transport.get_extra_info("sockname")[1]
            boot.call_later(self.timing.ssdp_notify_delay, self._notify, firmware, protected=True)
        # application.lua runs inside wifi.lua's sntp.sync callback.
        boot.call(firmware.application, protected=True)

    async def stop(self) -> None:
        """Power off."""
        boot, self._boot = self._boot, None
        if boot is not None:
            boot.end()
        for handle in self._resets:
            handle.cancel()
        self._resets.clear()
        self._close_sockets()
        self.mqtt_connected.clear()
        self.firmware = None

    async def close(self) -> None:
        """Power off for good, including a restart under way."""
        power, self._power = self._power, None
        if power is not None and power is not asyncio.current_task():
            power.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await power
        await self.stop()

    async def reboot(self) -> None:
        """Cut the power, wait the boot time, power on."""
        await self.stop()
        await asyncio.sleep(self.timing.boot_time)
        await self.start()

    def restart_now(self, boot: Boot) -> None:
        """node.restart() (or the watchdog) in `boot`: down at once, up after the boot time."""
        if boot is not self._boot or not boot.alive:
            return
        boot.end()
        self._close_sockets()
        self.mqtt_connected.clear()
        self.firmware = None

        async def come_back() -> None:
            await asyncio.sleep(self.timing.boot_time)
            if self._boot is boot:
                await self.start()

        self._power = asyncio.get_running_loop().create_task(come_back())

    def _close_sockets(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._ssdp is not None:
            self._ssdp.close()
            self._ssdp = None

    def lua_error(self, boot: Boot, error: LuaError, *, protected: bool) -> None:
        """Handle a Lua error as NodeMCU does.

        Printed and a restart 2 s later under luaL_pcallx (NodeMCU 3.0),
        otherwise a PANIC: the chip freezes until the watchdog resets it.
        """
        self.lua_errors.append(str(error))
        _LOGGER.info("Board %s: Lua error (%s): %s", self.device_id, "pcall" if protected else "PANIC", error)
        if protected and self.release.nodemcu3:
            if not self._error_restart_armed:  # default_onerror arms its restart timer once
                self._error_restart_armed = True
                self._reset_later(boot, self.timing.error_restart_delay)
            return
        self.panics += 1
        boot.freeze()
        self._close_sockets()
        self._reset_later(boot, self.timing.panic_restart_delay)

    def _reset_later(self, boot: Boot, delay: float) -> None:
        """Reset from a C timer (not a Lua one): survives a frozen Lua, not a power cut."""

        def reset() -> None:
            self._resets.discard(handle)
            self.restart_now(boot)

        handle = boot.loop.call_later(delay, reset)
        self._resets.add(handle)

    # --- scripted hardware ------------------------------------------------------------------

    def set_zone(self, zone: str, level: int) -> None:
        """Set an input's level; the firmware sees it at its next 200 ms poll."""
        self.hardware.levels[ZONE_TO_PIN[str(zone)]] = level

    def set_dht(self, zone: str, temperature: float, humidity: float) -> None:
        """Make a DHT22 on the zone's pin read this from now on (reported at the next poll)."""
        self.hardware.dht[ZONE_TO_PIN[str(zone)]] = DhtReading(temperature, humidity)

    def set_probe(self, zone: str, address: str, temperature: float) -> None:
        """Make a DS18B20 on the zone's 1-Wire bus read this (reported at the next poll)."""
        self.hardware.buses.setdefault(ZONE_TO_PIN[str(zone)], {})[parse_rom(address)] = temperature

    def level(self, zone: str) -> int:
        """gpio.read of a zone's pin."""
        return self.hardware.levels.get(ZONE_TO_PIN[str(zone)], 0)

    # --- records ----------------------------------------------------------------------------

    def record_publish(self, topic: str, payload: str) -> None:
        """Every PUBLISH the board wrote (what the broker receives, if it was connected)."""
        try:
            body = json.loads(payload)
        except ValueError:
            body = {"_raw": payload}
        self.published.append((topic, body))

    def _notify(self, firmware: Firmware) -> None:
        """server.lua, 15 s after boot: three NOTIFY ssdp:alive to 239.255.255.250:1900."""
        for nt, usn in (("upnp:rootdevice", "::upnp:rootdevice"), (self.udn, ""), (URN, f"::{URN}")):
            datagram = firmware.ssdp_notify(nt, usn)
            self.notifications.append(datagram)
            if self._ssdp is not None and self.notify_address is not None:
                self._ssdp.sendto(datagram.encode(), self.notify_address)


class _SsdpSocket(asyncio.DatagramProtocol):
    """server.lua's UDP socket: M-SEARCH answered by unicast (ssdp_response.lua)."""

    def __init__(self, board: SimulatedBoard, boot: Boot) -> None:
        self.board = board
        self.boot = boot
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        firmware = self.board.firmware
        if firmware is None or not self.boot.running:
            return

        def answer() -> None:
            text = firmware.ssdp_answer(data.decode("latin-1"))
            if text is not None and self.transport is not None:
                self.transport.sendto(text.encode(), addr)

        self.boot.call(answer, protected=False)
