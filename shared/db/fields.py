"""A typed column declared once, for every plugin: its name, its PostgreSQL type and how it is read from a record.

A table's typed columns are one `Fields` list: the TableSpec's columns and every record's typed values both come
from it, and the values carry the names they were read for, so the loader refuses values whose names or order
differ from the table's (two swapped columns would otherwise load silently into each other).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from shared.db.loader import Column

S = TypeVar("S")


class TypedRow(tuple):
    """Typed values in their declared order; each Fields list makes its own subclass, whose `names` it sets."""

    __slots__ = ()
    names: ClassVar[tuple[str, ...]] = ()


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
    """A table's typed columns in order; `read` turns a source record into their values, named."""

    def __init__(self, *fields: Field[S]) -> None:
        names = tuple(f.column for f in fields)
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"columns declared twice: {', '.join(twice)}")
        self.fields = fields
        self.names = names
        self.columns = tuple(f.as_column for f in fields)
        # One class per declaration: the loader compares its names with the table's once per batch, not per row.
        self._row: type[TypedRow] = type("TypedRow", (TypedRow,), {"__slots__": (), "names": names})

    def read(self, source: S) -> TypedRow:
        return self._row([f.extract(source) for f in self.fields])

    def nulls(self) -> TypedRow:
        """Every column NULL (a tombstone that carries no values of its own)."""
        return self._row([None] * len(self.fields))

    def __iter__(self) -> Iterator[Field[S]]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)


def path(*keys: str) -> Callable[[Any], Any]:
    """A nested value, e.g. path("PrimaryEmailAddr", "Address"); None when any step is missing."""

    def get(record: Any) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def converted(get: Callable[[S], Any], convert: Callable[[Any], Any]) -> Callable[[S], Any]:
    """A reader that converts what `get` finds (e.g. converted(path("TotalAmt"), as_money))."""
    return lambda source: convert(get(source))
