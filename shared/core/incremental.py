"""The keyset boundary of an incremental read, for any plugin (dlt's `incremental`, singer-sdk's replication key).

A read asks again from the newest replication-key value it has taken (">=", never ">": records sharing that
value may still be arriving), so what it gets back at exactly that value may have been taken already. The
boundary therefore remembers the ids taken at that value: a record at or before the boundary is dropped unless
it sits exactly on it with an id not yet taken; the new boundary is the newest value taken with the ids taken
at it (joined with the old ones when the value did not move). Nothing is skipped and nothing comes twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Boundary(Generic[K]):
    """Where an incremental read stands: the newest value taken and the ids already taken at exactly it."""

    value: dt.datetime
    seen: frozenset[K] = frozenset()


@dataclass(frozen=True)
class Split(Generic[T, K]):
    """What one answer holds past a boundary.

    fresh: the records to keep, in answer order; one without a value is kept too (it cannot be placed, so
    loading quarantines it with its reason) but never moves the boundary.
    dropped: how many were already taken.
    after: the boundary after the fresh records; None when none of them had a value (the caller keeps its own).
    newest: the first fresh record at after.value, whose own text of the value a caller may store.
    """

    fresh: list[T]
    dropped: int
    after: Boundary[K] | None
    newest: T | None


def split(records: Iterable[T], boundary: Boundary[K], *, value_of: Callable[[T], dt.datetime | None],
          id_of: Callable[[T], K]) -> Split[T, K]:
    """Drop what `boundary` says was taken and find the boundary after the rest (see the module docstring)."""
    fresh: list[T] = []
    dropped = 0
    timed: list[tuple[dt.datetime, T]] = []
    newest: tuple[dt.datetime, T] | None = None
    for record in records:
        value = value_of(record)
        if value is None:
            fresh.append(record)
            continue
        if value < boundary.value or (value == boundary.value and id_of(record) in boundary.seen):
            dropped += 1
            continue
        fresh.append(record)
        timed.append((value, record))
        if newest is None or value > newest[0]:
            newest = (value, record)
    if newest is None:
        return Split(fresh, dropped, None, None)
    top = newest[0]
    at_top = frozenset(id_of(record) for value, record in timed if value == top)
    if top == boundary.value:
        at_top |= boundary.seen
    return Split(fresh, dropped, Boundary(top, at_top), newest[1])
