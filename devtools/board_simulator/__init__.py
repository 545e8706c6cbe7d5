"""A simulated legacy Konnected board: the firmware's HTTP API, SSDP answer and AWS IoT mode.

Behaviour follows konnected-io/konnected-security (docs/protocol.md): `PUT /settings` stores
the settings and reboots; in `aws_iot` mode the board connects MQTT over WebSocket with the
`X-Amz-CustomAuthorizer-Name`, `X-Amz-CustomAuthorizer-Signature` and `Token` headers and an
empty client id, subscribes to its switch topic, reports its outputs and a heartbeat right
away, every input once at boot, then each change (QoS 1, with its `device_id`).

Not firmware: `/_sim/...` endpoints to script the simulated hardware from scripts/develop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import aiomqtt
from aiohttp import web

_LOGGER = logging.getLogger(__name__)

URN: Final = "urn:schemas-konnected-io:device:Security:1"
ZONE_TO_PIN: Final = {"1": 1, "2": 2, "3": 5, "4": 6, "5": 7, "6": 9, "out": 8, "alarm": 8}
PIN_TO_ZONE: Final = {1: "1", 2: "2", 5: "3", 6: "4", 7: "5", 9: "6", 8: "out"}


@dataclass
class Timing:
    """Firmware delays, shortened in tests."""

    reboot_delay: float = 2.0  # server_settings.lua restarts 2 s after answering
    boot_time: float = 1.0  # the board is unreachable while it boots
    heartbeat_interval: float = 300.0  # aws_iot.lua: every 5 minutes
    reconnect_delay: float = 1.0
    scale: float = 1.0  # multiplies momentary/pause (ms) and poll intervals

    def ms(self, value: float) -> float:
        """Firmware milliseconds in simulated seconds."""
        return value / 1000.0 * self.scale


@dataclass
class BoardHardware:
    """Levels on the pins, as gpio.read would see them."""

    levels: dict[int, int] = field(default_factory=dict)
    temperatures: dict[str, tuple[float, float]] = field(default_factory=dict)
    probes: dict[str, dict[str, float]] = field(default_factory=dict)


def _pin_of(entry: dict[str, Any]) -> int | None:
    if entry.get("zone") is not None:
        return ZONE_TO_PIN.get(str(entry["zone"]))
    pin = entry.get("pin")
    return int(pin) if isinstance(pin, (int, str)) and str(pin).isdigit() else None


def _key_of(entry: dict[str, Any]) -> dict[str, Any]:
    """`{"zone": z}` or `{"pin": p}`, as the entry was provisioned."""
    return {"zone": entry["zone"]} if entry.get("zone") is not None else {"pin": entry.get("pin")}


class SimulatedBoard:
    """One board on 127.0.0.1."""

    def __init__(
        self,
        mac: str,
        *,
        http_port: int = 0,
        ssdp_port: int = 0,
        name: str = "Konnected",
        sw_version: str = "3.1.5",
        hw_version: str = "3.0.0",
        timing: Timing | None = None,
    ) -> None:
        """A board with factory settings (REST mode, nothing configured)."""
        self.mac = mac.lower()
        self.device_id = self.mac.replace(":", "")
        self.name = name
        self.sw_version = sw_version
        self.hw_version = hw_version
        self.timing = timing or Timing()
        self.http_port = http_port
        self.ssdp_port = ssdp_port
        self.hardware = BoardHardware()
        self.settings: dict[str, Any] = {}
        self.sensors: list[dict[str, Any]] = []
        self.actuators: list[dict[str, Any]] = []
        self.dht_sensors: list[dict[str, Any]] = []
        self.ds18b20_sensors: list[dict[str, Any]] = []
        self.boots = 0
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[dict[str, Any]] = []
        self.mqtt_connected = asyncio.Event()
        self.stall_http = False  # a board that accepts connections but never answers
        self.garble_http = False  # a board whose answers are cut short (heap exhausted)
        self._powered_off = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._ssdp: asyncio.DatagramTransport | None = None
        self._mqtt_task: asyncio.Task[None] | None = None
        self._reboot_task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = time.monotonic()

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on: HTTP, SSDP and (when provisioned for AWS IoT) the MQTT connection."""
        self.boots += 1
        self._started = time.monotonic()
        self._powered_off = asyncio.Event()
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_get("/Device.xml", self._device_xml)
        app.router.add_route("*", "/settings", self._settings)
        app.router.add_route("*", "/device", self._device)
        app.router.add_route("*", "/zone", self._device)
        app.router.add_post("/_sim/zone", self._sim_zone)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.http_port, reuse_address=True)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _SsdpResponder(self), local_addr=("127.0.0.1", self.ssdp_port), reuse_port=True
        )
        self._ssdp = transport
        self.ssdp_port = transport.get_extra_info("sockname")[1]
        # Inputs start unknown, so the first poll reports every one (application.lua).
        for sensor in self.sensors:
            sensor.pop("state", None)
        for actuator in self.actuators:
            pin = _pin_of(actuator)
            if pin is not None:
                # Outputs start at their off level: the opposite of the trigger.
                self.hardware.levels[pin] = 1 if actuator.get("trigger") == 0 else 0
        if self.settings.get("endpoint_type") == "aws_iot":
            self._mqtt_task = loop.create_task(self._mqtt_loop())

    async def stop(self) -> None:
        """Power off."""
        self._powered_off.set()
        tasks = [task for task in [self._mqtt_task, *self._timers] if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # A connect stuck in paho's executor thread must not hold the power switch.
            await asyncio.wait(tasks, timeout=5)
        self._mqtt_task = None
        self._timers.clear()
        self.mqtt_connected.clear()
        self._outbox = asyncio.Queue()
        if self._ssdp is not None:
            self._ssdp.close()
            self._ssdp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        """Stop, including a pending reboot."""
        if self._reboot_task is not None:
            self._reboot_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reboot_task
        await self.stop()

    async def reboot(self) -> None:
        """node.restart(): down for the boot time, then up with the stored settings."""
        await self.stop()
        await asyncio.sleep(self.timing.boot_time)
        await self.start()

    def _schedule_reboot(self) -> None:
        if self._reboot_task is not None and not self._reboot_task.done():
            return  # the restart timer is already running (tmr.ALARM_SINGLE)

        async def later() -> None:
            await asyncio.sleep(self.timing.reboot_delay)
            await self.reboot()

        self._reboot_task = asyncio.get_running_loop().create_task(later())

    # --- scripted hardware -----------------------------------------------------------------

    def set_zone(self, zone: str, level: int) -> None:
        """Change an input's level; the firmware's 200 ms poll reports it."""
        pin = ZONE_TO_PIN[str(zone)]
        self.hardware.levels[pin] = level
        self._poll_inputs()

    def set_dht(self, zone: str, temperature: float, humidity: float) -> None:
        """The next DHT read returns these; reported at once."""
        self.hardware.temperatures[str(zone)] = (temperature, humidity)
        for sensor in self.dht_sensors:
            if str(sensor.get("zone")) == str(zone) or _pin_of(sensor) == ZONE_TO_PIN.get(str(zone)):
                self._queue_dht(sensor)

    def set_probe(self, zone: str, address: str, temperature: float) -> None:
        """A DS18B20 probe on the zone's bus reads this; reported at once."""
        self.hardware.probes.setdefault(str(zone), {})[address] = temperature
        for sensor in self.ds18b20_sensors:
            if _pin_of(sensor) == ZONE_TO_PIN.get(str(zone)):
                self._report({**_key_of(sensor), "temp": temperature, "addr": address})

    def level(self, zone: str) -> int:
        """gpio.read of a zone's pin."""
        return self.hardware.levels.get(ZONE_TO_PIN[str(zone)], 0)

    # --- firmware behaviour ----------------------------------------------------------------

    def _report(self, report: dict[str, Any]) -> None:
        self._outbox.put_nowait(report)

    def _poll_inputs(self) -> None:
        for sensor in self.sensors:
            pin = _pin_of(sensor)
            level = self.hardware.levels.get(pin, 0) if pin is not None else 0
            if sensor.get("state") != level:
                sensor["state"] = level
                if self.settings.get("endpoint_type") == "aws_iot":
                    self._report({**_key_of(sensor), "state": level})

    def _queue_dht(self, sensor: dict[str, Any]) -> None:
        zone = str(sensor.get("zone") or PIN_TO_ZONE.get(_pin_of(sensor) or 0, ""))
        temperature, humidity = self.hardware.temperatures.get(zone, (21.0, 45.0))
        # The firmware formats both as strings ("22.5").
        self._report({**_key_of(sensor), "temp": f"{temperature:.1f}", "humi": f"{humidity:.1f}"})

    def _status_body(self) -> dict[str, Any]:
        return {
            "hwVersion": self.hw_version,
            "swVersion": self.sw_version,
            "heap": 21000,
            "uptime": int(time.monotonic() - self._started),
            "ip": "127.0.0.1",
            "port": self.http_port,
            "nm": "255.0.0.0",
            "gw": "127.0.0.1",
            "mac": self.mac,
            "rssi": -61,
            "sensors": self.sensors,
            "actuators": self.actuators,
            "dht_sensors": self.dht_sensors,
            "ds18b20_sensors": self.ds18b20_sensors,
            "settings": {
                "endpoint": self.settings.get("endpoint"),
                "endpoint_type": self.settings.get("endpoint_type"),
            },
        }

    def _switch(self, payload: dict[str, Any]) -> dict[str, Any]:
        """switch.lua: set the level, schedule the momentary pattern, return the end state."""
        pin = _pin_of(payload)
        if pin is None:
            raise ValueError("unknown zone or pin")
        state = int(payload["state"])
        self.hardware.levels[pin] = state
        momentary = payload.get("momentary")
        times = int(payload.get("times", -1)) if momentary else None
        if momentary:
            task = asyncio.get_running_loop().create_task(
                self._pulse(pin, state, float(momentary), times if times is not None else -1, payload.get("pause"))
            )
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)
            if times == -1:
                state = -1  # an infinite repeat
        return {**_key_of(payload), "state": state}

    async def _pulse(self, pin: int, on_state: int, momentary: float, times: int, pause: Any) -> None:
        off_state = 1 - on_state
        while True:
            await asyncio.sleep(self.timing.ms(momentary))
            self.hardware.levels[pin] = off_state
            times -= 1
            if not (times > 0 or times < 0) or not pause:
                return
            await asyncio.sleep(self.timing.ms(float(pause)))
            self.hardware.levels[pin] = on_state

    def _handle_command(self, raw: bytes) -> None:
        """aws_iot.lua's message handler."""
        try:
            payload = json.loads(raw)
            end_state = self._switch(payload)
        except (ValueError, KeyError, TypeError):
            # sjson.decode or switch would raise in Lua and the board would reboot; we only drop.
            _LOGGER.warning("Board %s got a command it cannot run", self.device_id)
            return
        self.commands.append(payload)
        self._report(end_state)
        if payload.get("momentary") and payload.get("times") != -1:
            pause = float(payload.get("pause") or 0)
            times = int(payload.get("times") or 1)
            revert_in = (float(payload["momentary"]) + pause) * times - pause
            revert = {**_key_of(end_state), "state": 0 if end_state["state"] else 1}

            async def report_revert() -> None:
                await asyncio.sleep(self.timing.ms(revert_in))
                self._report(revert)

            task = asyncio.get_running_loop().create_task(report_revert())
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)

    async def _mqtt_loop(self) -> None:
        aws = self.settings.get("aws") or {}
        topics = aws.get("topics") or {}
        endpoint = str(self.settings.get("endpoint") or "")
        # mqtt_ws.lua also sends "sec-websocket-protocol: mqtt"; paho adds that header itself.
        headers: dict[str, str] = {}
        if aws.get("token") and aws.get("token_signature"):
            headers["X-Amz-CustomAuthorizer-Name"] = str(aws.get("authorizer") or "")
            headers["X-Amz-CustomAuthorizer-Signature"] = str(aws["token_signature"])
            headers["Token"] = str(aws["token"])
        # aws_iot.lua strips "-ats" on the first attempt (smaller certificate chain).
        url = urlsplit(endpoint.replace("-ats", "", 1))
        while True:
            try:
                async with aiomqtt.Client(
                    url.hostname or "",
                    url.port or (443 if url.scheme == "wss" else 80),
                    identifier="",
                    clean_session=True,
                    # The firmware sends keepalive 0, which AWS IoT treats as 1200 s; paho
                    # turns 0 into a non-blocking socket, so the simulator says 1200 directly.
                    keepalive=1200,
                    transport="websockets",
                    websocket_path=url.path or "/mqtt",
                    websocket_headers=headers,
                    timeout=2,
                ) as client:
                    await self._session(client, topics)
            except aiomqtt.MqttError as err:
                _LOGGER.debug("Board %s: MQTT connection failed: %s", self.device_id, err)
            self.mqtt_connected.clear()
            await asyncio.sleep(self.timing.reconnect_delay)

    async def _session(self, client: aiomqtt.Client, topics: dict[str, str]) -> None:
        await client.subscribe(topics.get("switch", ""), qos=0, timeout=2)
        self.mqtt_connected.set()
        for actuator in self.actuators:
            pin = _pin_of(actuator)
            self._report({**_key_of(actuator), "state": self.hardware.levels.get(pin or 0, 0)})
        self._report({**self._status_body(), "topic": topics.get("heartbeat"), "timestamp": int(time.time())})
        self._poll_inputs()
        for sensor in self.dht_sensors:
            self._queue_dht(sensor)
        sender = asyncio.get_running_loop().create_task(self._send(client, topics))
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(topics))
        try:
            async for message in client.messages:
                self._handle_command(bytes(message.payload) if isinstance(message.payload, (bytes, bytearray)) else b"")
        finally:
            sender.cancel()
            heartbeat.cancel()
            for task in (sender, heartbeat):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _heartbeat(self, topics: dict[str, str]) -> None:
        while True:
            await asyncio.sleep(self.timing.heartbeat_interval)
            self._report({**self._status_body(), "topic": topics.get("heartbeat"), "timestamp": int(time.time())})

    async def _send(self, client: aiomqtt.Client, topics: dict[str, str]) -> None:
        """One report at a time, QoS 1, each stamped with the device id (aws_iot.lua)."""
        while True:
            report = await self._outbox.get()
            topic = report.pop("topic", None) or topics.get("sensor", "")
            report["device_id"] = self.device_id
            if topic == topics.get("heartbeat"):
                report["topic"] = topic  # the firmware leaves it in the heartbeat's body
            await client.publish(topic, json.dumps(report), qos=1)
            self.published.append((topic, report))

    # --- HTTP API ------------------------------------------------------------------------

    async def _maybe_stall(self) -> None:
        if self.stall_http:
            await self._powered_off.wait()  # hangs until the board is switched off

    async def _status(self, request: web.Request) -> web.Response:
        await self._maybe_stall()
        if self.garble_http:
            return web.Response(text=json.dumps(self._status_body())[:40], content_type="application/json")
        return web.json_response(self._status_body())

    async def _device_xml(self, request: web.Request) -> web.Response:
        chip_id = int(self.device_id[-6:], 16)
        body = (
            '<?xml version="1.0"?>\r\n'
            f'<root xmlns="urn:schemas-upnp-org:device-1-0" configId="{self.http_port}">\r\n'
            "  <specVersion><major>1</major><minor>0</minor></specVersion>\r\n"
            f"  <URLBase>http://127.0.0.1:{self.http_port}</URLBase>\r\n"
            f"  <device>\r\n    <deviceType>{URN}</deviceType>\r\n"
            f"    <friendlyName>{self.name}</friendlyName>\r\n"
            "    <manufacturer>konnected.io</manufacturer>\r\n"
            "    <manufacturerURL>http://konnected.io/</manufacturerURL>\r\n"
            "    <modelDescription>Konnected Security</modelDescription>\r\n"
            f"    <modelName>{self.name}</modelName>\r\n"
            f"    <modelNumber>{self.sw_version}</modelNumber>\r\n"
            f"    <serialNumber>{chip_id}</serialNumber>\r\n"
            f"    <UDN>{self.udn}</UDN>\r\n"
            "    <presentationURL>/</presentationURL>\r\n"
            "  </device>\r\n</root>\r\n"
        )
        return web.Response(text=body, content_type="text/xml")

    @property
    def udn(self) -> str:
        """device.lua: a fixed prefix and the chip id in hex."""
        return f"uuid:8f655392-a778-4fee-97b9-4825918{self.device_id[-6:]}"

    async def _settings(self, request: web.Request) -> web.Response:
        await self._maybe_stall()
        if request.method == "GET":
            if request.query.get("restart") == "true":
                self._schedule_reboot()
            return web.Response(text="")
        if request.method not in ("PUT", "POST") or request.content_type != "application/json":
            return web.Response(text="")  # server_settings.lua ignores it
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="")
        if not isinstance(body, dict):
            return web.Response(status=400, text="")
        self.settings = {
            "token": body.get("token"),
            "endpoint": body.get("endpoint") or body.get("apiUrl"),
            "endpoint_type": body.get("endpoint_type"),
            "blink": body.get("blink"),
            "discovery": body.get("discovery"),
            "aws": body.get("aws"),
        }
        self.sensors = [dict(item) for item in body.get("sensors") or []]
        self.actuators = [dict(item) for item in body.get("actuators") or []]
        self.dht_sensors = [dict(item) for item in body.get("dht_sensors") or []]
        self.ds18b20_sensors = [dict(item) for item in body.get("ds18b20_sensors") or []]
        self._schedule_reboot()
        return web.Response(text="")

    async def _device(self, request: web.Request) -> web.Response:
        await self._maybe_stall()
        if request.method == "GET":
            # server_device.lua: a missing pin or zone defaults to "all", and either being
            # "all" lists every input; so one output is read with both ?pin=N&zone=Z.
            pin, zone = request.query.get("pin", "all"), request.query.get("zone", "all")
            if pin == "all" or zone == "all":
                return web.json_response([{**_key_of(s), "state": s.get("state")} for s in self.sensors])
            if not pin.isdigit():
                return web.Response(status=500, text="")
            return web.json_response([{"pin": pin, "state": self.hardware.levels.get(int(pin), 0)}])
        if request.content_type != "application/json":
            return web.Response(text="")
        try:
            body = await request.json()
            items = body if isinstance(body, list) else [body]
            answers = [self._switch(item) for item in items]
        except (ValueError, KeyError, TypeError):
            return web.Response(status=500, text="")
        return web.json_response(answers if isinstance(body, list) else answers[0])

    async def _sim_zone(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_zone(str(body["zone"]), int(body["state"]))
        return web.json_response({"zone": body["zone"], "state": self.level(str(body["zone"]))})


class _SsdpResponder(asyncio.DatagramProtocol):
    """ssdp_response.lua: answer M-SEARCH for our URN or ssdp:all, by unicast."""

    def __init__(self, board: SimulatedBoard) -> None:
        self.board = board
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if "M-SEARCH" not in text or self.transport is None:
            return
        target = next(
            (line.split(":", 1)[1].strip() for line in text.split("\r\n") if line.upper().startswith("ST:")), ""
        )
        if target != "ssdp:all" and not (target.startswith("urn:") and URN.startswith(target)):
            return
        board = self.board
        answer = (
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\n"
            f"ST: {URN}\r\nUSN: {board.udn}::{URN}\r\nEXT:\r\n"
            f"SERVER: NodeMCU/3.0.0 UPnP/1.1 {board.name}/{board.sw_version}\r\n"
            f"LOCATION: http://127.0.0.1:{board.http_port}/Device.xml\r\n\r\n"
        )
        self.transport.sendto(answer.encode(), addr)
