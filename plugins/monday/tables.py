"""monday's tables: what each landed envelope loads into, with its typed columns (migrations 0020, 0023).

A landed record is an envelope {"kind", "id", "record", ...}: `record` is monday's JSON as it came (the
payload, kept whole); the rest is what the plugin knew when it fetched it (when it was observed, the board's
main status column). Workspaces, boards, groups, columns, users, teams and tags have no version that covers
everything their row holds: their rows are rewritten only when their content changes, and updated_at is when
they were observed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from plugins.monday.timestamps import parse_log_stamp, parse_ts
from plugins.monday.values import COLUMN_VALUES, done_labels, is_done, main_status, parse_value
from shared.convert import as_bool, as_text
from shared.db.loader import Column, RawRecord, TableSpec

Envelope = dict[str, Any]


def _ids(values: Any) -> list[str]:
    return [str(v["id"]) for v in values or [] if isinstance(v, dict) and v.get("id") is not None]


def _observed(env: Envelope) -> dt.datetime:
    moment = parse_ts(env.get("observed_at"))
    if moment is None:
        raise ValueError("envelope without observed_at")
    return moment


@dataclass(frozen=True)
class Table:
    """A target table and how an envelope becomes its row."""

    spec: TableSpec
    row: Callable[[Envelope], RawRecord]


def _raw(env: Envelope, record_id: Any, updated: dt.datetime | None, typed: tuple[Any, ...], *,
         created: dt.datetime | None = None, deleted: bool = False) -> RawRecord:
    if record_id in (None, "") or updated is None:
        raise ValueError(f"{env.get('kind')} record without an id or a time")
    return RawRecord(id=str(record_id), updated_at=updated, created_at=created, payload=env["record"], typed=typed,
                     deleted=deleted)


# -- account-wide lists ----------------------------------------------------------------------------------------
def _workspace(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), (
        as_text(r.get("name")), as_text(r.get("kind")), as_text(r.get("state")), r.get("is_default_workspace"),
        as_text(r.get("description"))), created=parse_ts(r.get("created_at")))


def _text(key: str) -> Callable[[dict[str, Any]], str | None]:
    return lambda record: as_text(record.get(key))


# A user's typed columns, each declared once with its PostgreSQL type and how it is read from monday's record
# (the idiom of plugins/quickbooks/fields.py). The 2026-07+ shape (migration 0023).
USER_FIELDS: tuple[tuple[str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("name", "text", _text("name")),
    ("email", "text", _text("email")),
    ("title", "text", _text("title")),
    ("status", "text", _text("status")),  # ACTIVE, PENDING (invited, not joined) or INACTIVE (deactivated)
    ("kind", "text", _text("kind")),
    ("is_deleted", "boolean", lambda r: as_bool(r.get("is_deleted"))),  # an inactive user whose details are gone
    ("became_active_at", "timestamptz", lambda r: parse_ts(r.get("became_active_at"))),
    ("invitation_method", "text", _text("invitation_method")),
    ("time_zone", "text", _text("time_zone_identifier")),
    ("country_code", "text", _text("country_code")),
    ("team_ids", "text[]", lambda r: _ids(r.get("teams"))),
)


def _user(env: Envelope) -> RawRecord:
    # A deleted user is still listed (is_deleted): the row says so rather than becoming a tombstone.
    r = env["record"]
    try:
        typed = tuple(read(r) for _, _, read in USER_FIELDS)
    except ValueError as exc:
        raise ValueError(f"user {r.get('id')}: {exc}") from exc
    return _raw(env, r.get("id"), _observed(env), typed, created=parse_ts(r.get("created_at")))


def _team(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), (
        as_text(r.get("name")), r.get("is_guest"), _ids(r.get("users")), _ids(r.get("owners"))))


def _tag(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), (as_text(r.get("name")), as_text(r.get("color"))))


def _update(env: Envelope) -> RawRecord:
    r = env["record"]
    created = parse_ts(r.get("created_at"))
    return _raw(env, r.get("id"), parse_ts(r.get("updated_at")) or created, (
        as_text(r.get("item_id")), as_text(r.get("creator_id")), as_text(r.get("text_body")),
        parse_ts(r.get("edited_at"))), created=created)


# -- boards and what they hold ---------------------------------------------------------------------------------
def subitems_board_of(board: dict[str, Any]) -> str | None:
    """The board that holds this board's subitems: named by its subtasks column's settings."""
    for column in board.get("columns") or []:
        if isinstance(column, dict) and column.get("type") == "subtasks":
            ids = (column.get("settings") or {}).get("boardIds") if isinstance(column.get("settings"), dict) else None
            if ids:
                return str(ids[0])
    return None


def _board(env: Envelope) -> RawRecord:
    # A board's updated_at does not move with everything its row holds (a subitems board follows its parent's
    # state, groups and columns change): the row is rewritten whenever it reads differently. A deleted board is
    # still answered (state "deleted") and its row says so; it becomes a tombstone when monday no longer lists
    # it (the boards stream's sweep).
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), (
        as_text(r.get("name")), as_text(r.get("state")), as_text(r.get("board_kind")), as_text(r.get("type")),
        as_text(r.get("workspace_id")), as_text(r.get("board_folder_id")), as_text(r.get("permissions")),
        r.get("items_count"), as_text((r.get("creator") or {}).get("id")), _ids(r.get("owners")),
        as_text((r.get("top_group") or {}).get("id")), subitems_board_of(r), as_text(r.get("description")),
        parse_ts(r.get("updated_at"))), created=parse_ts(r.get("created_at")))


def _group(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, f"{env['board_id']}:{r.get('id')}", _observed(env), (
        str(env["board_id"]), as_text(r.get("id")), as_text(r.get("title")), as_text(r.get("color")),
        as_text(r.get("position")), r.get("archived"), r.get("deleted")))


def _column(env: Envelope) -> RawRecord:
    r = env["record"]
    settings = r.get("settings")
    return _raw(env, f"{env['board_id']}:{r.get('id')}", _observed(env), (
        str(env["board_id"]), as_text(r.get("id")), as_text(r.get("title")), as_text(r.get("type")),
        as_text(r.get("description")), r.get("archived"), r.get("width"), env.get("position"),
        None if settings is None else Jsonb(parse_value(settings))))


# -- items and their history -----------------------------------------------------------------------------------
def item_row(env: Envelope) -> RawRecord:
    r = env["record"]
    status = env.get("status")
    value = main_status(r, status)
    done = is_done(value, status)
    changed = None
    if done and value is not None:
        parsed = parse_value(value.get("value"))
        changed = parse_ts(parsed.get("changed_at")) if isinstance(parsed, dict) else None
        changed = changed or parse_ts(value.get("updated_at"))
    board_id = (r.get("board") or {}).get("id")
    return _raw(env, r.get("id"), parse_ts(r.get("updated_at")), (
        as_text(board_id), as_text((r.get("group") or {}).get("id")), as_text((r.get("group") or {}).get("title")),
        as_text((r.get("parent_item") or {}).get("id")), as_text(r.get("name")), as_text(r.get("state")),
        as_text(r.get("creator_id")), None if value is None else as_text(value.get("id")),
        None if value is None else as_text(value.get("label")), None if value is None else value.get("index"),
        done, changed), created=parse_ts(r.get("created_at")), deleted=r.get("state") == "deleted")


def log_data(record: dict[str, Any]) -> dict[str, Any]:
    data = record.get("data")
    parsed = parse_value(data) if isinstance(data, str) else data
    return parsed if isinstance(parsed, dict) else {}


def _to_done(data: dict[str, Any], status: dict[str, Any] | None) -> bool | None:
    """Whether a status change set the board's main status to a done label (None for other events)."""
    if not status or data.get("column_id") != status.get("column"):
        return None
    value = data.get("value")
    if not isinstance(value, dict):
        return False
    # monday writes {"label": {"index", "text", "is_done"}}; the simulator writes the stored {"index": n}.
    label = value.get("label") if isinstance(value.get("label"), dict) else value
    if label.get("is_done"):
        return True
    index = label.get("index")
    return index in status.get("done", []) or str(label.get("text") or "").lower() in done_labels(status)


