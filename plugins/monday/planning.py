"""Planning a monday run: first the boards (with their groups and columns) and the directory; then, from the
boards that phase loaded, one item stream per board beside the account's updates; then a last phase that reads
nothing and notes what a failed updates stream left unsynced.

The updates are read beside the items, not before them, because nothing about them waits for anything else: the
`updates` query is account-wide (it names no board), monday_update has no foreign key, no metric trigger watches
it and no view or metric joins it to the items (migrations 0020, 0022; metrics.py reads monday_item alone), so
an update may load before its item. The updates were the account's longest chain (one cursor, newest first):
read in the first phase they held every item stream back until their last page; a complete read now splits them
into chains of created ranges after its first page (update_chains.py).

The item streams depend on the boards stream only: a failed directory leaves them planned, a failed boards
stream leaves none (the updates are still read), and either way the run's notes say what was not synced and
why. A failed updates stream is noted by the last phase, as nothing read in this run depends on it.

Each board (main or subitems) is its own stream "items:<board id>", so one cursor chain, one watermark and
one failure belong to one board. An incremental run skips a board whose updated_at has not moved since its
last complete chain (each board stream costs calls against a daily cap of 1,000 on the Standard plan).

A run a webhook asked for names what changed (`changed`, hints from plugins/monday/webhooks.py): "board:<id>" for
a board whose items changed, "updates" for updates. Such a run is one phase: only those boards' item streams (and
the updates stream if asked), planned from the boards as last loaded; the account-wide streams and every other
board keep their watermarks. A board's item stream is the same incremental read either way, its activity log
included, so creates, updates, archives, deletes and moves are found as in a scheduled run. When a hint cannot be
served that way (a hint this plugin does not know, a board not loaded yet or deleted) the run is the normal
incremental one, and its notes say why.
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


BOARD_HINT = "board:"
UPDATES_HINT = "updates"
NAMED_BOARDS = 20  # a note names at most this many boards (a run note keeps 2,000 characters)


def _cap_notes(settings: MondaySettings, store: MondayStore) -> list[str]:
    used = store.calls_today(settings.account_key)
    allowance = int(settings.limits.daily_calls * settings.daily_share)
    if used >= allowance:
        return [f"the syncs' share of today's monday call cap is used up ({used:,} of {allowance:,}); "
                "the run waits until 00:00 UTC"]
    return []


def _updates_plan(settings: MondaySettings, mode: str, watermarks: dict[str, dict[str, Any]]) -> StreamPlan:
    """From the watermark on an incremental run; else a complete read, through several chains when it is long
    (update_chains.py), and swept."""
    since = (watermarks.get("updates") or {}).get("since") if mode == "incremental" else None
    return StreamPlan("updates", lists.updates_start(since, settings.updates_chains), sweep=since is None)


def account_phase(settings: MondaySettings, store: MondayStore) -> Plan:
    """Phase 0: the boards the item streams are planned from, and the directory (complete reads, swept)."""
    return Plan(streams=[
        StreamPlan("directory", lists.directory_start(), sweep=True),
        StreamPlan("boards", lists.boards_start(settings.boards), sweep=True),
    ], notes=_cap_notes(settings, store), next_phase=True)


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
ACCOUNT_STREAMS = ("directory",)  # read in phase 0, nothing depends on it: noted by phase 1 when it failed
BESIDE_ITEMS = ("updates",)  # read in phase 1, nothing depends on it: noted by phase 2 when it failed
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


def _failure_notes(failures: Mapping[str, str], streams: tuple[str, ...]) -> list[str]:
    """What failed `streams` (the directory, the updates: nothing else depends on them) left unsynced."""
    return [f"{NOT_REFRESHED[stream]} not synced: the {stream} stream failed ({failures[stream][:REASON_CHARS]})"
            for stream in streams if stream in failures]


def _board_plan(settings: MondaySettings, mode: str, board_id: str, board: BoardInfo | None,
                mark: dict[str, Any]) -> StreamPlan:
    """One board's item stream: from its watermark on an incremental run, else a complete read."""
    incremental = mode == "incremental" and bool(mark.get("since"))
    status = status_context(board, settings.status_columns.get(board_id), settings.done_labels)
    cursor = items.start_cursor(board_id, since=mark.get("since") if incremental else None,
                                logs_from=mark.get("logs_from") if incremental else None, status=status,
                                columns=_columns(settings, board_id, status),
                                board_updated_at=board.updated_at if board else None)
    # A complete read (no watermark) is the place to find deletes nobody reported: sweep this board.
    return StreamPlan(ITEMS_PREFIX + board_id, cursor, sweep=not incremental)


