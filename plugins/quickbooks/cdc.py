"""Change data capture: one call returns what changed in many entities since an instant, deletes included.

CDC has no paging and stops at 1,000 objects: when a response is full, the window moves up to the
newest change it returned and asks again (ids already taken at that instant are dropped). It reaches
back at most 30 days; an older watermark falls back to reading by query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugins.quickbooks.fields import parse_ts

MAX_OBJECTS = 1000
LOOKBACK = dt.timedelta(days=30)
# Margin so a watermark never sits at the edge of the 30-day window or ahead of late commits.
SAFETY = dt.timedelta(minutes=5)


def start_cursor(since: str, entities: list[str]) -> dict[str, Any]:
    return {"since": since, "seen": {}, "entities": entities}


def is_fresh(since: str | None, server_now: dt.datetime) -> bool:
    """Whether CDC can still answer from `since` (with a day to spare for a run that takes long)."""
    if not since:
        return False
    return parse_ts(since) > server_now - LOOKBACK + dt.timedelta(days=1)


def changed_objects(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(entity, record) pairs of a CDCResponse, in response order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for response in doc.get("CDCResponse") or []:
        for query_response in response.get("QueryResponse") or []:
            for entity, records in query_response.items():
                if isinstance(records, list):
                    out.extend((entity, record) for record in records)
    return out


def advance(cursor: dict[str, Any], objects: list[tuple[str, dict[str, Any]]],
            server_time: str | None) -> tuple[list[dict[str, Any]], dict[str, Any], bool, int]:
    """(new envelopes, watermark after them, whether the window is exhausted, duplicates dropped)."""
    since = parse_ts(cursor["since"])
    seen: dict[str, list[str]] = cursor.get("seen") or {}
    fresh: list[dict[str, Any]] = []
    dropped = 0
    newest: dt.datetime | None = None
    newest_raw = cursor["since"]
    for entity, record in objects:
        updated = parse_ts((record.get("MetaData") or {}).get("LastUpdatedTime"))
        if updated is None:
            raise ValueError(f"CDC {entity} record {record.get('Id')!r} has no MetaData.LastUpdatedTime")
        if updated < since or (updated == since and str(record.get("Id")) in seen.get(entity, [])):
            dropped += 1
            continue
        fresh.append({"entity": entity, "record": record})
        if newest is None or updated > newest:
            newest, newest_raw = updated, record["MetaData"]["LastUpdatedTime"]
    done = len(objects) < MAX_OBJECTS
    if newest is None:
        # Nothing new: move the window up to the server's clock (less a margin) so it never grows stale.
        moved = since
        if server_time:
            moved = max(since, parse_ts(server_time) - SAFETY)
        return fresh, {**cursor, "since": moved.isoformat(), "seen": seen if moved == since else {}}, done, dropped
    at_newest: dict[str, list[str]] = {}
    for envelope in fresh:
        meta = envelope["record"]["MetaData"]
        if parse_ts(meta["LastUpdatedTime"]) == newest:
            at_newest.setdefault(envelope["entity"], []).append(str(envelope["record"]["Id"]))
    if newest == since:
        for entity, ids in seen.items():
            at_newest.setdefault(entity, []).extend(ids)
    watermark = {**cursor, "since": newest_raw, "seen": {k: sorted(set(v)) for k, v in at_newest.items()}}
    return fresh, watermark, done, dropped
