"""The account-wide streams: the directory (workspaces, users, teams, tags in one call), boards (every state,
with their groups and columns) and updates. Each is read whole by page number, except updates, which an
incremental run reads back only to its watermark.

Cursors: directory {page, workspaces, users}; boards {page, ids, extra, subitems}; updates {page, since,
max_created} (a complete read's first one also {split}), and after a split {range: {hi, lo, skip, page}} for each
range chain and {finish: watermark} for the stream's own (update_chains.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugins.base import Page
from plugins.monday import update_chains
from plugins.monday.client import Answer, MondayClient
from plugins.monday.tables import subitems_board_of
from plugins.monday.timestamps import iso, latest, parse_ts
from shared.core.http import ApiError, Throttled


def _list(answer: Answer, field: str) -> list[dict[str, Any]]:
    value = answer.data.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ApiError(f"monday answered {field} with something other than a list of objects", transient=True)
    return value


def _envelopes(kind: str, records: list[dict[str, Any]], answer: Answer) -> list[dict[str, Any]]:
    return [{"kind": kind, "id": r.get("id"), "observed_at": answer.observed_at, "record": r} for r in records]


# -- directory ---------------------------------------------------------------------------------------------------
def directory_start() -> dict[str, Any]:
    return {"page": 1, "workspaces": True, "users": True}


async def fetch_directory(client: MondayClient, cursor: dict[str, Any]) -> Page:
    settings = client.settings
    assert settings is not None
    limit, page = settings.list_page_size, int(cursor["page"])
    answer = await client.query("Directory", {"limit": limit, "page": page, "workspaces": cursor["workspaces"],
                                              "users": cursor["users"], "first": page == 1}, rows=3 * limit)
    workspaces = _list(answer, "workspaces") if cursor["workspaces"] else []
    users = _list(answer, "users") if cursor["users"] else []
    records = _envelopes("workspace", workspaces, answer) + _envelopes("user", users, answer)
    more = {"workspaces": len(workspaces) >= limit, "users": len(users) >= limit}
    if page == 1:
        records += _envelopes("team", _list(answer, "teams"), answer)
        records += _envelopes("tag", _list(answer, "tags"), answer)
    if not any(more.values()):
        return Page(records=records, next_cursor=None)
    return Page(records=records, next_cursor={"page": page + 1, **more})


# -- boards ------------------------------------------------------------------------------------------------------
def boards_start(selected: tuple[str, ...] | None) -> dict[str, Any]:
    return {"page": 1, "ids": None if selected is None else list(selected), "extra": None, "subitems": []}


async def fetch_boards(client: MondayClient, cursor: dict[str, Any]) -> Page:
    """Every board in every state; with a selection, the selected boards and then their subitems boards."""
    settings = client.settings
    assert settings is not None
    limit, page = settings.board_page_size, int(cursor["page"])
    ids = cursor["extra"] if cursor["extra"] is not None else cursor["ids"]
    answer = await client.query("Boards", {"ids": ids, "limit": limit, "page": page}, rows=limit)
    boards = _list(answer, "boards")
    records = _envelopes("board", boards, answer)
    # A selection names main boards; their subitems live on boards of their own, read after them.
    found = (subitems_board_of(b) for b in boards) if cursor["ids"] is not None and cursor["extra"] is None else ()
    subitems = sorted({*cursor["subitems"], *(s for s in found if s)})
    if len(boards) >= limit:
        return Page(records=records, next_cursor={**cursor, "page": page + 1, "subitems": subitems})
    if cursor["ids"] is not None and cursor["extra"] is None:
        extra = [s for s in subitems if s not in cursor["ids"]]
        if extra:
            return Page(records=records, next_cursor={**cursor, "page": 1, "extra": extra, "subitems": []})
    return Page(records=records, next_cursor=None)


# -- updates -----------------------------------------------------------------------------------------------------
def updates_start(since: str | None, chains: int = 1) -> dict[str, Any]:
    """From `since` (an incremental run), else a complete read, split into up to `chains` chains after its first
    page (update_chains.py)."""
    cursor = {"page": 1, "since": since, "max_created": None}
    return update_chains.start_cursor(cursor, chains) if since is None else cursor


async def fetch_updates(client: MondayClient, cursor: dict[str, Any]) -> Page:
    """Newest first; an incremental run stops at the page that reaches back past its watermark. A complete read
    whose first page is full goes on through several chains of created ranges (update_chains.py)."""
    settings = client.settings
    assert settings is not None
    if update_chains.FINISH in cursor:
        # Every range chain has ended: only now may an incremental run start from this read.
        return Page(records=[], next_cursor=None, watermark={"since": cursor[update_chains.FINISH]})
    if update_chains.RANGE in cursor:
        return await _fetch_range(client, cursor)
    limit, page = settings.list_page_size, int(cursor["page"])
    floor = None
    if cursor["since"]:
        floor = parse_ts(cursor["since"]) - dt.timedelta(seconds=settings.overlap_seconds)  # type: ignore[operator]
    answer = await client.query("Updates", {"limit": limit, "page": page,
                                            "from": iso(floor) if floor else None}, rows=limit)
    updates = _list(answer, "updates")
    cursor = dict(cursor)
    oldest = None
    for update in updates:
        created = parse_ts(update.get("created_at"))
        cursor["max_created"] = latest(cursor["max_created"], created)
        oldest = created if oldest is None or (created is not None and created < oldest) else oldest
    if floor is not None:
        updates = [u for u in updates if (parse_ts(u.get("updated_at")) or floor) >= floor
                   or (parse_ts(u.get("created_at")) or floor) >= floor]
    records = _envelopes("update", updates, answer)
    reached_floor = floor is not None and oldest is not None and oldest < floor
    if len(_list(answer, "updates")) < limit or reached_floor:
        return Page(records=records, next_cursor=None,
                    watermark={"since": cursor["max_created"] or cursor["since"]})
    chains = int(cursor.pop(update_chains.SPLIT, 0) or 0)
    if chains >= 2 and page == 1 and floor is None and oldest is not None:
        # A complete read's first page: the rest goes through range chains below this page's oldest.
        split = await _split_below(client, updates, oldest, cursor["max_created"], chains)
        if split:
            return Page(records=records, next_cursor={update_chains.FINISH: cursor["max_created"]}, chains=split)
    return Page(records=records, next_cursor={**cursor, "page": page + 1})


async def _split_below(client: MondayClient, first: list[dict[str, Any]], oldest: dt.datetime, newest: str | None,
                       chains: int) -> list[dict[str, Any]]:
    """The range chains below the first page (update_chains.split), probing positions at or below its newest."""
    assert client.settings is not None

    async def created_at(position: int) -> dt.datetime | None:
        answer = await client.query("Updates", {"limit": 1, "page": position, "to": newest}, rows=1)
        found = _list(answer, "updates")
        return update_chains.created_of(found[0]) if found else None

    skip = [str(u.get("id")) for u in first if update_chains.created_of(u) == oldest]
    return await update_chains.split(created_at, page_size=client.settings.list_page_size, taken=len(first),
                                     top=oldest, skip=skip, max_chains=chains)


async def _fetch_range(client: MondayClient, cursor: dict[str, Any]) -> Page:
    """Up to update_chains.STEPS_PER_PAGE keyset steps of a range chain, one landed page (update_chains.range_step).

    Several steps a page because a chain's pages are fetched round by round among every stream's activities, and
    on a busy host each round waits far longer for a thread than its calls take: fewer, longer rounds. A throttle
    after the first step ends the page with what it read (the next fetch meets the throttle and waits it out)."""
    assert client.settings is not None
    limit = client.settings.list_page_size
    records: list[dict[str, Any]] = []
    following: dict[str, Any] | None = cursor
    for step in range(update_chains.STEPS_PER_PAGE):
        span = following[update_chains.RANGE]
        try:
            answer = await client.query("Updates", {"limit": limit, "page": int(span["page"]), "from": span["lo"],
                                                    "to": span["hi"]}, rows=limit)
        except Throttled:
            if step == 0:
                raise
            break
        fresh, following = update_chains.range_step(following, _list(answer, "updates"), limit)
        records += _envelopes("update", fresh, answer)
        if following is None:
            break
    return Page(records=records, next_cursor=following)