def items_phase(settings: MondaySettings, mode: str, watermarks: dict[str, dict[str, Any]],
                failed: Mapping[str, str], store: MondayStore) -> Plan:
    """Phase 1: the updates and one item stream per board; `failed` is how phase 0 of this run ended ({stream:
    error}). The updates come first: theirs is the longest chain, and no failure of phase 0 holds them back."""
    updates = _updates_plan(settings, mode, watermarks)
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
        plans.append(_board_plan(settings, mode, board_id, board, mark))
    notes = [f"{skipped} unchanged boards skipped"] if skipped else []
    if "boards" in failures:
        # Planned from the boards as last loaded, but which boards, subitems boards and status columns there are
        # now is unknown: none is read, and the run names each one this plan would have read.
        unread = [plan.stream.removeprefix(ITEMS_PREFIX) for plan in plans]
        return Plan(streams=[updates], notes=[*_skipped_boards(unread, failures["boards"][:REASON_CHARS]),
                                              *_failure_notes(failures, ACCOUNT_STREAMS)], next_phase=True)
    return Plan(streams=[updates, *plans], notes=[*_failure_notes(failures, ACCOUNT_STREAMS), *notes],
                next_phase=True)


def closing_phase(failed: Mapping[str, str]) -> Plan:
    """Phase 2: nothing to read; what a failed updates stream of phase 1 left unsynced (`failed`: every failed
    stream of this run, phase 0's already noted by phase 1)."""
    return Plan(streams=[], notes=_failure_notes(failed, BESIDE_ITEMS))


def focus(settings: MondaySettings, watermarks: dict[str, dict[str, Any]], changed: list[str],
          store: MondayStore) -> tuple[Plan | None, str]:
    """(the one-phase incremental run over the hinted boards (and updates), "") when every hint can be served
    from the boards as last loaded; else (None, why the normal incremental run is needed instead)."""
    board_ids: list[str] = []
    with_updates = False
    for hint in changed:
        if hint == UPDATES_HINT:
            with_updates = True
        elif hint.startswith(BOARD_HINT) and hint.removeprefix(BOARD_HINT).isdigit():
            board_ids.append(hint.removeprefix(BOARD_HINT))
        else:
            return None, f"the change hint {hint[:60]!r} is not one this plugin names"
    boards = store.known_boards(settings.connection_id)
    selected = set(_selected(settings, boards))
    chosen: list[str] = []
    ignored: list[str] = []
    for board_id in dict.fromkeys(board_ids):
        board = boards.get(board_id)
        if board is None:
            # Created (or shared) since the boards stream last ran: its type, subitems board and status column
            # are unknown until the boards stream reads it.
            return None, f"board {board_id} is not loaded yet"
        if board.deleted or board.state == "deleted":
            return None, f"board {board_id} is deleted"
        if board_id not in selected:
            ignored.append(board_id)
            continue
        chosen.append(board_id)
        # A change on an item may change its subitems too (deleting an item deletes them): read them as well.
        sub = boards.get(board.subitems_board_id or "")
        if sub is not None and sub.board_id in selected and not (sub.deleted or sub.state == "deleted"):
            chosen.append(sub.board_id)
    chosen = list(dict.fromkeys(chosen))
    streams = [_board_plan(settings, "incremental", board_id, boards[board_id],
                           watermarks.get(ITEMS_PREFIX + board_id) or {}) for board_id in chosen]
    if with_updates:
        streams.append(_updates_plan(settings, "incremental", watermarks))
    notes = _cap_notes(settings, store)
    read = ", ".join(chosen[:NAMED_BOARDS]) or "none"
    if len(chosen) > NAMED_BOARDS:
        read += f" and {len(chosen) - NAMED_BOARDS} more"
    notes.append(f"changes announced: reading only the items of boards {read}"
                 + (" and the updates" if with_updates else "")
                 + "; the account-wide streams and other boards wait for the next scheduled run")
    if ignored:
        notes.append(f"boards {', '.join(ignored[:NAMED_BOARDS])} are not synced by this connection: "
                     "their changes are ignored")
    return Plan(streams=streams, notes=notes), ""
