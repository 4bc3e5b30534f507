"""A backfill run: every board's items updated since a date, read again without a complete read.

One phase, one item stream per board the connection reads (as the last sync loaded them: a backfill re-reads data,
it does not discover boards; a board created since is read whole by the next incremental run). Each stream is the
incremental read's item chain with its `__last_updated__` filter set to 00:00 UTC of the date (items.updated_rule,
less the usual overlap), and:

- no activity log (and so no refresh of archived or deleted items by id): the log is how an incremental run finds
  state changes from its own `logs_from`, which the backfill leaves alone for it;
- no delete sweep: items_page answers active items only, so an item the backfill did not see is not gone;
- no account-wide streams (directory, boards, updates): they are read whole, or from their own watermark, by
  every incremental run;
- no watermark: its last page carries none (the loader then writes none). A board's watermark says from where the
  next incremental run filters, where its log resumes and which board version it last read completely; a backfill
  reads no log and may end on an older item than the stored watermark's (that one archived since), so storing
  its position could move the filter or the log back, or mark the board unchanged so that the next incremental
  run skips changes the backfill did not read.
Loading is a version-guarded upsert: an item read again loads as unchanged unless its stored copy differs.
"""

from __future__ import annotations

from typing import Any

from plugins.base import Plan, StreamPlan
from plugins.monday import items
from plugins.monday.boards import status_context
from plugins.monday.planning import ITEMS_PREFIX, _columns, _selected
from plugins.monday.settings import MondaySettings
from plugins.monday.storage import MondayStore
from plugins.monday.timestamps import iso
from shared.core.backfill import MODE, parse_since, since_instant

__all__ = ["FLAG", "MODE", "is_backfill", "plan"]

FLAG = items.BACKFILL  # in a backfill item cursor: this chain keeps no watermark (see above)


def plan(settings: MondaySettings, since: str | None, store: MondayStore) -> Plan:
    """One item stream per readable board, filtered to items updated since 00:00 UTC of `since`; no sweep."""
    try:
        day = parse_since(since)
    except ValueError as exc:
        return Plan(streams=[], refused=f"monday backfill: {exc}")
    boards = store.known_boards(settings.connection_id)
    if not boards and settings.boards is None:
        return Plan(streams=[], refused="monday backfill: no board of this connection has been loaded yet; a backfill "
                                        "re-reads the boards a sync loaded, so run a full sync first")
    plans = []
    for board_id in _selected(settings, boards):
        board = boards.get(board_id)
        if board is not None and (board.deleted or board.state == "deleted"):
            continue  # nothing to read; the next incremental run tombstones its items
        status = status_context(board, settings.status_columns.get(board_id), settings.done_labels)
        cursor = items.start_cursor(board_id, since=iso(since_instant(day)), logs_from=None, status=status,
                                    columns=_columns(settings, board_id, status),
                                    board_updated_at=board.updated_at if board else None)
        # The chain's log steps are marked done before it starts: it reads items only.
        cursor.update(logs_started=True, logs_done=True, **{FLAG: True})
        plans.append(StreamPlan(ITEMS_PREFIX + board_id, cursor))
    note = (f"backfill from {day.isoformat()}: re-read the items updated since then on {len(plans)} boards; the "
            "directory, boards, updates, activity logs and deletes are left to the next incremental run, and no "
            "watermark moved")
    return Plan(streams=plans, notes=[note])


def is_backfill(cursor: dict[str, Any]) -> bool:
    return bool(cursor.get(FLAG))
