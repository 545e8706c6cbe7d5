"""What the legacy firmware reports about itself, and its zones (docs/protocol.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

# The firmware's zoneToPin (src/lfs/application.lua): the same on every ESP8266 board.
ZONE_TO_PIN: Final = {"1": 1, "2": 2, "3": 5, "4": 6, "5": 7, "6": 9, "out": 8}
PIN_TO_ZONE: Final = {pin: zone for zone, pin in ZONE_TO_PIN.items()}
ZONES: Final = tuple(ZONE_TO_PIN)
DEFAULT_MODEL: Final = "Konnected"


class BoardDataError(ValueError):
    """The board's answer is not what the firmware sends."""


def board_id_from_mac(mac: str) -> str:
    """Board id: the MAC without separators, lowercase (as the firmware's aws_iot.lua does)."""
    compact = mac.replace(":", "").replace("-", "").lower()
    if len(compact) != 12 or any(char not in "0123456789abcdef" for char in compact):
        raise BoardDataError(f"Not a MAC address: {mac!r}")
    return compact


def zone_of(report: dict[str, Any]) -> str | None:
    """The zone of a `{"zone": z}` or `{"pin": p}` entry."""
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


def _zone_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    zones = (zone_of(item) for item in value if isinstance(item, dict))
    return tuple(zone for zone in zones if zone is not None)


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """`GET /status` of a board."""

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

    @classmethod
    def from_json(cls, body: Any) -> BoardStatus:
        """Parse the status document; raises BoardDataError when it is not one."""
        if not isinstance(body, dict) or not isinstance(body.get("mac"), str):
            raise BoardDataError("The status has no MAC address")
        port = body.get("port")
        rssi = body.get("rssi")
        settings = body.get("settings")
        return cls(
            board_id=board_id_from_mac(body["mac"]),
            mac=body["mac"].lower(),
            model=str(body.get("model") or DEFAULT_MODEL),
            sw_version=str(body["swVersion"]) if body.get("swVersion") is not None else None,
            hw_version=str(body["hwVersion"]) if body.get("hwVersion") is not None else None,
            ip=str(body["ip"]) if body.get("ip") else None,
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            rssi=rssi if isinstance(rssi, int) and not isinstance(rssi, bool) else None,
            sensors=_zone_list(body.get("sensors")),
            actuators=_zone_list(body.get("actuators")),
            dht_sensors=_zone_list(body.get("dht_sensors")),
            ds18b20_sensors=_zone_list(body.get("ds18b20_sensors")),
            settings=settings if isinstance(settings, dict) else {},
        )


def zones_for_model(model: str) -> tuple[str, ...]:
    """Zones a board offers; every legacy ESP8266 board uses the same map."""
    return ZONES


def is_supported(manufacturer: str | None, model_name: str | None) -> bool:
    """SSDP description check: legacy Konnected boards, not the ESP32 Pro."""
    if (manufacturer or "").strip().lower() != "konnected.io":
        return False
    name = (model_name or "").lower()
    return "konnected" in name and "pro" not in name
