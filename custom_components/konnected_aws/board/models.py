"""What the legacy firmware reports about itself, its zones, releases and output commands.

Source: konnected-io/konnected-security, tags v2.3.0 … v3.1.5 (`src/lfs/*.lua`); docs/protocol.md
cites the lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any, Final

# The firmware's zoneToPin (src/lfs/application.lua, v3.1.0+): the same on every ESP8266 board.
# Older releases only know pins, so the integration always talks pins (every release accepts them).
ZONE_TO_PIN: Final = {"1": 1, "2": 2, "3": 5, "4": 6, "5": 7, "6": 9, "out": 8}
PIN_TO_ZONE: Final = {pin: zone for zone, pin in ZONE_TO_PIN.items()}
ZONES: Final = tuple(ZONE_TO_PIN)
DEFAULT_MODEL: Final = "Konnected"

# device.lua (every tag): `http_port = math.floor(node.chipid()/1000) + 8000`; the ESP8266 chip id
# is 24 bits, so the port is somewhere in 8000 … 24777.
PORT_BASE: Final = 8000
PORT_RANGE: Final = (PORT_BASE, 0xFFFFFF // 1000 + PORT_BASE)

# NodeMCU's tmr module refuses an interval above this (ms; "1:54:30.947",
# https://nodemcu.readthedocs.io/en/release/modules/tmr/), and an alarm with a refused interval
# raises inside switch.lua or the AWS message handler, which restarts the board.
MAX_TIMER_MS: Final = 6_870_947
REPEAT_FOREVER: Final = -1
# The `pause` a single pulse carries. switch.lua never waits it (no pulse is left), but 2.3.4's
# AWS handler adds it to `momentary` (a missing one raises), and should a later endless command for
# the same pin revive the chain (`infiniteLoops[pin]`), it becomes a timer interval, where 0 raises.
SINGLE_PULSE_PAUSE_MS: Final = 1


class BoardDataError(ValueError):
    """The board's answer is not what the firmware sends."""


def board_id_from_mac(mac: str) -> str:
    """Board id: the MAC without separators, lowercase (as the firmware's aws_iot.lua does)."""
    compact = mac.replace(":", "").replace("-", "").lower()
    if len(compact) != 12 or any(char not in "0123456789abcdef" for char in compact):
        raise BoardDataError(f"Not a MAC address: {mac!r}")
    return compact


def port_from_chip_id(chip_id: int) -> int:
    """Return the HTTP port a legacy board listens on (device.lua: chip id / 1000 + 8000)."""
    return chip_id // 1000 + PORT_BASE


def usual_port_from_mac(mac: str) -> int:
    """Return the port of a board whose chip id is its MAC's last three bytes (the ESP8266 default).

    A hint for the manual form only: the chip id is read from the chip, the MAC can differ.
    """
    return port_from_chip_id(int(board_id_from_mac(mac)[-6:], 16))


def zone_of(report: dict[str, Any]) -> str | None:
    """Return the zone of a `{"zone": z}` or `{"pin": p}` entry."""
    zone = report.get("zone")
    if isinstance(zone, (str, int)) and not isinstance(zone, bool):
        name = str(zone)
        return "out" if name == "alarm" else name
    pin = report.get("pin")
    if isinstance(pin, str) and pin.isdigit():
        pin = int(pin)
    if isinstance(pin, int) and not isinstance(pin, bool):
        return PIN_TO_ZONE.get(pin)
    return None


def pin_of_zone(zone: str) -> int:
    """Return the GPIO pin of a zone; raises ValueError for a zone the ESP8266 boards do not have."""
    try:
        return ZONE_TO_PIN[zone]
    except KeyError:
        raise ValueError(f"No such zone on a legacy board: {zone!r}") from None


# --- firmware releases --------------------------------------------------------------------------

_VERSION = re.compile(r"v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?((?:[-+~][0-9A-Za-z.+-]*)?)")


