"""Planning a monday run in two phases: first the account-wide streams (the directory, boards with their
groups and columns, updates); then, from the boards that phase loaded, one item stream per board.

The item streams depend on the boards stream only: a failed directory or updates stream leaves them planned,
a failed boards stream leaves none, and either way the run's notes say what was not synced and why.

Each board (main or subitems) is its own stream "items:<board id>", so one cursor chain, one watermark and
one failure belong to one board. An incremental run skips a board whose updated_at has not moved since its
last complete chain (each board stream costs calls against a daily cap of 1,000 on the Standard plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.base import Plan, StreamPlan
from plugins.monday import items, lists
from plugins.monday.boards import BoardInfo, status_context
from plugins.monday.settings import MondaySettings
from plugins.monday.storage import MondayStore

ITEMS_PREFIX = "items:"
ITEM_BOARD_TYPES = (None, "board", "sub_items_board")


def account_phase(settings: MondaySettings, mode: str, watermarks: dict[str, dict[str, Any]],
                  store: MondayStore) -> Plan:
    since = (watermarks.get("updates") or {}).get("since") if mode == "incremental" else None
    notes = []
    used = store.calls_today(settings.account_key)
    allowance = int(settings.limits.daily_calls * settings.daily_share)
    if used >= allowance:
        notes.append(f"the syncs' share of today's monday call cap is used up ({used:,} of {allowance:,}); "
                     "the run waits until 00:00 UTC")
    return Plan(streams=[
        StreamPlan("directory", lists.directory_start(), sweep=True),
        StreamPlan("boards", lists.boards_start(settings.boards), sweep=True),
        StreamPlan("updates", lists.updates_start(since), sweep=since is None),
    ], notes=notes, next_phase=True)


def _selected(settings: MondaySettings, boards: dict[str, BoardInfo]) -> list[str]:
    """Board ids to read items from: the selection (or every item board) and their subitems boards."""
    if settings.boards is None:
        return sorted(b.board_id for b in boards.values() if b.board_type in ITEM_BOARD_TYPES)
    chosen = list(settings.boards)
    for board_id in settings.boards:
        sub = boards[board_id].subitems_board_id if board_id in boards else None
        if sub:
            chosen.append(sub)
    return sorted(set(chosen))


def _columns(settings: MondaySettings, board_id: str, status: dict[str, Any] | None) -> list[str] | None:
    chosen = settings.columns_for(board_id)
    if chosen is None:
        return None
    # Whether an item is done is read from its main status column, chosen or not.
    extra = [status["column"]] if status and status["column"] not in chosen else []
    return [*chosen, *extra]


NOT_REFRESHED = {"directory": "workspaces, users, teams and tags", "updates": "updates"}
REASON_CHARS = 300
NOTE_CHARS = 1800  # a run note keeps 2,000 characters; longer board lists are split over several notes


def _skipped_boards(board_ids: list[str], reason: str) -> list[str]:
    """Notes naming every board whose items were not synced, split so that none is cut off."""
    if not board_ids:
        return [f"no items synced: the boards stream failed ({reason}) and no board was loaded before"]
    notes, current = [], f"items of {len(board_ids)} boards not synced: the boards stream failed ({reason}); boards "
    for board_id in board_ids:
        if len(current) + len(board_id) + 2 > NOTE_CHARS:
            notes.append(current.rstrip(", "))
            current = "(continued) boards "
        current += f"{board_id}, "
    notes.append(current.rstrip(", "))
    return notes


def _failure_notes(failures: dict[str, str]) -> list[str]:
    """What a failed directory or updates stream left unsynced (nothing else depends on them)."""
    return [f"{NOT_REFRESHED[stream]} not synced: the {stream} stream failed ({failures[stream][:REASON_CHARS]})"
            for stream in NOT_REFRESHED if stream in failures]


def items_phase(settings: MondaySettings, mode: str, watermarks: dict[str, dict[str, Any]],
                failed: Mapping[str, str], store: MondayStore) -> Plan:
    """One item stream per board; `failed` is how the account phase of this run ended ({stream: error})."""
    boards = store.known_boards(settings.connection_id)
    failures = dict(failed)
    plans: list[StreamPlan] = []
    skipped = 0
    for board_id in _selected(settings, boards):
        board = boards.get(board_id)
        mark = watermarks.get(ITEMS_PREFIX + board_id) or {}
        if board is not None and (board.deleted or board.state == "deleted"):
            if mark and not mark.get("board_deleted"):
                # Read before, deleted since: its loaded items become tombstones.
                cursor = items.deleted_board_cursor(board_id, board.updated_at)
                plans.append(StreamPlan(ITEMS_PREFIX + board_id, cursor))
            continue
        updated = board.updated_at if board else None
        unchanged = bool(mark) and updated is not None and mark.get("board_updated_at") == updated
        if mode == "incremental" and settings.skip_unchanged_boards and unchanged:
            skipped += 1
            continue
        incremental = mode == "incremental" and bool(mark.get("since"))
        status = status_context(board, settings.status_columns.get(board_id), settings.done_labels)
        cursor = items.start_cursor(board_id, since=mark.get("since") if incremental else None,
                                    logs_from=mark.get("logs_from") if incremental else None, status=status,
                                    columns=_columns(settings, board_id, status), board_updated_at=updated)
        # A complete read (no watermark) is the place to find deletes nobody reported: sweep this board.
        plans.append(StreamPlan(ITEMS_PREFIX + board_id, cursor, sweep=not incremental))
    notes = [f"{skipped} unchanged boards skipped"] if skipped else []
    if "boards" in failures:
        # Planned from the boards as last loaded, but which boards, subitems boards and status columns there are
        # now is unknown: none is read, and the run names each one this plan would have read.
        unread = [plan.stream.removeprefix(ITEMS_PREFIX) for plan in plans]
        return Plan(streams=[], notes=[*_skipped_boards(unread, failures["boards"][:REASON_CHARS]),
                                       *_failure_notes(failures)])
    return Plan(streams=plans, notes=[*_failure_notes(failures), *notes])
