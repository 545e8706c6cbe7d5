"""The few Lua 5.1 (NodeMCU integer build) semantics the firmware's behaviour depends on.

The firmware is Lua on NodeMCU built with `LUA_NUMBER_INTEGRAL` (konnected-security
`firmware/nodemcu-firmware-overlay/app/include/user_config.h`; v2.3.2 `scripts/build-firmware`
`INTEGER_ONLY=1`). Values here are Python values standing for Lua values: `None` is nil,
`dict`/`list` are tables, `NULL` is the light userdata `sjson.decode` gives for JSON `null`.
A Lua runtime error is a `LuaError`; where it happens decides what the board does (see
`runtime.py`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1


class LuaError(Exception):
    """A Lua runtime error (`error(...)`, a bad argument to a C function, indexing nil...)."""


class _LightUserdata:
    """`sjson.decode`'s value for JSON null: `lua_pushlightuserdata(L, 0)` (sjson.c)."""

    def __repr__(self) -> str:
        return "userdata: NULL"


NULL: Final = _LightUserdata()


def is_number(value: Any) -> bool:
    """Tell whether the value is a Lua number (integer build: always an integer)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _str2number(text: str) -> int | None:
    """luaO_str2d with `lua_str2number` = strtol(s, p, 10) (lobject.c, luaconf.h integral build)."""
    match = re.match(r"\s*([+-]?\d+)", text)
    if match is None:
        return None
    rest = text[match.end() :]
    if rest[:1] in ("x", "X"):
        # strtoul(s, &endptr, 16) on the whole string: "0x1A".
        hex_match = re.match(r"\s*([+-]?(?:0[xX])?[0-9a-fA-F]+)", text)
        if hex_match is None:
            return None
        value = int(hex_match.group(1), 16) & 0xFFFFFFFF
        rest = text[hex_match.end() :]
    else:
        value = int(match.group(1))
    if rest.strip(" \t\n\r\f\v"):
        return None  # invalid trailing characters ("1.5", "5e2")
    return max(INT_MIN, min(INT_MAX, value))


def tonumber(value: Any) -> int | None:
    """`tonumber(v)`: numbers and numeric strings; nil for everything else ("1.5" too)."""
    if is_number(value):
        return int(value)
    if isinstance(value, str):
        return _str2number(value)
    return None


def checkinteger(value: Any, argument: str) -> int:
    """luaL_checkinteger: a number or a numeric string, or a 'bad argument' error."""
    number = tonumber(value)
    if number is None:
        raise LuaError(f"bad argument ({argument}): number expected, got {type_name(value)}")
    return number


def truthy(value: Any) -> bool:
    """Lua truth: everything but nil and false."""
    return value is not None and value is not False


def lua_or(value: Any, default: Any) -> Any:
    """`value or default`."""
    return value if truthy(value) else default


def lua_eq(left: Any, right: Any) -> bool:
    """`==` without coercion: "1" ~= 1, true ~= 1; tables by identity."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return left is right
    if type(left) is not type(right):
        return False
    return bool(left == right)


def type_name(value: Any) -> str:
    """Lua's `type()`."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (dict, list)):
        return "table"
    return "userdata"


def arith(value: Any) -> int:
    """Return an operand of + - *: numbers and numeric strings are coerced; the rest is an error."""
    number = tonumber(value)
    if number is None:
        raise LuaError(f"attempt to perform arithmetic on a {type_name(value)} value")
    return number


def concat(*parts: Any) -> str:
    """Return `a .. b`: strings and numbers only."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif is_number(part):
            out.append(str(part))
        else:
            raise LuaError(f"attempt to concatenate a {type_name(part)} value")
    return "".join(out)


def index(table: Any, key: Any) -> Any:
    """`t[k]` / `t.k`: nil for a missing key, an error on a non-table."""
    if isinstance(table, dict):
        return table.get(key) if isinstance(key, str) else None
    if isinstance(table, list):
        if is_number(key) and 1 <= key <= len(table):
            return table[key - 1]
        return None
    if isinstance(table, str):
        return None  # string methods are the only string fields; none is read here
    raise LuaError(f"attempt to index a {type_name(table)} value")


def pairs(table: Any) -> list[tuple[Any, Any]]:
    """`pairs(t)`: arrays in order (the array part), then the hash part."""
    if isinstance(table, list):
        return [(position + 1, value) for position, value in enumerate(table) if value is not None]
    if isinstance(table, dict):
        return [(key, value) for key, value in table.items() if value is not None]
    raise LuaError(f"bad argument #1 to 'pairs' (table expected, got {type_name(table)})")


def length(table: Any) -> int:
    """`#t`."""
    if isinstance(table, list):
        return len(table)
    if isinstance(table, dict):
        return 0
    raise LuaError(f"attempt to get length of a {type_name(table)} value")