@dataclass(frozen=True, slots=True, order=True)
class FirmwareVersion:
    """`swVersion` of a board (device.lua), ordered by its numbers; a suffix is kept, not ranked."""

    major: int
    minor: int
    patch: int = 0
    suffix: str = field(default="", compare=False)

    def __str__(self) -> str:
        """`2.3.2`, `3.1.5-beta`."""
        return f"{self.major}.{self.minor}.{self.patch}{self.suffix}"


def parse_firmware_version(text: Any) -> FirmwareVersion | None:
    """`"3.1.5"` → FirmwareVersion(3, 1, 5); None for anything that is not a version."""
    if not isinstance(text, str):
        return None
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    major, minor, patch, suffix = match.groups()
    return FirmwareVersion(int(major), int(minor), int(patch or 0), suffix)


# v2.3.0/v2.3.1 connect to AWS IoT with SigV4 keys only (aws_iot.lua `aws_sign_url`); the custom
# authorizer headers arrive in v2.3.2 (mqtt_ws.lua `Client(aws_settings)`), with the topics and the
# heartbeat the integration relies on.
MINIMUM_FIRMWARE: Final = FirmwareVersion(2, 3, 2)
# v2.3.4 aws_iot.lua publishes the switch's end state and the revert after a pulse; v2.3.2/3
# publish `gpio.read(pin)` right after the command and nothing when the pulse ends.
PULSE_END_REPORT_FIRMWARE: Final = FirmwareVersion(2, 3, 4)
# v2.3.4 application.lua writes an output's off level (from `trigger`) before enabling it;
# before, a low-trigger relay is on from boot until commanded.
OFF_LEVEL_AT_BOOT_FIRMWARE: Final = FirmwareVersion(2, 3, 4)
# v3.0.0: the settings lock (server_settings.lua 409) and the restart 10 s after boot without an
# AWS IoT connection (aws_iot.lua `mqttTimeout`).
SETTINGS_LOCK_FIRMWARE: Final = FirmwareVersion(3, 0, 0)
# v3.1.0: zone keys in settings and commands ("Add configuration by zone").
ZONE_KEYS_FIRMWARE: Final = FirmwareVersion(3, 1, 0)
# v3.1.1: in AWS IoT mode, PUT /settings is answered (and stored) only once the WebSocket closed.
SETTINGS_AFTER_CLOSE_FIRMWARE: Final = FirmwareVersion(3, 1, 1)
NEWEST_KNOWN_FIRMWARE: Final = FirmwareVersion(3, 1, 5)


@dataclass(frozen=True, slots=True)
class FirmwareSupport:
    """Whether this integration can run a board on its release, and what that release does."""

    version: FirmwareVersion | None
    reported: str | None

    @property
    def problem(self) -> str | None:
        """None when supported, else a translation key: `firmware_unknown` or `firmware_too_old`."""
        if self.version is None:
            return "firmware_unknown"
        if self.version < MINIMUM_FIRMWARE:
            return "firmware_too_old"
        return None

    @property
    def supported(self) -> bool:
        """True from 2.3.2 on."""
        return self.problem is None

    @property
    def explanation(self) -> str:
        """One sentence for logs and errors."""
        match self.problem:
            case "firmware_unknown":
                return (
                    f"the board reports no firmware version this integration knows ({self.reported!r}); "
                    f"it needs Konnected firmware {MINIMUM_FIRMWARE} or newer"
                )
            case "firmware_too_old":
                return (
                    f"firmware {self.version} cannot use an AWS IoT custom authorizer; "
                    f"update the firmware to {MINIMUM_FIRMWARE} or newer ({NEWEST_KNOWN_FIRMWARE} recommended)"
                )
        return f"firmware {self.version} is supported"

    def _at_least(self, version: FirmwareVersion) -> bool:
        return self.version is not None and self.version >= version

    @property
    def reports_pulse_end(self) -> bool:
        """The board publishes the output's level when a pulse pattern ends (2.3.4+)."""
        return self._at_least(PULSE_END_REPORT_FIRMWARE)

    @property
    def sets_off_level_at_boot(self) -> bool:
        """Outputs start at their off level, also with `trigger: 0` (2.3.4+)."""
        return self._at_least(OFF_LEVEL_AT_BOOT_FIRMWARE)

    @property
    def restarts_without_aws(self) -> bool:
        """In AWS IoT mode the board restarts 10 s after boot when not connected (3.0.0+)."""
        return self._at_least(SETTINGS_LOCK_FIRMWARE)

    @property
    def accepts_zone_keys(self) -> bool:
        """Settings and commands may use `zone` (3.1.0+); pins work on every release."""
        return self._at_least(ZONE_KEYS_FIRMWARE)


