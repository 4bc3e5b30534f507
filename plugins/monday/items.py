"""One board's items: a cursor chain through items_page / next_items_page, then the board's activity log,
then a refresh (items(ids:)) of the items the log says were archived, deleted, restored or moved.

items_page only answers active items; archived, deleted and moved ones are found through the log and read by
id (items(ids:) answers every state). An expired cursor restarts this board's chain from its first page; what
was read twice is dropped by the loader's version guard (same updated_at: unchanged). The board's watermark
is written with the last page only, so a chain that did not finish is read again next time. A board deleted
since it was read gets one step, "board_deleted", that tombstones the items loaded from it.

Cursor (JSON, small: it travels through the orchestration):
  board, since (items filter, None for a complete read), logs_from, step (first|next|logs|refresh),
  monday (the API cursor), log_page, logs_started, logs_done, refresh, max_updated, max_log,
  restarts, status {column, done}, columns, board_updated_at. `refresh` holds item ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from plugins.base import Page
from plugins.monday.client import MondayClient
from plugins.monday.errors import CURSOR_CODE
from plugins.monday.tables import log_data
from plugins.monday.timestamps import iso, latest, parse_log_stamp, parse_ts
from shared.core.http import ApiError

REFRESH_BATCH = 100  # items(ids:) takes at most 100 ids
COST_PER_LOG = 10  # what a log entry adds to the first page's expected cost
# Events after which an item may have left items_page (archived, deleted, moved away) or come back.
REFRESH_EVENTS = ("archive", "delete", "restore", "move_pulse")
# In the cursor of a backfill's chain (backfill.py): it ends without a watermark.
BACKFILL = "backfill"


def start_cursor(board_id: str, *, since: str | None, logs_from: str | None, status: dict[str, Any] | None,
                 columns: list[str] | None, board_updated_at: str | None) -> dict[str, Any]:
    return {"board": board_id, "since": since, "logs_from": logs_from, "step": "first", "monday": None,
            "log_page": 1, "logs_started": False, "logs_done": False, "refresh": [], "max_updated": None,
            "max_log": None, "restarts": 0, "status": status, "columns": columns,
            "board_updated_at": board_updated_at}


def updated_rule(since: str, overlap_seconds: int) -> dict[str, Any]:
    """Items changed since `since` less the overlap (api-facts: the __last_updated__ rule).

    `since` is the newest updated_at the last chain read, and a chain reads everything within 60 minutes of
    the snapshot its first page fixed (or its cursor expires and it starts over): with an overlap of at least
    an hour (the default), the next run's filter reaches back before that snapshot, so nothing changed after
    it is missed. What is read twice comes back unchanged."""
    start = parse_ts(since) - dt.timedelta(seconds=overlap_seconds)  # type: ignore[operator]
    return {"rules": [{"column_id": "__last_updated__", "compare_value": ["EXACT", iso(start)],
                       "operator": "greater_than_or_equals", "compare_attribute": "UPDATED_AT"}]}


def _item_envelopes(cursor: dict[str, Any], items: list[Any], observed_at: str, *,
                    from_chain: bool = True) -> list[dict[str, Any]]:
    """Items as envelopes. Only the cursor chain's items move the watermark: every one of them was read within
    the cursor's 60 minutes after the chain's snapshot, which is what makes the overlap safe (see updated_rule);
    an item read by id later may carry any newer time."""
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(f"board {cursor['board']}: monday returned an item that is not an object", transient=True)
        out.append({"kind": "item", "id": item.get("id"), "status": cursor["status"], "observed_at": observed_at,
                    "record": item})
        # A bad time does not stop the page: the loader quarantines that record and says why.
        with contextlib.suppress(ValueError):
            if from_chain:
                cursor["max_updated"] = latest(cursor["max_updated"], parse_ts(item.get("updated_at")))
    return out


def _log_envelopes(cursor: dict[str, Any], logs: list[Any], observed_at: str) -> list[dict[str, Any]]:
    """The log page as envelopes; items whose state or board the events changed are queued for a refresh."""
    out = []
    queued = set(cursor["refresh"])
    for log in logs:
        if not isinstance(log, dict):
            raise ApiError(f"board {cursor['board']}: monday returned a log entry that is not an object",
                           transient=True)
        out.append({"kind": "activity_log", "id": log.get("id"), "board_id": cursor["board"],
                    "status": cursor["status"], "observed_at": observed_at, "record": log})
        try:
            moment = parse_log_stamp(log.get("created_at"))
        except ValueError:
            continue
        cursor["max_log"] = latest(cursor["max_log"], moment)
        event = str(log.get("event") or "")
        data = log_data(log)
        pulses = data.get("pulse_ids") if isinstance(data.get("pulse_ids"), list) else [data.get("pulse_id")]
        if any(word in event for word in REFRESH_EVENTS):
            for pulse in pulses:
                if pulse is not None and str(pulse) not in queued:
                    queued.add(str(pulse))
                    cursor["refresh"].append(str(pulse))
    return out


def _after_logs(cursor: dict[str, Any], logs: list[Any], limit: int) -> None:
    cursor["logs_started"] = True
    if len(logs) < limit:
        cursor["logs_done"] = True
    else:
        cursor["log_page"] += 1


def _next_step(cursor: dict[str, Any]) -> str | None:
    if cursor["monday"]:
        return "next"
    if cursor["refresh"]:
        return "refresh"
    if not cursor["logs_done"]:
        return "logs"
    return None


def watermark(cursor: dict[str, Any]) -> dict[str, Any]:
    """Where the next incremental run of this board starts."""
    return {"since": cursor["max_updated"] or cursor["since"], "logs_from": cursor["max_log"] or cursor["logs_from"],
            "board_updated_at": cursor["board_updated_at"]}


def _board_of(data: dict[str, Any], board_id: str) -> dict[str, Any]:
    boards = data.get("boards")
    if not isinstance(boards, list) or not boards or not isinstance(boards[0], dict):
        raise ApiError(f"board {board_id}: monday does not show this board to the token's user (it was deleted, or "
                       "the user is not a member): share it or remove it from the connection's boards",
                       code="BOARD_NOT_VISIBLE")
    return boards[0]


async def _first(client: MondayClient, cursor: dict[str, Any], logs_from: str | None) -> list[dict[str, Any]]:
    settings = client.settings
    assert settings is not None
    with_logs = not cursor["logs_started"]
    query = updated_rule(cursor["since"], settings.overlap_seconds) if cursor["since"] else None
    answer = await client.query("ItemsFirstPage", {
        "board": [cursor["board"]], "limit": settings.item_page_size, "query": query, "columns": cursor["columns"],
        "logLimit": settings.log_page_size, "logsFrom": logs_from, "withLogs": with_logs,
    }, rows=settings.item_page_size, extra_cost=COST_PER_LOG * settings.log_page_size if with_logs else 0)
    board = _board_of(answer.data, cursor["board"])
    page = board.get("items_page") or {}
    records = _item_envelopes(cursor, page.get("items") or [], answer.observed_at)
    cursor["monday"] = page.get("cursor")
    if with_logs:
        logs = board.get("activity_logs") or []
        records += _log_envelopes(cursor, logs, answer.observed_at)
        _after_logs(cursor, logs, settings.log_page_size)
    return records


async def _next(client: MondayClient, cursor: dict[str, Any]) -> list[dict[str, Any]]:
    settings = client.settings
    assert settings is not None
    try:
        answer = await client.query("ItemsNextPage", {
            "cursor": cursor["monday"], "limit": settings.item_page_size, "columns": cursor["columns"],
        }, rows=settings.item_page_size)
    except ApiError as error:
        if error.code != CURSOR_CODE:
            raise
        if cursor["restarts"] >= settings.max_restarts:
            raise ApiError(f"board {cursor['board']}: the items cursor expired {cursor['restarts'] + 1} times "
                           f"(monday keeps one for 60 minutes); the board could not be read in time",
                           code=CURSOR_CODE) from error
        # Only this board starts over; the rows already loaded come back unchanged.
        cursor.update(step="first", monday=None, restarts=cursor["restarts"] + 1)
        return []
    page = answer.data.get("next_items_page") or {}
    cursor["monday"] = page.get("cursor")
    return _item_envelopes(cursor, page.get("items") or [], answer.observed_at)


async def _logs(client: MondayClient, cursor: dict[str, Any], logs_from: str | None) -> list[dict[str, Any]]:
    settings = client.settings
    assert settings is not None
    answer = await client.query("ActivityLogs", {
        "board": [cursor["board"]], "limit": settings.log_page_size, "page": cursor["log_page"], "from": logs_from,
    }, rows=settings.log_page_size)
    logs = _board_of(answer.data, cursor["board"]).get("activity_logs") or []
    records = _log_envelopes(cursor, logs, answer.observed_at)
    _after_logs(cursor, logs, settings.log_page_size)
    return records


async def _refresh(client: MondayClient, cursor: dict[str, Any]) -> list[dict[str, Any]]:
    batch, cursor["refresh"] = cursor["refresh"][:REFRESH_BATCH], cursor["refresh"][REFRESH_BATCH:]
    answer = await client.query("ItemsById", {"ids": batch, "limit": REFRESH_BATCH,
                                              "columns": cursor["columns"]}, rows=len(batch))
    items = [i for i in answer.data.get("items") or [] if isinstance(i, dict)]
    records = _item_envelopes(cursor, items, answer.observed_at, from_chain=False)
    found = {str(i.get("id")) for i in items}
    # The newest log entry read is no earlier than the event that removed the item.
    moment = cursor["max_log"] or answer.observed_at
    for item_id in batch:
        if item_id not in found:
            # monday no longer answers for it (deleted for good, or out of the user's sight): a tombstone.
            records.append({"kind": "item", "id": item_id, "tombstone": True, "observed_at": answer.observed_at,
                            "record": {"id": item_id, "state": "deleted", "updated_at": moment,
                                       "board": {"id": cursor["board"]}}})
    return records


def deleted_board_cursor(board_id: str, deleted_at: str | None) -> dict[str, Any]:
    return {"board": board_id, "step": "board_deleted", "deleted_at": deleted_at}


async def _board_deleted(client: MondayClient, cursor: dict[str, Any]) -> Page:
    """A deleted board's items can no longer be read: the ones loaded before become tombstones (no API call)."""
    assert client.settings is not None and client.store is not None
    loaded = await asyncio.to_thread(client.store.live_items, client.settings.connection_id, cursor["board"])
    gone = parse_ts(cursor.get("deleted_at")) or dt.datetime.now(dt.UTC)
    records = [{"kind": "item", "id": item_id, "tombstone": True, "observed_at": iso(gone),
                # No earlier than the item's own last change, or the loader would keep the live row.
                "record": {"id": item_id, "state": "deleted", "board": {"id": cursor["board"]},
                           "updated_at": iso(max(gone, updated + dt.timedelta(seconds=1)))}}
               for item_id, updated in loaded]
    return Page(records=records, next_cursor=None,
                watermark={"board_deleted": True, "board_updated_at": cursor.get("deleted_at")})


