"""Typed columns declared by where they come from in a QuickBooks record, so each entity is a short list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.convert import as_bool, as_date, as_int, as_money, as_text
from shared.db.loader import Column


def parse_ts(value: str | None) -> dt.datetime | None:
    """QuickBooks timestamps carry their offset ("2015-07-24T10:48:22-07:00")."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"QuickBooks timestamp {value!r} has no offset")
    return parsed


CONVERT: dict[str, Callable[[Any], Any]] = {
    "text": as_text, "date": as_date, "numeric": as_money, "integer": as_int, "boolean": as_bool,
    "timestamptz": parse_ts,
}


def path(*keys: str) -> Callable[[dict[str, Any]], Any]:
    """A nested value, e.g. path("PrimaryEmailAddr", "Address"); None when any step is missing."""

    def get(record: dict[str, Any]) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def ref(key: str) -> Callable[[dict[str, Any]], Any]:
    """The id inside a reference object such as CustomerRef {"value": "7", "name": ".."} (dotted for nested)."""
    return path(*key.split("."), "value")


@dataclass(frozen=True)
class Field:
    """One typed column and where its value comes from."""

    column: str
    pg_type: str
    source: Callable[[dict[str, Any]], Any]

    def extract(self, record: dict[str, Any]) -> Any:
        try:
            return CONVERT[self.pg_type](self.source(record))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"field {self.column}: {exc}") from exc

    @property
    def as_column(self) -> Column:
        return Column(self.column, self.pg_type)


def f(column: str, pg_type: str, source: str | Callable[[dict[str, Any]], Any] | None = None) -> Field:
    """Shorthand: f("doc_number", "text", "DocNumber"); a dotted string is a path."""
    if source is None:
        raise ValueError(f"column {column} needs a source")
    getter = path(*source.split(".")) if isinstance(source, str) else source
    return Field(column, pg_type, getter)


def is_voided(record: dict[str, Any]) -> bool:
    """QuickBooks keeps a voided transaction with zero amounts and a "Voided" private note."""
    note = str(record.get("PrivateNote") or "")
    total = record.get("TotalAmt")
    return "Voided" in note and (total is None or Decimal(str(total)) == 0)