def firmware_support(sw_version: Any) -> FirmwareSupport:
    """Support verdict for a `swVersion` value as the board reports it (or None when absent)."""
    reported = sw_version if isinstance(sw_version, str) else None
    return FirmwareSupport(parse_firmware_version(sw_version), reported)


# --- output commands (switch.lua) ---------------------------------------------------------------


def pulse_problem(momentary_ms: int, times: int, pause_ms: int) -> tuple[str, str] | None:
    """Return what makes a pulse pattern meaningless or harmful to switch.lua: (field, translation key).

    Fields are `momentary`, `times`, `pause` (the command's keys). switch.lua writes the on level,
    after `momentary` ms the off level, and only when a `pause` is given turns it on again after
    `pause` ms, `times` pulses in all (`-1`: until another command). An interval of 0 or above
    MAX_TIMER_MS makes NodeMCU's tmr raise, and so does the AWS handler's revert timer, which runs
    for the whole finite pattern.
    """
    if not 1 <= momentary_ms <= MAX_TIMER_MS:
        return ("momentary", "momentary_out_of_range")
    if times == 0 or times < REPEAT_FOREVER:
        return ("times", "repeat_invalid")
    repeats = times != 1
    if repeats and pause_ms == 0:
        return ("times", "repeat_without_pause")
    if not repeats and pause_ms != 0:
        return ("pause", "pause_without_repeat")
    if repeats and not 1 <= pause_ms <= MAX_TIMER_MS:
        return ("pause", "pause_out_of_range")
    if times > 1 and (momentary_ms + pause_ms) * times - pause_ms > MAX_TIMER_MS:
        return ("times", "pattern_too_long")
    return None


@dataclass(frozen=True, slots=True)
class Pulse:
    """`times` pulses of `momentary_ms` on, `pause_ms` off between them (`times` -1: endless).

    Construction refuses what switch.lua would run differently from what it says (see
    `pulse_problem`).
    """

    momentary_ms: int
    times: int = 1
    pause_ms: int = 0

    def __post_init__(self) -> None:
        """Refuse meaningless patterns."""
        problem = pulse_problem(self.momentary_ms, self.times, self.pause_ms)
        if problem is not None:
            raise ValueError(f"Invalid pulse {self}: {problem[1]}")

    @property
    def endless(self) -> bool:
        """Repeats until another command for the output arrives."""
        return self.times == REPEAT_FOREVER

    @property
    def duration_ms(self) -> int | None:
        """From the command to the final off level (aws_iot.lua's revert time); None when endless."""
        if self.endless:
            return None
        return (self.momentary_ms + self.pause_ms) * self.times - self.pause_ms


def switch_command(zone: str, state: int, pulse: Pulse | None = None) -> dict[str, Any]:
    """Return the body switch.lua runs, for `PUT /device` and the AWS IoT switch topic alike.

    Keyed by `pin`, which every release reads (zone keys only from 3.1.0). A pulse always carries
    `times` and `pause`: without `times` switch.lua repeats forever while the 3.x handler reports
    the end after one pulse, and 2.3.4's handler does arithmetic on both (a nil raises).
    """
    if state not in (0, 1):
        raise ValueError(f"An output level is 0 or 1, not {state!r}")
    body: dict[str, Any] = {"pin": pin_of_zone(zone), "state": state}
    if pulse is not None:
        body["momentary"] = pulse.momentary_ms
        body["times"] = pulse.times
        body["pause"] = pulse.pause_ms or SINGLE_PULSE_PAUSE_MS
    return body


