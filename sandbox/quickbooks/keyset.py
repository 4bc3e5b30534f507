"""Keyset pages and counts answered from an entity kept in keyset order: a page costs the page, not the entity.

The app reads a large entity page by page in (Metadata.LastUpdatedTime, Id) order, several chains at once, and
sizes its chains with `COUNT(*)` and one-record probes over the same order (plugins/quickbooks/paging.py,
partition.py). The general evaluator (query.evaluate) filters and sorts the whole entity for every such query:
0.3-0.7 s of CPU at 40,000 invoices, so the simulator answered 2-3 pages a second where the real API answers any
page in about a second whatever the company's size. This keeps each entity's rows sorted by the very key
query.evaluate sorts by (time, then Id, then the default order, ties in stored order) and finds a query's range by
bisecting on the time.

It answers only what it answers exactly as query.evaluate would: conditions on Metadata.LastUpdatedTime (=, <, <=,
>, >=) and `Active IN (true, false)`, ordered by the keyset order (any order for a COUNT), over an entity whose
every row has a readable time and an Active flag that is absent or a boolean. Anything else returns None and goes
the general way. Faults, throttling and latency happen before a query is evaluated, so none of them changes here.

An index is valid for one RealmStore.version (every write through SimulatorState moves it on) and the entity's row
count; the next query after a write rebuilds it, at the cost of one general evaluation.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .entities import EntityKind
from .query import DEFAULT_MAX_RESULTS, MISSING, Condition, Query, default_order, instant, lookup, typed

TIME_PATH = "Metadata.LastUpdatedTime"
KEYSET_ORDER = (("metadata.lastupdatedtime", False), ("id", False))
_TIME_RANK = 3  # typed()'s rank for a readable date-time
_TIME_OPS = frozenset({"=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class KeysetIndex:
    version: int
    size: int
    rows: list[dict[str, Any]]  # the live records, in keyset order
    stamps: list[float]  # each row's LastUpdatedTime as typed() compares it, in the same order
    usable: bool  # every row has a readable time and an Active flag that is absent or a boolean
    has_inactive: bool  # some row is Active false: a list entity hides it unless the query names Active


def build(kind: EntityKind, rows: Iterable[dict[str, Any]], tz_name: str, version: int) -> KeysetIndex:
    """The entity's rows in keyset order (stable: rows that tie keep their stored order, as in query.evaluate)."""
    keyed: list[tuple[tuple[Any, Any, Any], dict[str, Any]]] = []
    usable, has_inactive = True, False
    for row in rows:
        stamp = typed(TIME_PATH, lookup(row, TIME_PATH), tz_name)
        active = lookup(row, "Active")
        if stamp[0] != _TIME_RANK or not (active is MISSING or isinstance(active, bool)):
            usable = False
        has_inactive = has_inactive or row.get("Active") is False
        keyed.append(((stamp, typed("Id", lookup(row, "Id"), tz_name), default_order(kind, row)), row))
    keyed.sort(key=lambda item: item[0])
    return KeysetIndex(version, len(keyed), [row for _, row in keyed],
                       [key[0][1] if key[0][0] == _TIME_RANK else 0.0 for key, _ in keyed], usable, has_inactive)


def _admits_every_flag(condition: Condition) -> bool:
    """Whether `Active IN (...)` admits both true and false (as query._compare reads its literals)."""
    admitted = set()
    for value in condition.values:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if isinstance(value, bool):
            admitted.add(value)
    return condition.op == "IN" and admitted == {True, False}


def _time_range(conditions: list[Condition], stamps: list[float], tz_name: str) -> tuple[int, int] | None:
    """[low, high) of the rows every time condition admits, or None when a literal is not a readable time."""
    low, high = 0, len(stamps)
    for condition in conditions:
        try:
            moment = instant(str(condition.values[0]), tz_name).timestamp()
        except ValueError:
            return None  # query.evaluate admits no row then; leave such a query to it
        if condition.op in ("=", ">="):
            low = max(low, bisect_left(stamps, moment))
        if condition.op == ">":
            low = max(low, bisect_right(stamps, moment))
        if condition.op in ("=", "<="):
            high = min(high, bisect_right(stamps, moment))
        if condition.op == "<":
            high = min(high, bisect_left(stamps, moment))
    return low, max(low, high)


def answer(query: Query, kind: EntityKind, index_of: Callable[[], KeysetIndex],
           tz_name: str) -> dict[str, Any] | None:
    """The `QueryResponse` query.evaluate would give for a validated query, or None when the entity's index
    (`index_of()`, built only for a query of the keyset's shape) cannot tell."""
    if not query.count and tuple((path.lower(), desc) for path, desc in query.order_by) != KEYSET_ORDER:
        return None
    times, names_active = [], False
    for condition in query.conditions:
        field = condition.field.lower()
        if field == TIME_PATH.lower() and condition.op in _TIME_OPS:
            times.append(condition)
        elif field == "active" and _admits_every_flag(condition):
            names_active = True
        else:
            return None
    index = index_of()
    if not index.usable:
        return None
    if kind.is_list and not names_active and index.has_inactive:
        return None  # the inactive rows it would hide are spread through the order
    span = _time_range(times, index.stamps, tz_name)
    if span is None:
        return None
    low, high = span
    if query.count:
        return {"totalCount": high - low}
    start = query.start_position or 1
    first = low + start - 1
    page = index.rows[first:min(high, first + (query.max_results or DEFAULT_MAX_RESULTS))] if first < high else []
    if not page:
        return {}
    return {kind.name: page, "startPosition": start, "maxResults": len(page)}
