"""Change data capture: one call returns what changed in many entities since an instant, deletes included.

CDC has no paging and stops at 1,000 objects across the entities asked for; Intuit does not say WHICH
objects a full response holds (not oldest first, not per entity). So a full response is never used to
move the window. Instead (each step one call, carried in the cursor):

1. Ask for every entity at once. Below the cap the answer is complete: done, the usual case.
2. At the cap, ask again for each entity alone, from the same instant. An entity whose own answer is
   below the cap is complete up to that answer (its deletes included).
3. An entity that is itself at the cap cannot be completed by CDC. It is read completely (keyset query
   with a delete sweep) in the run's next planning phase (see plugin.py), because a keyset query never
   shows hard deletes: only a read of every live row can tell which ones are gone. That read starts after
   its CDC call, so it covers every change made before that call.

Records of every answer are loaded, full or not: upserts are version-guarded, so loading a change twice
(or an older one after a newer one) does no harm. The window then moves to the EARLIEST instant up to
which each entity is known to be complete, so nothing is skipped; what lies between that and an entity's
own bound is read again next time and loads as unchanged. While an entity waits for its complete read the
stored window stays where it was and the new one waits under "pending" until the run succeeds, so a run
that fails half-way repeats the whole window. CDC reaches back at most 30 days; an older watermark falls
back to a complete read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from plugins.quickbooks.fields import parse_ts
from plugins.quickbooks.paging import updated_of
from shared.core.incremental import Boundary, split

MAX_OBJECTS = 1000
LOOKBACK = dt.timedelta(days=30)
# Margin so a watermark never sits at the edge of the 30-day window or ahead of late commits.
SAFETY = dt.timedelta(minutes=5)


def start_cursor(since: str, entities: list[str], seen: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"since": since, "seen": seen or {}, "entities": entities}


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


def entities_to_ask(cursor: dict[str, Any]) -> list[str]:
    """The entities of the next call: all of them, or the next one to ask alone after a full answer."""
    todo = cursor.get("todo")
    return [todo[0]] if todo else list(cursor["entities"])


@dataclass
class Step:
    """One CDC call's outcome: envelopes to land, where the stream goes on (None: done), what to store."""

    records: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None
    watermark: dict[str, Any]
    dropped: int


def _window(since_raw: str, seen: dict[str, list[str]], objects: list[tuple[str, dict[str, Any]]],
            server_time: str | None) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """(new envelopes, the watermark after a COMPLETE answer, duplicates dropped).

    The watermark is the newest change seen with the ids taken at that instant; with no change, the
    server's clock less a margin, so the window never grows stale.
    """
    since = parse_ts(since_raw)
    if since is None:
        raise ValueError("a CDC window needs the instant it starts from")
    boundary = Boundary(since, frozenset((entity, rid) for entity, ids in seen.items() for rid in ids))
    # An envelope whose change time cannot be read is kept without moving the window: loading quarantines it.
    window = split(({"entity": entity, "record": record} for entity, record in objects), boundary,
                   value_of=lambda envelope: updated_of(envelope["record"]),
                   id_of=lambda envelope: (envelope["entity"], str(envelope["record"].get("Id"))))
    if window.after is None or window.newest is None:
        moved = since
        if server_time:
            moved = max(since, parse_ts(server_time) - SAFETY)
        return window.fresh, {"since": moved.isoformat(), "seen": seen if moved == since else {}}, window.dropped
    at_newest: dict[str, list[str]] = {}
    if window.after.value == since:
        for entity in seen:  # the ids taken at that instant before stay taken
            at_newest[entity] = []
    for entity, rid in sorted(window.after.seen):
        at_newest.setdefault(entity, []).append(rid)
    newest_raw = window.newest["record"]["MetaData"]["LastUpdatedTime"]
    return window.fresh, {"since": newest_raw, "seen": at_newest}, window.dropped


def _earliest(bounds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The earliest bound, with the ids every entity bounded exactly there has already taken."""
    first = min(parse_ts(b["since"]) for b in bounds.values())
    seen: dict[str, list[str]] = {}
    raw = next(b["since"] for b in bounds.values() if parse_ts(b["since"]) == first)
    for entity, bound in bounds.items():
        if parse_ts(bound["since"]) == first:
            # Only this entity's ids: another entity's ids at that instant were read by its own call.
            ids = bound["seen"].get(entity, [])
            if ids:
                seen[entity] = ids
    return {"since": raw, "seen": seen}


def step(cursor: dict[str, Any], objects: list[tuple[str, dict[str, Any]]], server_time: str | None) -> Step:
    """Advance the CDC stream by one answer (to the call entities_to_ask(cursor) described)."""
    at_start = {"since": cursor["since"], "seen": cursor.get("seen") or {}}
    fresh, bound, dropped = _window(cursor["since"], at_start["seen"], objects, server_time)
    full = len(objects) >= MAX_OBJECTS
    todo = cursor.get("todo")
    if todo is None:
        if not full:
            return Step(fresh, None, bound, dropped)
        # Which 1,000 came back is unknown: ask each entity alone from the same instant.
        following = {**cursor, "todo": list(cursor["entities"]), "bounds": {}, "at_cap": []}
        return Step(fresh, following, at_start, dropped)
    entity, rest = todo[0], todo[1:]
    bounds = dict(cursor.get("bounds") or {})
    at_cap = list(cursor.get("at_cap") or [])
    if full:
        at_cap.append(entity)
        # Its complete read starts after this call, so it covers every change up to here (less the margin).
        moved = parse_ts(cursor["since"])
        if server_time:
            moved = max(moved, parse_ts(server_time) - SAFETY)
        bounds[entity] = {"since": moved.isoformat(), "seen": {}}
    else:
        bounds[entity] = bound
    if rest:
        return Step(fresh, {**cursor, "todo": rest, "bounds": bounds, "at_cap": at_cap}, at_start, dropped)
    after = _earliest(bounds)
    cap = {"entities_asked_alone": len(cursor["entities"]), "at_cap": at_cap}
    if at_cap:
        # Not complete until the complete reads succeed: keep the old window, the new one waits.
        return Step(fresh, None, {**at_start, "pending": after, "complete_reads": at_cap, "cap": cap}, dropped)
    return Step(fresh, None, {**after, "cap": cap}, dropped)


def cap_note(watermark: dict[str, Any]) -> str | None:
    """What the run says about a full CDC answer, from the watermark its CDC stream stored."""
    cap = watermark.get("cap")
    if not cap:
        return None
    asked = cap.get("entities_asked_alone", 0)
    head = (f"change data capture answered with its {MAX_OBJECTS:,}-object cap, which does not say what it left "
            f"out: asked again for each of {asked} entities alone")
    if not cap.get("at_cap"):
        return head + "; every entity's own answer was below the cap, so complete"
    names = ", ".join(cap["at_cap"])
    return head + f"; at the cap on its own too, so read completely with a delete sweep: {names}"