# --- sjson (NodeMCU app/modules/sjson.c) --------------------------------------------------


def sjson_decode(text: str | bytes) -> Any:
    """Decode as sjson.decode.

    Objects and arrays; null is a light userdata; in the integer build a
    number with a fraction or exponent becomes 0 (push_number: lua_tonumber of "1.5").
    Whatever follows the first complete value is ignored (sjson.c error_callback records
    errors only until the root value is complete).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder(
        parse_float=lambda _: 0,
        parse_int=lambda digits: max(INT_MIN, min(INT_MAX, int(digits))),
        parse_constant=lambda _: 0,
    )
    stripped = text.lstrip(" \t\n\r")
    try:
        value, _ = decoder.raw_decode(stripped)
    except ValueError as err:
        raise LuaError(f"JSON parse error: {err}") from err
    if not isinstance(value, (dict, list)):
        raise LuaError("JSON parse error: not an object or array")
    return _with_null(value)


def _with_null(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, dict):
        return {key: _with_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_null(item) for item in value]
    return value


def sjson_encode(value: Any) -> str:
    r"""Encode as sjson.encode.

    A table with no keys or only positive integer keys is an array (so an
    empty table is `[]`); nil never appears (a table cannot hold it); strings escape only
    control characters and `"` (not `\`); numbers with %d.
    """
    if value is None or value is NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return str(value)
    if isinstance(value, str):
        return _encode_string(value)
    if isinstance(value, list):
        return "[" + ",".join(sjson_encode(item) for item in value) + "]"
    if isinstance(value, dict):
        items = [(key, item) for key, item in value.items() if item is not None]
        if not items:
            return "[]"
        return "{" + ",".join(f"{_encode_string(str(key))}:{sjson_encode(item)}" for key, item in items) + "}"
    raise LuaError(f"Cannot encode type {type_name(value)}")


_CONTROL_ESCAPES: Final = {"\f": "\\f", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b"}


def _encode_string(text: str) -> str:
    out = ['"']
    for char in text:
        if ord(char) < 0x20:
            out.append(_CONTROL_ESCAPES.get(char, f"\\u00{ord(char):02x}"))
        elif char == '"':
            out.append('\\"')
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# --- variables_build.lua + variables_set.lua: settings stored as compiled Lua --------------

_LUA_KEYWORDS: Final = frozenset(
    [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ]
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ESCAPES: Final = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _lua_string_literal(text: str) -> str:
    """Return what `"` .. text .. `"` means once compiled (no escaping is done when writing)."""
    if '"' in text or "\n" in text or "\r" in text:
        raise LuaError("unfinished string: the stored settings do not compile")
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\":
            out.append(char)
            position += 1
            continue
        escaped = text[position + 1 : position + 2]
        if escaped == "":
            raise LuaError("unfinished string: the stored settings do not compile")
        digits = re.match(r"\d{1,3}", text[position + 1 :])
        if digits is not None:
            out.append(chr(int(digits.group(0)) % 256))
            position += 1 + len(digits.group(0))
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        position += 2
    return "".join(out)


def build_variables(value: Any, *, sjson_null: bool) -> Any:
    """variables_build.lua then node.compile and require: what the next boot reads back.

    `None` in means nil (the file is not written: the previous one stays). JSON null is
    skipped when `sjson.NULL` exists (NodeMCU 2.2) and breaks `table.concat` otherwise
    (NodeMCU 3.0 has no `sjson.NULL`, so `value == sjson.NULL` is never true). A string
    with `"` or a key that is not a Lua name makes the generated file fail to compile.
    """
    if value is None:
        return None
    return _build_table(value, sjson_null=sjson_null)


def _build_table(value: Any, *, sjson_null: bool) -> Any:
    entries = pairs(value)
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for key, item in entries:
        if isinstance(item, (dict, list)):
            built = _build_table(item, sjson_null=sjson_null)
            if isinstance(key, str):
                _check_name(key)
                named[key] = built
            else:
                positional.append(built)  # `{...},` without a key: appended in pairs() order
            continue
        if item is NULL:
            if sjson_null:
                continue
            raise LuaError("invalid value (at index 2) in table for 'concat'")
        if not isinstance(key, str):
            raise LuaError("'}' expected near '=': the stored settings do not compile")  # `1=5,`
        _check_name(key)
        named[key] = _lua_string_literal(item) if isinstance(item, str) else item
    if positional and named:
        raise LuaError("mixed tables are not produced by the firmware's settings")
    if positional or isinstance(value, list):
        return positional
    return named


def _check_name(key: str) -> None:
    if not _IDENTIFIER.match(key) or key in _LUA_KEYWORDS:
        raise LuaError(f"'{key}=' is not a Lua name: the stored settings do not compile")
