"""A typed column declared once, for every plugin: its name, its PostgreSQL type and how it is read from a record.

A table's typed columns are one `Fields` list: the TableSpec's columns and every record's typed values both come
from it, and a RawRecord carries the names its values were read for (`columns=fields.names`), so the loader
refuses values whose names or order differ from the table's (two swapped columns would otherwise load silently
into each other).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.db.loader import Column

S = TypeVar("S")


@dataclass(frozen=True)
class Field(Generic[S]):
    """One typed column: its name, its PostgreSQL type, and `read`, which gives its value from a source record."""

    column: str
    pg_type: str
    read: Callable[[S], Any]

    def extract(self, source: S) -> Any:
        try:
            return self.read(source)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"field {self.column}: {exc}") from exc

    @property
    def as_column(self) -> Column:
        return Column(self.column, self.pg_type)


class Fields(Generic[S]):
    """A table's typed columns in order; `read` turns a source record into their values, `names` names them."""

    def __init__(self, *fields: Field[S]) -> None:
        names = tuple(f.column for f in fields)
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"columns declared twice: {', '.join(twice)}")
        self.fields = fields
        self.names = names
        self.columns = tuple(f.as_column for f in fields)
        self._readers = tuple(f.read for f in fields)

    def read(self, source: S) -> tuple[Any, ...]:
        """The values in declared order, as a plain tuple (the garbage collector stops tracking a tuple of plain
        values, never a tuple subclass: values that carried their names made to_raw 25% slower over 100k rows)."""
        try:
            return tuple([read(source) for read in self._readers])
        except (ValueError, TypeError, ArithmeticError):
            # Found again field by field, to name the column (readers have no side effects). Not done up front:
            # this is every loaded row's path, and one call less per value is measurably faster.
            for f in self.fields:
                f.extract(source)
            raise

    def nulls(self) -> tuple[Any, ...]:
        """Every column NULL (a tombstone that carries no values of its own)."""
        return (None,) * len(self.fields)

    def __iter__(self) -> Iterator[Field[S]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)


def path(*keys: str, convert: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A nested value, e.g. path("PrimaryEmailAddr", "Address"); None when any step is missing. With `convert`,
    the value found is converted (one call per value: this runs for every column of every loaded row)."""

    def get(record: Any) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def get_converted(record: Any) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                value = None
                break
            value = value.get(key)
        return convert(value)  # type: ignore[misc]

    # One and two keys (nearly every column) without the loop: a million values per 20,000 invoices.
    if convert is not None and len(keys) == 1:
        (key,) = keys

        def get_one(record: Any) -> Any:
            return convert(record.get(key) if isinstance(record, dict) else None)

        return get_one
    if convert is not None and len(keys) == 2:
        outer, inner = keys

        def get_two(record: Any) -> Any:
            value = record.get(outer) if isinstance(record, dict) else None
            return convert(value.get(inner) if isinstance(value, dict) else None)

        return get_two
    return get if convert is None else get_converted


def converted(get: Callable[[S], Any], convert: Callable[[Any], Any]) -> Callable[[S], Any]:
    """A reader that converts what `get` finds (e.g. converted(ref("CustomerRef"), as_text))."""
    return lambda source: convert(get(source))