async def fetch(client: MondayClient, cursor: dict[str, Any]) -> Page:
    """One step of the board's chain."""
    settings = client.settings
    assert settings is not None
    if cursor.get("step") == "board_deleted":
        return await _board_deleted(client, cursor)
    cursor = {**cursor, "refresh": list(cursor["refresh"])}
    logs_from = None
    if cursor["logs_from"]:
        logs_from = iso(parse_ts(cursor["logs_from"]) - dt.timedelta(seconds=settings.log_overlap_seconds))  # type: ignore[operator]
    step = cursor["step"]
    if step == "first":
        records = await _first(client, cursor, logs_from)
    elif step == "next":
        records = await _next(client, cursor)
    elif step == "logs":
        records = await _logs(client, cursor, logs_from)
    elif step == "refresh":
        records = await _refresh(client, cursor)
    else:
        raise ValueError(f"unknown step {step!r} in a monday items cursor")
    if cursor["step"] == "first" and step == "next":
        return Page(records=records, next_cursor=cursor)  # restarted after an expired cursor
    following = _next_step(cursor)
    if following is None:
        # The board's watermark stays the incremental runs' own (backfill.py says why).
        return Page(records=records, next_cursor=None, watermark=None if cursor.get(BACKFILL) else watermark(cursor))
    cursor["step"] = following
    return Page(records=records, next_cursor=cursor)