def log_row(env: Envelope) -> RawRecord:
    r = env["record"]
    data = log_data(r)
    created = parse_log_stamp(r.get("created_at"))
    pulse = data.get("pulse_id")
    status_change = r.get("event") == "update_column_value"
    return _raw(env, r.get("id"), created, (
        as_text(env.get("board_id")), None if pulse is None else str(pulse), as_text(r.get("event")),
        as_text(r.get("entity")), as_text(r.get("user_id")), as_text(data.get("column_id")), Jsonb(data),
        _to_done(data, env.get("status")) if status_change else None), created=created)


def _spec(table: str, columns: tuple[tuple[str, str], ...], *, versioned: bool = True,
          children: tuple[Any, ...] = ()) -> TableSpec:
    return TableSpec(table, tuple(Column(n, t) for n, t in columns), version=("updated_at",) if versioned else (),
                     children=children)


ITEM_COLUMNS = (("board_id", "text"), ("group_id", "text"), ("group_title", "text"), ("parent_item_id", "text"),
                ("name", "text"), ("state", "text"), ("creator_id", "text"), ("status_column_id", "text"),
                ("status_label", "text"), ("status_index", "integer"), ("is_done", "boolean"),
                ("done_at", "timestamptz"))
LOG_COLUMNS = (("board_id", "text"), ("item_id", "text"), ("event", "text"), ("entity", "text"), ("user_id", "text"),
               ("column_id", "text"), ("data", "jsonb"), ("to_done", "boolean"))


