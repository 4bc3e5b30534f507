"""Scalar conversions from source JSON to typed columns, shared by every plugin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def as_text(value: Any) -> str | None:
    """A scalar as text; an object or list where a scalar belongs is an error, not a silent repr."""
    if type(value) is str:  # most values, first
        return value
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValueError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


def as_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value not in (None, "") else None


def as_money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        # str() first: a JSON float's shortest repr is the decimal text the source sent.
        return Decimal(str(value))
    except ArithmeticError:  # decimal's own says only [<class 'decimal.ConversionSyntax'>]
        raise ValueError(f"expected a number, got {value!r}") from None


def as_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError(f"expected a boolean, got {value!r}")


def as_instant(value: Any, *, naive_zone: dt.tzinfo | None = None) -> dt.datetime | None:
    """An aware instant from ISO 8601 text, by these rules (every plugin parses timestamps through here):

    - None or "" (blank) is None: the source did not say.
    - A trailing "Z" (either case) means UTC; an explicit offset is kept as written.
    - Text without an offset (or a bare date, read as its midnight) is refused with ValueError, unless the
      source documents the zone its offset-less values are in: pass it as `naive_zone`.
    - Anything but text or a datetime is refused with ValueError; a datetime follows the same rules.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not ISO 8601") from None
    else:
        raise ValueError(f"expected an ISO 8601 timestamp, got {type(value).__name__} {value!r}")
    if parsed.tzinfo is None:
        if naive_zone is None:
            raise ValueError(f"timestamp {value!r} has no offset and the source documents no zone for it")
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed
