"""The bounded JSON decoding shared by the HTTP client and the MQTT report parser."""

from __future__ import annotations

import pytest

from custom_components.konnected_aws.board.wire import (
    MAX_JSON_DEPTH,
    PayloadError,
    decode_json,
    json_depth,
)


def test_what_the_firmware_sends_decodes() -> None:
    """A status-shaped document (3 levels), an empty answer, and sjson's escaped slashes."""
    body = b'{"mac":"88:40:f5:20:99:48","sensors":[{"pin":1,"state":0}],"settings":{"endpoint":"wss:\\/\\/x\\/mqtt"}}'
    assert decode_json(body)["settings"]["endpoint"] == "wss://x/mqtt"
    assert decode_json(b"") is None
    assert decode_json(b" \r\n") is None


@pytest.mark.parametrize(
    ("text", "depth"),
    [("{}", 1), ("[[]]", 2), ('{"a":"[[[[","b":[{}]}', 3), ('["\\"[[["]', 1), ("1", 0)],
)
def test_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    """Brackets in strings, including after an escaped quote, do not count."""
    assert json_depth(text) == depth


def test_depth_far_beyond_the_interpreter_is_a_payload_error() -> None:
    """1 MB of '[' (json.loads alone: RecursionError, not a ValueError) is refused before parsing."""
    deep = b"[" * 500_000 + b"]" * 500_000
    with pytest.raises(PayloadError, match="nested deeper"):
        decode_json(deep, max_bytes=len(deep))
    with pytest.raises(PayloadError, match="nested deeper"):
        decode_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert decode_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize(
    "raw", [b"\xff", b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", b"{'a': 1}", b"NaN-ish", b"a" * 10]
)
def test_anything_else_is_a_payload_error(raw: bytes) -> None:
    """Invalid UTF-8 (incl. an encoded surrogate), a BOM, not-JSON: PayloadError, a ValueError."""
    with pytest.raises(PayloadError):
        decode_json(raw)
    assert issubclass(PayloadError, ValueError)


def test_size_cap() -> None:
    """More than max_bytes is refused before decoding."""
    with pytest.raises(PayloadError, match="more than"):
        decode_json(b" " * 11, max_bytes=10)