# --- /status ------------------------------------------------------------------------------------


def _zone_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    zones = (zone_of(item) for item in value if isinstance(item, dict))
    return tuple(zone for zone in zones if zone is not None)


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """`GET /status` of a board (server_status.lua)."""

    board_id: str
    mac: str
    model: str
    sw_version: str | None
    hw_version: str | None
    ip: str | None
    port: int | None
    rssi: int | None = None
    sensors: tuple[str, ...] = ()
    actuators: tuple[str, ...] = ()
    dht_sensors: tuple[str, ...] = ()
    ds18b20_sensors: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    chip_id: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> BoardStatus:
        """Parse the status document; raises BoardDataError when it is not one."""
        if not isinstance(body, dict):
            raise BoardDataError("The status is not a JSON object")
        chip_id = _optional_text(body.get("chipId"))
        model = str(body.get("model") or DEFAULT_MODEL)
        mac = body.get("mac")
        if isinstance(mac, str):
            board_id = board_id_from_mac(mac)
        elif chip_id is not None:
            # Only the Pro sends a chip id; keep it recognisable so it can be refused clearly.
            board_id, mac = chip_id, ""
        else:
            raise BoardDataError("The status has no MAC address")
        settings = body.get("settings")
        return cls(
            board_id=board_id,
            mac=mac.lower(),
            model=model,
            sw_version=_optional_text(body.get("swVersion")),
            hw_version=_optional_text(body.get("hwVersion")),
            ip=str(body["ip"]) if isinstance(body.get("ip"), str) and body["ip"] else None,
            port=_optional_int(body.get("port")),
            rssi=_optional_int(body.get("rssi")),
            sensors=_zone_list(body.get("sensors")),
            actuators=_zone_list(body.get("actuators")),
            dht_sensors=_zone_list(body.get("dht_sensors")),
            ds18b20_sensors=_zone_list(body.get("ds18b20_sensors")),
            # sjson encodes an empty table as `[]`: a factory board answers `"settings": []`.
            settings=settings if isinstance(settings, dict) else {},
            chip_id=chip_id,
        )

    @property
    def is_pro(self) -> bool:
        """The ESP32 Alarm Panel Pro: it sends `chipId` and model "Konnected Pro"; the ESP8266 never does."""
        return self.chip_id is not None or "pro" in self.model.lower().split()

    @property
    def firmware(self) -> FirmwareSupport:
        """What the board's release supports."""
        return firmware_support(self.sw_version)

    @property
    def support_problem(self) -> str | None:
        """None when this integration can adopt the board, else a translation key.

        `pro_not_supported`, `firmware_unknown` or `firmware_too_old`.
        """
        if self.is_pro:
            return "pro_not_supported"
        return self.firmware.problem

    @property
    def endpoint(self) -> str | None:
        """`settings.endpoint`: where the board reports (absent on a factory board)."""
        value = self.settings.get("endpoint")
        return value if isinstance(value, str) else None

    @property
    def endpoint_type(self) -> str:
        """`settings.endpoint_type`; absent means `rest` (application.lua's default)."""
        value = self.settings.get("endpoint_type")
        return value if isinstance(value, str) else "rest"


def zones_for_model(model: str) -> tuple[str, ...]:
    """Zones a board offers; every legacy ESP8266 board uses the same map."""
    return ZONES


def is_supported(manufacturer: str | None, model_name: str | None) -> bool:
    """SSDP description check: legacy Konnected boards, not the ESP32 Pro."""
    if (manufacturer or "").strip().lower() != "konnected.io":
        return False
    name = (model_name or "").lower()
    return "konnected" in name and "pro" not in name
