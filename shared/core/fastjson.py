"""JSON on the load path, where every landed record is parsed once and every line serialised once: orjson (about
four times faster than the standard library here), with the standard library wherever the two would differ, so a
record reads and writes exactly as it did before: text orjson refuses (NaN, Infinity), integers orjson would read
as floats (beyond 64 bits: any run of 19 digits sends the text to the standard library, which keeps them exact),
values orjson cannot write (integers beyond 64 bits, non-string keys).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ASCII = json.JSONEncoder(separators=(",", ":"))


# Digits mapped to "0", then a search for 19 zeros: both C loops over the bytes (a regular expression for \d{19}
# took six times longer than orjson's parse).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def loads(text: bytes) -> Any:
    if _LONG_RUN in text.translate(_DIGITS_AS_ZERO):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps_compact(value: Any) -> bytes:
    """UTF-8 JSON without spaces after separators. A string holding a lone UTF-16 surrogate, which a source's JSON
    can send escaped and UTF-8 cannot write, keeps its escape (the line then escapes every character beyond ASCII)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # e.g. an integer beyond 64 bits, a non-string key, a Decimal, a lone surrogate
        return _standard(value)


def _standard(value: Any) -> bytes:
    """The standard library's compact JSON, UTF-8; escaped to ASCII when a string holds a lone UTF-16 surrogate
    ("\\ud800" in a source's JSON), which UTF-8 has no bytes for."""
    try:
        return _COMPACT.encode(value).encode()
    except UnicodeEncodeError:
        return _ASCII.encode(value).encode()


def dumps_line(value: Any) -> bytes:
    """A record as a landed page's line: what json.dumps(value, separators=(",", ":"), ensure_ascii=False) writes,
    UTF-8, made by orjson wherever the two write the same values (three to six times faster on a page of invoices,
    and the same text: docs/SCALING.md). orjson writes NaN and Infinity as null where the standard library writes
    NaN and Infinity, so a line holding "null" anywhere is written by the standard library instead (no source sends
    such numbers in practice; a source that leaves empty fields out gets orjson's speed, records that hold nulls are
    written as before), as is whatever orjson cannot write (integers beyond 64 bits, non-string keys). Floats in
    exponent form may be spelled differently (1e+16 and 1e16): the same number either way."""
    text = dumps_compact(value)
    return _standard(value) if b"null" in text else text