# Every target table by its table-stream name.
TABLES: dict[str, Table] = {
    "workspaces": Table(_spec("monday_workspace", (
        ("name", "text"), ("kind", "text"), ("state", "text"), ("is_default", "boolean"),
        ("description", "text")), versioned=False), _workspace),
    "users": Table(_spec("monday_user", tuple((name, pg_type) for name, pg_type, _ in USER_FIELDS), versioned=False),
                   _user),
    "teams": Table(_spec("monday_team", (
        ("name", "text"), ("is_guest", "boolean"), ("user_ids", "text[]"), ("owner_ids", "text[]")),
        versioned=False), _team),
    "tags": Table(_spec("monday_tag", (("name", "text"), ("color", "text")), versioned=False), _tag),
    "updates": Table(_spec("monday_update", (
        ("item_id", "text"), ("creator_id", "text"), ("text_body", "text"), ("edited_at", "timestamptz"))),
        _update),
    "boards": Table(_spec("monday_board", (
        ("name", "text"), ("state", "text"), ("board_kind", "text"), ("board_type", "text"),
        ("workspace_id", "text"), ("folder_id", "text"), ("permissions", "text"), ("items_count", "integer"),
        ("creator_id", "text"), ("owner_ids", "text[]"), ("top_group_id", "text"),
        ("subitems_board_id", "text"), ("description", "text"), ("board_updated_at", "timestamptz")),
        versioned=False), _board),
    "groups": Table(_spec("monday_group", (
        ("board_id", "text"), ("group_id", "text"), ("title", "text"), ("color", "text"), ("position", "text"),
        ("archived", "boolean"), ("deleted", "boolean")), versioned=False), _group),
    "columns": Table(_spec("monday_column", (
        ("board_id", "text"), ("column_id", "text"), ("title", "text"), ("type", "text"), ("description", "text"),
        ("archived", "boolean"), ("width", "integer"), ("position", "integer"), ("settings", "jsonb")),
        versioned=False), _column),
    "items": Table(_spec("monday_item", ITEM_COLUMNS, children=(COLUMN_VALUES,)), item_row),
    "activity_logs": Table(_spec("monday_activity_log", LOG_COLUMNS), log_row),
}


def split_board(env: Envelope) -> list[tuple[str, Envelope]]:
    """A board loads into three tables: itself, its groups and its columns (keyed by board and id)."""
    board = env["record"]
    parts: list[tuple[str, Envelope]] = [("boards", env)]
    for kind, key in (("groups", "groups"), ("columns", "columns")):
        for position, part in enumerate(board.get(key) or []):
            if not isinstance(part, dict):
                raise ValueError(f"board {board.get('id')}: a {kind[:-1]} that is not an object")
            parts.append((kind, {"kind": kind[:-1], "id": f"{board.get('id')}:{part.get('id')}",
                                 "board_id": board.get("id"), "position": position,
                                 "observed_at": env.get("observed_at"), "record": part}))
    return parts


