"""The simulated hardware: pin levels, DHT sensors and 1-Wire buses.

Read the way the firmware's NodeMCU modules read them (integer build).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Final

from .lua import LuaError, checkinteger

GPIO_PINS: Final = range(13)  # NodeMCU ESP8266: gpio indices 0..12 (platform_gpio_exists)
DHT_OK: Final = 0
DHT_ERROR_TIMEOUT: Final = -2
DS18B20_FAMILY: Final = 0x28
DS18S20_FAMILY: Final = 0x10
POWER_ON_RESET_RAW: Final = 85 * 16  # the scratchpad's 85 °C before a first conversion


def one_wire_crc8(data: bytes) -> int:
    """Dallas/Maxim CRC-8 (NodeMCU onewire_crc8), as checked on every ROM code."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


def parse_rom(address: str) -> bytes:
    """`28:FF:..` (8 bytes) with a valid CRC, as a probe's ROM code must have."""
    try:
        rom = bytes(int(part, 16) for part in address.split(":"))
    except ValueError:
        raise ValueError(f"{address!r} is not a 1-Wire ROM code like 28:FF:64:1E:0F:24:A1:3F") from None
    if len(rom) != 8:
        raise ValueError(f"{address!r} is not 8 bytes")
    expected = one_wire_crc8(rom[:7])
    if rom[7] != expected:
        raise ValueError(
            f"{address!r} has a bad CRC (last byte should be {expected:02X}): "
            "no real probe has it and the firmware's bus search skips it"
        )
    return rom


@dataclass
class DhtReading:
    """What a DHT22 sends: humidity and temperature in tenths, as five bytes."""

    temperature: float
    humidity: float

    def registers(self) -> bytes:
        """Return the five bytes the sensor sends."""
        humidity = round(self.humidity * 10) & 0xFFFF
        temperature = round(abs(self.temperature) * 10) & 0x7FFF
        if self.temperature < 0:
            temperature |= 0x8000
        data = bytes([humidity >> 8, humidity & 0xFF, temperature >> 8, temperature & 0xFF])
        return data + bytes([sum(data) & 0xFF])


def dht_read(reading: DhtReading | None) -> tuple[int, int, int, int, int]:
    """Return what dht.read(pin) returns: status, temp, humi, temp_dec, humi_dec.

    As NodeMCU app/dht/dht.c and app/modules/dht.c read them: the bytes decoded as a double, then pushed into an integer Lua.
    """
    if reading is None:
        return DHT_ERROR_TIMEOUT, 0, 0, 0, 0  # nothing on the pin
    data = reading.registers()
    if data[1] == 0 and data[3] == 0:
        # dht.c takes this for a DHT11 (integer readings) and its checksum then always holds.
        humidity, temperature = float(data[0]), float(data[2])
    else:
        humidity = ((data[0] << 8) | data[1]) * 0.1
        temperature = (((data[2] & 0x7F) << 8) | data[3]) * 0.1
        if data[2] & 0x80:
            temperature = -temperature
    temp_dec = int((temperature - int(temperature)) * 1000)
    humi_dec = int((humidity - int(humidity)) * 1000)
    return DHT_OK, int(temperature), int(humidity), temp_dec, humi_dec


def dht_strings(reading: DhtReading | None) -> tuple[str, str] | None:
    """application.lua readDht: `temp .. "." .. math.abs(temp_dec)`, `humi .. "." .. humi_dec`."""
    status, temp, humi, temp_dec, humi_dec = dht_read(reading)
    if status != DHT_OK:
        return None
    return f"{temp}.{abs(temp_dec)}", f"{humi}.{humi_dec}"


def _raw_temperature(rom: bytes, celsius: float) -> int:
    """Return the scratchpad's signed 16-bit reading: 1/16 °C (DS18B20), 1/2 °C (DS18S20)."""
    steps = 16 if rom[0] == DS18B20_FAMILY else 2
    return max(-32768, min(32767, round(celsius * steps)))


def ds18b20_lua_string(rom: bytes, celsius: float) -> str | None:
    """ds18b20.lua readout, integer version (v3.x): None for the 85 °C power-on value."""
    raw = _raw_temperature(rom, celsius)
    t = raw * (625 if rom[0] == DS18B20_FAMILY else 5000)
    if t == 850000:
        return None
    sign = -1 if t < 0 else 1
    absolute = sign * t
    whole = absolute // 10000
    tenths = (absolute % 10000) // 1000 + (1 if (absolute % 1000) // 100 >= 5 else 0)
    return f"{'-' if sign < 0 else ''}{whole}.{tenths}"


def ds18b20_c_string(rom: bytes, celsius: float) -> str:
    """Return the temperature string of firmware v2.3.2 on NodeMCU 2.2.

    NodeMCU 2.2 C ds18b20 module + v2.3.2 application.lua: `temp .. "." .. math.abs(temp_dec)`
    with temp = raw/16 truncated and temp_dec = (raw - raw/16*16)*1000/16 (C division).
    """
    raw = _raw_temperature(rom, celsius)
    whole = math.trunc(raw / 16)
    decimals = math.trunc((raw - math.trunc(raw / 16) * 16) * 1000 / 16)
    return f"{whole}.{abs(decimals)}"


def rom_string(rom: bytes) -> str:
    """`%02X:%02X:...` as both releases format the address."""
    return ":".join(f"{byte:02X}" for byte in rom)


@dataclass
class Hardware:
    """Pin levels (inputs set by the test, outputs by gpio.write), DHTs and 1-Wire buses."""

    levels: dict[int, int] = field(default_factory=dict)
    dht: dict[int, DhtReading] = field(default_factory=dict)
    buses: dict[int, dict[bytes, float]] = field(default_factory=dict)
    driven: set[int] = field(default_factory=set)

    def reset_outputs(self) -> None:
        """Release every driven pin at a restart: low until the firmware writes it again."""
        for pin in self.driven:
            self.levels[pin] = 0
        self.driven.clear()

    def check_pin(self, value: object, argument: str) -> int:
        """Return `value` as a GPIO pin, or raise the Lua error of a bad one."""
        pin = checkinteger(value, argument)
        if pin not in GPIO_PINS:
            raise LuaError(f"bad argument ({argument}): gpio {pin} does not exist")
        return pin

    def mode(self, pin: object) -> int:
        """gpio.mode(pin, ...)."""
        return self.check_pin(pin, "#1 to 'mode'")

    def read(self, pin: object) -> int:
        """gpio.read(pin)."""
        return self.levels.get(self.check_pin(pin, "#1 to 'read'"), 0)

    def write(self, pin: object, level: object) -> None:
        """gpio.write(pin, level): level must be 0 or 1 (`wrong level type`)."""
        checked_pin = self.check_pin(pin, "#1 to 'write'")
        checked_level = checkinteger(level, "#2 to 'write'")
        if checked_level not in (0, 1):
            raise LuaError("bad argument #2 to 'write' (wrong level type)")
        self.levels[checked_pin] = checked_level
        self.driven.add(checked_pin)
