"""Keyset paging over (Metadata.LastUpdatedTime, Id): correct while records change during paging.

Offset paging over a changing set skips rows (an update moves a row to the end and shifts the rest
back). Instead every page asks again from the last timestamp seen and drops the ids already taken
at exactly that timestamp, so nothing is skipped at a boundary and nothing is emitted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from plugins.quickbooks.fields import parse_ts
from shared.core.incremental import Boundary, split

EPOCH = "1970-01-01T00:00:00+00:00"
PAGE_SIZE = 1000
BEFORE = "before"  # in a cursor: the exclusive end of its chain's range of LastUpdatedTime


def start_cursor(watermark: dict[str, Any] | None) -> dict[str, Any]:
    """A cursor from a stored watermark, or the beginning of time."""
    if watermark and watermark.get("ts"):
        return {"ts": watermark["ts"], "seen": list(watermark.get("seen", []))}
    return {"ts": EPOCH, "seen": []}


def query_for(entity: str, cursor: dict[str, Any], *, has_active_flag: bool, page_size: int = PAGE_SIZE) -> str:
    """The QuickBooks query for the page that starts at `cursor`."""
    seen = cursor.get("seen", [])
    # Usually start at 1 and drop the seen ids; only when a whole page shares one timestamp must the
    # position move past them, or the same page would come back forever.
    start = len(seen) + 1 if len(seen) >= page_size else 1
    where = [f"Metadata.LastUpdatedTime >= '{cursor['ts']}'"]
    if cursor.get(BEFORE):
        # One chain of a split read (partition.py): its range ends where the next chain's begins.
        where.append(f"Metadata.LastUpdatedTime < '{cursor[BEFORE]}'")
    if has_active_flag:
        where.append("Active IN (true, false)")
    return (
        f"SELECT * FROM {entity} WHERE {' AND '.join(where)} "
        f"ORDERBY Metadata.LastUpdatedTime, Id STARTPOSITION {start} MAXRESULTS {page_size}"
    )


def record_id_of(record: dict[str, Any]) -> str:
    return str(record.get("Id"))


def updated_of(record: dict[str, Any]) -> dt.datetime | None:
    """MetaData.LastUpdatedTime, or None when the record lacks a readable one (loading says which)."""
    meta = record.get("MetaData")
    try:
        return parse_ts(meta.get("LastUpdatedTime")) if isinstance(meta, dict) else None
    except (TypeError, ValueError, AttributeError):
        return None


def advance(
    cursor: dict[str, Any], records: list[dict[str, Any]], *, page_size: int = PAGE_SIZE,
    record_id: Callable[[dict[str, Any]], str] = record_id_of,
) -> tuple[list[dict[str, Any]], dict[str, Any], bool, int]:
    """(new records, watermark after them, whether this was the last page, duplicates dropped).

    record_id names a record within its entity (ExchangeRate has no Id: currencies and date name it).
    """
    seen = cursor.get("seen", [])
    boundary = Boundary(parse_ts(cursor["ts"]), frozenset(seen))
    # A record without a readable time is passed on: loading quarantines it with its reason and the page loads.
    page = split(records, boundary, value_of=updated_of, id_of=record_id)
    done = len(records) < page_size
    if page.after is None:
        return page.fresh, {"ts": cursor["ts"], "seen": sorted(set(seen))}, done, page.dropped
    watermark = {"ts": page.newest["MetaData"]["LastUpdatedTime"], "seen": sorted(page.after.seen)}
    return page.fresh, watermark, done, page.dropped
