"""Typed columns declared by where they come from in a QuickBooks record, so each entity is a short list.

The idiom (Field, Fields) is shared.db.fields'; what is QuickBooks' own is how a value is found (paths and
references) and how its timestamps are read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.core.convert import as_bool, as_date, as_instant, as_int, as_money, as_text
from shared.db.fields import Field, Fields, converted, path

__all__ = ["CONVERT", "Field", "Fields", "f", "is_voided", "parse_ts", "path", "ref"]


def parse_ts(value: str | None) -> dt.datetime | None:
    """QuickBooks timestamps carry their offset ("2015-07-24T10:48:22-07:00"), kept as written.

    The rules are shared.core.convert.as_instant's; Intuit documents no zone for offset-less values, so they
    are refused.
    """
    return as_instant(value)


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": as_text, "date": as_date, "numeric": as_money, "integer": as_int, "boolean": as_bool,
    "timestamptz": parse_ts,
}


def ref(key: str) -> str:
    """The id inside a reference object such as CustomerRef {"value": "7", "name": ".."} (dotted for nested)."""
    return f"{key}.value"


def f(column: str, pg_type: str, source: str | Callable[[dict[str, Any]], Any] | None = None) -> Field:
    """Shorthand: f("doc_number", "text", "DocNumber"); a dotted string is a path. The value is converted by type."""
    if source is None:
        raise ValueError(f"column {column} needs a source")
    convert = CONVERT[pg_type]
    read = path(*source.split("."), convert=convert) if isinstance(source, str) else converted(source, convert)
    return Field(column, pg_type, read)


def is_voided(record: dict[str, Any]) -> bool:
    """QuickBooks keeps a voided transaction with zero amounts and a "Voided" private note."""
    note = str(record.get("PrivateNote") or "")
    total = record.get("TotalAmt")
    return "Voided" in note and (total is None or Decimal(str(total)) == 0)
