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
        self._read_all = _compiled(self._readers, self._read_each)

    def read(self, source: S) -> tuple[Any, ...]:
        """The values in declared order, as a plain tuple (the garbage collector stops tracking a tuple of plain
        values, never a tuple subclass: values that carried their names made to_raw 25% slower over 100k rows)."""
        try:
            return self._read_all(source)
        except (ValueError, TypeError, ArithmeticError):
            # Found again field by field, to name the column (readers have no side effects). Not done up front:
            # this is every loaded row's path, and one call less per value is measurably faster.
            for f in self.fields:
                f.extract(source)
            raise

    def _read_each(self, source: S) -> tuple[Any, ...]:
        return tuple([read(source) for read in self._readers])

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

        get_one.path = (keys, convert)  # type: ignore[attr-defined]  # read by _compiled
        return get_one
    if convert is not None and len(keys) == 2:
        outer, inner = keys

        def get_two(record: Any) -> Any:
            value = record.get(outer) if isinstance(record, dict) else None
            return convert(value.get(inner) if isinstance(value, dict) else None)

        get_two.path = (keys, convert)  # type: ignore[attr-defined]
        return get_two
    chosen = get if convert is None else get_converted
    chosen.path = (keys, convert)  # type: ignore[attr-defined]
    return chosen


def _lookup(record: str, keys: tuple[str, ...], names: dict[str, Any]) -> str:
    """An expression for path(*keys)'s lookup in `record`, the same steps: None once a step is not an object."""
    expr = record
    for key in keys:
        names[f"k{len(names)}"] = key
        step = f"k{len(names) - 1}"
        expr = f"(_v.get({step}) if isinstance(_v := {expr}, dict) else None)"
    return expr


def _compiled(readers: tuple[Callable[[Any], Any], ...],
              fallback: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], tuple[Any, ...]]:
    """One function reading every column of a row, the path() lookups written out in it (each column otherwise
    costs two calls: a million values per 20,000 invoices). Same values, same exceptions as calling each reader;
    a row that is not an object goes to `fallback` (the readers one by one)."""
    names: dict[str, Any] = {"isinstance": isinstance, "dict": dict, "fallback": fallback}
    values = []
    for index, reader in enumerate(readers):
        spec = getattr(reader, "path", None)
        if spec is None:
            names[f"r{index}"] = reader
            values.append(f"r{index}(row)")
            continue
        keys, convert = spec
        lookup = _lookup("row", keys, names) if len(keys) > 1 else f"row.get(k{len(names)})"
        if len(keys) == 1:
            names[f"k{len(names)}"] = keys[0]
        if convert is None:
            values.append(lookup)
        else:
            names[f"c{index}"] = convert
            values.append(f"c{index}({lookup})")
    body = ", ".join(values) + ("," if len(values) == 1 else "")
    source = ("def read_row(row):\n    if not isinstance(row, dict):\n        return fallback(row)\n"
              f"    return ({body})\n")
    exec(compile(source, "<shared.db.fields>", "exec"), names)  # built from the column specs only, never from data
    return names["read_row"]


def converted(get: Callable[[S], Any], convert: Callable[[Any], Any]) -> Callable[[S], Any]:
    """A reader that converts what `get` finds (e.g. converted(ref("CustomerRef"), as_text))."""
    return lambda source: convert(get(source))
