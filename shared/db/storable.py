"""What PostgreSQL cannot store in text or jsonb, found in a record before it is loaded: the character U+0000, a
UTF-16 surrogate left alone, a number that is not finite. A record holding one failed its page's COPY, and with it
every attempt of its load; the load quarantines it instead, as `storable` shows it."""

from __future__ import annotations

import math
import re
from typing import Any

# A surrogate alone comes from a source's JSON escape ("\\ud800": valid JSON, no UTF-8 for it); a number that is not
# finite from Python's JSON reading NaN, Infinity or 1e999 (beyond a double). A landed line holds such characters
# only escaped and such numbers only as NaN or Infinity (shared.core.fastjson writes every line), so a record whose
# text has none of these signs is not walked.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_at(record: Any, text: bytes) -> str | None:
    """What in `record` (parsed from the JSON `text`) PostgreSQL cannot store, where, and how its quarantined copy
    shows it, e.g. "Line[1].Description holds U+0000, which ..."; None when it holds nothing of the kind."""
    if not has_signs(text):
        return None
    found = _find(record, "")
    return None if found is None else f"{found[0]} ({found[1]}; the landed page keeps the record whole)"


def has_signs(text: bytes) -> bool:
    """Whether JSON text written by shared.core.fastjson may hold what PostgreSQL cannot store (if not, it holds
    none; if so, `unstorable` says)."""
    # Written out, the common case first: a generator over the signs took as long as parsing a small record.
    return ((b"\\u" in text and (b"\\u0000" in text or b"\\ud" in text or b"\\uD" in text))
            or b"NaN" in text or b"Infinity" in text)


def unstorable(value: Any) -> str | None:
    """What in `value` (a value made from a record, e.g. JSON a record held as text, parsed) PostgreSQL cannot
    store, and where; None when it holds nothing of the kind."""
    found = _find(value, "")
    return None if found is None else found[0]


_CHARACTER_COPY = "the quarantined copy shows it as U+FFFD"
_NUMBER_COPY = "the quarantined copy holds it as text"


def _held(text: str) -> str | None:
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    what = code if code == "U+0000" else f"{code} (half of a UTF-16 surrogate pair, alone)"
    return f"{what}, which PostgreSQL cannot store in text or jsonb"


def _find(value: Any, path: str) -> tuple[str, str] | None:
    """(where what PostgreSQL cannot store is, how a quarantined copy shows it), or None."""
    where = path or "the value"
    if isinstance(value, str):
        held = _held(value)
        return None if held is None else (f"{where} holds {held}", _CHARACTER_COPY)
    if isinstance(value, float) and not math.isfinite(value):
        number = non_finite_text(value)
        return f"{where} holds the number {number}, which PostgreSQL cannot store in jsonb", _NUMBER_COPY
    if isinstance(value, dict):
        for key, item in value.items():
            if (held := _held(str(key))) is not None:
                return f"a key of {where} holds {held}", _CHARACTER_COPY
            if (found := _find(item, f"{path}.{key}" if path else str(key))) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _find(item, f"{path}[{index}]")) is not None:
                return found
    return None


def non_finite_text(value: float) -> str:
    """How PostgreSQL (and Python's JSON) spells a float that is not finite: NaN, Infinity, -Infinity."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def storable(value: Any) -> Any:
    """`value` as PostgreSQL can store it: U+FFFD for each character it cannot, a number that is not finite as its
    text ("Infinity")."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return non_finite_text(value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
