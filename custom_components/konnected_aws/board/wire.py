"""Decoding what a LAN device sends, with bounds: size, JSON nesting, strict UTF-8.

Anything on the LAN can answer in a board's place, so nothing it sends may cost more memory than a
real board could produce, or raise anything but a PayloadError.
"""

from __future__ import annotations

import json
from typing import Any, Final

# The firmware builds every answer as one Lua string before sending it (httpd_res.lua
# `respondWithText`: `table.concat` of status line, headers and body), so an answer is smaller than
# the ESP8266's free heap, which `/status` reports as `heap` (typically 20–40 KB; the chip has
# 80 KiB of user data RAM). 64 KiB is above anything a board can send.
MAX_ANSWER_BYTES: Final = 64 * 1024
# The deepest document the firmware sends is `/status` (object → list → object: 3 levels);
# Python's own parser would raise RecursionError (not a ValueError) near 1000.
MAX_JSON_DEPTH: Final = 8


class PayloadError(ValueError):
    """The bytes are not a document the firmware sends."""


def json_depth(text: str) -> int:
    """Deepest nesting of objects and arrays in a JSON text (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def decode_json(raw: bytes, *, max_bytes: int = MAX_ANSWER_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON document from a device; raises PayloadError for anything else.

    Empty (or whitespace-only) input is None: the firmware answers most writes with no body.
    """
    if len(raw) > max_bytes:
        raise PayloadError(f"{len(raw)} bytes, more than the {max_bytes} a board can send")
    try:
        text = raw.decode("utf-8")  # strict: the firmware sends ASCII
    except UnicodeDecodeError as err:
        raise PayloadError(f"not UTF-8 (byte {err.start})") from None
    if not text.strip():
        return None
    if json_depth(text) > max_depth:
        raise PayloadError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as err:
        raise PayloadError(f"not JSON ({err.__class__.__name__} at character {getattr(err, 'pos', '?')})") from None
