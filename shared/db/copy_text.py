"""Rows rendered as COPY's text format takes them: each value as the text PostgreSQL reads for its column's type
(psycopg escapes it for COPY), checked against that type as it is rendered.

The loader writes child rows (transaction lines, column values, report rows: several per record) this way.
psycopg's binary COPY dumps each Decimal and each jsonb value in Python, three times the client's CPU for the same
lines (docs/SCALING.md); here a row is one compiled function call, and a value of the wrong type is refused with its
column's name when the record is read, so the load quarantines that record instead of failing at its COPY.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Protocol

from psycopg.types.json import Jsonb

from shared.core.fastjson import dumps_compact
from shared.db.storable import non_finite_text, unstorable

TextRow = tuple[str | None, ...]  # a row's values as COPY's text format takes them (None: NULL)


class _Column(Protocol):
    name: str
    pg_type: str


def _kind(value: Any) -> str:
    return type(value).__name__


def _text(value: Any, column: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) in (int, float, Decimal):  # bool is refused: True is no text a source sent
        return str(value)
    raise ValueError(f"column {column}: expected text, got {_kind(value)}")


# PostgreSQL's integer types' ranges. psycopg's binary COPY stores a Python int beyond its column's range wrapped
# around (99999999999 into an integer column became 1215752191), so the loader checks typed values against them too.
INTEGER_RANGES = {"smallint": (-2**15, 2**15 - 1), "integer": (-2**31, 2**31 - 1), "bigint": (-2**63, 2**63 - 1)}


def out_of_range(value: Any, pg_type: str) -> bool:
    """Whether `value` is an int its integer column cannot hold (anything else is left to the column's dumper)."""
    low, high = INTEGER_RANGES[pg_type]
    return type(value) is int and not low <= value <= high


def _integer_of(pg_type: str) -> Callable[[Any, str], str]:
    low, high = INTEGER_RANGES[pg_type]

    def integer(value: Any, column: str) -> str:
        if type(value) is not int:
            raise ValueError(f"column {column}: expected an integer, got {_kind(value)} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"column {column}: {value} is out of range for type {pg_type}")
        return str(value)

    integer.bounds = (low, high)  # type: ignore[attr-defined]  # read by row_renderer
    return integer


# PostgreSQL's numeric holds up to 131,072 digits before the point and 16,383 after it. Its input refuses a value
# beyond them ("value overflows numeric format"), psycopg's binary dumper too: one such amount failed its COPY.
NUMERIC_DIGITS_BEFORE, NUMERIC_DIGITS_AFTER = 131072, 16383
_SURELY_IN_RANGE = 4000  # a Decimal whose point is nearer, written in fewer characters, needs no closer look


def numeric_out_of_range(value: Any) -> str | None:
    """Why PostgreSQL's numeric cannot hold `value` (a finite Decimal beyond its digits), or None."""
    if value.__class__ is not Decimal or not value.is_finite():
        return None
    adjusted, text = value.adjusted(), str(value)
    if -_SURELY_IN_RANGE < adjusted < _SURELY_IN_RANGE and len(text) < _SURELY_IN_RANGE:
        return None  # the common case, decided without as_tuple (25 times the cost of adjusted)
    shown = text if len(text) <= 40 else f"{value:.6E}"
    if value and adjusted >= NUMERIC_DIGITS_BEFORE:
        return f"{shown} has more than {NUMERIC_DIGITS_BEFORE} digits before the point, beyond PostgreSQL's numeric"
    after = -value.as_tuple().exponent
    if after > NUMERIC_DIGITS_AFTER:
        return f"{shown} has {after} digits after the point, beyond PostgreSQL's numeric ({NUMERIC_DIGITS_AFTER})"
    return None


def _numeric(value: Any, column: str) -> str:
    kind = type(value)
    if kind is Decimal:
        if (beyond := numeric_out_of_range(value)) is not None:
            raise ValueError(f"column {column}: {beyond}")
        return "NaN" if value.is_nan() else str(value)  # sNaN included, as psycopg's dumper writes it
    if kind is int:
        return str(value)
    if kind is float:
        if math.isfinite(value):
            return repr(value)
        return non_finite_text(value)
    raise ValueError(f"column {column}: expected a number, got {_kind(value)} {value!r}")


def _boolean(value: Any, column: str) -> str:
    if type(value) is bool:
        return "t" if value else "f"
    raise ValueError(f"column {column}: expected a boolean, got {_kind(value)} {value!r}")


def _date(value: Any, column: str) -> str:
    if isinstance(value, dt.date):  # a datetime's own date, as psycopg's date dumper takes it
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    raise ValueError(f"column {column}: expected a date, got {_kind(value)} {value!r}")


def _timestamptz(value: Any, column: str) -> str:
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"column {column}: the time {value.isoformat()} has no time zone")
        # PostgreSQL reads an offset to the second, not beyond (Python's can have microseconds): the same instant.
        return (value.astimezone(dt.UTC) if offset.microseconds else value).isoformat()
    raise ValueError(f"column {column}: expected an aware datetime, got {_kind(value)} {value!r}")


def _jsonb(value: Any, column: str) -> str:
    wrapped = isinstance(value, Jsonb)
    obj = value.obj if wrapped else value
    try:
        text = value.dumps(obj) if wrapped and value.dumps is not None else dumps_compact(obj)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {column}: not JSON: {exc}") from exc
    text = text.encode() if isinstance(text, str) else text
    # A value made from a record (JSON it held as text, parsed) can hold what the record's own check could not see:
    # a character only escaped (\u...; a number that is not finite is written as null here, never refused).
    if b"\\u" in text and (found := unstorable(obj)) is not None:
        raise ValueError(f"column {column}: {found}")
    return text.decode()


def _element(value: Any, column: str) -> str:
    if value is None:
        return "NULL"
    text = _text(value, column)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'  # type: ignore[union-attr]


def _text_array(value: Any, column: str) -> str:
    if not isinstance(value, list | tuple):
        raise ValueError(f"column {column}: expected a list of text, got {_kind(value)}")
    return "{" + ",".join(_element(item, column) for item in value) + "}"


_RENDERERS: dict[str, Callable[[Any, str], str | None]] = {
    "text": _text,
    **{name: _integer_of(name) for name in INTEGER_RANGES},
    "numeric": _numeric,
    "boolean": _boolean,
    "date": _date,
    "timestamptz": _timestamptz,
    "jsonb": _jsonb,
    "text[]": _text_array,
}


def row_renderer(columns: Iterable[_Column]) -> Callable[[tuple[Any, ...]], TextRow]:
    """One function rendering a row of `columns`' values (a tuple, in order) to text, None staying NULL.

    Written out as one function per table (like shared.db.fields' readers): a call per value costs as much as the
    rendering on millions of lines. Raises ValueError at once for a column type it cannot render."""
    columns = tuple(columns)
    if not columns:
        raise ValueError("a row of no columns")
    names: dict[str, Any] = {"Decimal": Decimal}
    values = []
    for index, column in enumerate(columns):
        render = _RENDERERS.get(column.pg_type)
        if render is None:
            raise ValueError(f"column {column.name}: no text rendering for type {column.pg_type}; "
                             f"add one to shared/db/copy_text.py ({', '.join(_RENDERERS)})")
        names[f"r{index}"], names[f"n{index}"] = render, column.name
        value = f"v{index}"
        call = f"r{index}({value}, n{index})"
        # The common cases written out, the others left to the renderer: a call per value costs as much as the
        # rendering on millions of lines.
        if render is _text:
            values.append(f"{value} if {value} is None or {value}.__class__ is str else {call}")
        elif hasattr(render, "bounds"):  # an integer type
            names[f"lo{index}"], names[f"hi{index}"] = render.bounds
            values.append(f"None if {value} is None else str({value}) if {value}.__class__ is int "
                          f"and lo{index} <= {value} <= hi{index} else {call}")
        elif render is _numeric:  # numeric_out_of_range's common case, written out
            values.append(f"None if {value} is None else s{index} if {value}.__class__ is Decimal "
                          f"and {value}.is_finite() and -{_SURELY_IN_RANGE} < {value}.adjusted() < {_SURELY_IN_RANGE} "
                          f"and len(s{index} := str({value})) < {_SURELY_IN_RANGE} else {call}")
        else:
            values.append(f"None if {value} is None else {call}")
    width = len(columns)
    unpack = ", ".join(f"v{index}" for index in range(width)) + ("," if width == 1 else "")
    body = ", ".join(f"({value})" for value in values) + ("," if width == 1 else "")
    source = (f"def render(row):\n"
              f"    if len(row) != {width}:\n"
              f"        raise ValueError(f'a row of {{len(row)}} values for {width} columns')\n"
              f"    {unpack} = row\n"
              f"    return ({body})\n")
    exec(compile(source, "<shared.db.copy_text>", "exec"), names)  # built from the column types only, never data
    return names["render"]
