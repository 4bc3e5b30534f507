"""Scalar conversions from source JSON to typed columns, shared by every plugin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def as_text(value: Any) -> str | None:
    """A scalar as text; an object or list where a scalar belongs is an error, not a silent repr."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ValueError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


def as_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value not in (None, "") else None


def as_money(value: Any) -> Decimal | None:
    # str() first: a JSON float's shortest repr is the decimal text the source sent.
    return None if value in (None, "") else Decimal(str(value))


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
