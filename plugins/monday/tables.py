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
from typing import Any, TypeVar

from psycopg.types.json import Jsonb

from plugins.monday.timestamps import parse_log_stamp, parse_ts
from plugins.monday.values import COLUMN_VALUES, done_labels, is_done, main_status, parse_value
from shared.core.convert import as_bool, as_text
from shared.db.fields import Field, Fields, converted, path
from shared.db.loader import RawRecord, TableSpec

Envelope = dict[str, Any]
S = TypeVar("S")


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


def _raw(env: Envelope, record_id: Any, updated: dt.datetime | None, fields: Fields[S], source: S, *,
         created: dt.datetime | None = None, deleted: bool = False) -> RawRecord:
    """The row of an envelope, its typed values read from `source` by `fields` (whose names go along)."""
    if record_id in (None, "") or updated is None:
        raise ValueError(f"{env.get('kind')} record without an id or a time")
    return RawRecord(id=str(record_id), updated_at=updated, created_at=created, payload=env["record"],
                     typed=fields.read(source), deleted=deleted, columns=fields.names)


# -- how a value is read: monday's record (or a view of it) -> the column's value --------------------------------
def _text(*keys: str) -> Callable[[dict[str, Any]], str | None]:
    """A (nested) value as text: _text("creator", "id")."""
    return converted(path(*keys), as_text)


def _as_sent(key: str) -> Callable[[dict[str, Any]], Any]:
    """A value as monday sent it (its booleans and integers are already typed in its JSON)."""
    return lambda record: record.get(key)


def _time(key: str) -> Callable[[dict[str, Any]], dt.datetime | None]:
    return converted(path(key), parse_ts)


def _id_list(key: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda record: _ids(record.get(key))


# -- account-wide lists ----------------------------------------------------------------------------------------
WORKSPACE_FIELDS = Fields(
    Field("name", "text", _text("name")),
    Field("kind", "text", _text("kind")),
    Field("state", "text", _text("state")),
    Field("is_default", "boolean", _as_sent("is_default_workspace")),
    Field("description", "text", _text("description")),
)

# The 2026-07+ shape (migration 0023).
USER_FIELDS = Fields(
    Field("name", "text", _text("name")),
    Field("email", "text", _text("email")),
    Field("title", "text", _text("title")),
    Field("status", "text", _text("status")),  # ACTIVE, PENDING (invited, not joined) or INACTIVE (deactivated)
    Field("kind", "text", _text("kind")),
    Field("is_deleted", "boolean", converted(path("is_deleted"), as_bool)),  # inactive, its details gone
    Field("became_active_at", "timestamptz", _time("became_active_at")),
    Field("invitation_method", "text", _text("invitation_method")),
    Field("time_zone", "text", _text("time_zone_identifier")),
    Field("country_code", "text", _text("country_code")),
    Field("team_ids", "text[]", _id_list("teams")),
)

TEAM_FIELDS = Fields(
    Field("name", "text", _text("name")),
    Field("is_guest", "boolean", _as_sent("is_guest")),
    Field("user_ids", "text[]", _id_list("users")),
    Field("owner_ids", "text[]", _id_list("owners")),
)

TAG_FIELDS = Fields(Field("name", "text", _text("name")), Field("color", "text", _text("color")))

UPDATE_FIELDS = Fields(
    Field("item_id", "text", _text("item_id")),
    Field("creator_id", "text", _text("creator_id")),
    Field("text_body", "text", _text("text_body")),
    Field("edited_at", "timestamptz", _time("edited_at")),
)


def _workspace(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), WORKSPACE_FIELDS, r, created=parse_ts(r.get("created_at")))


def _user(env: Envelope) -> RawRecord:
    # A deleted user is still listed (is_deleted): the row says so rather than becoming a tombstone.
    r = env["record"]
    try:
        return _raw(env, r.get("id"), _observed(env), USER_FIELDS, r, created=parse_ts(r.get("created_at")))
    except ValueError as exc:
        raise ValueError(f"user {r.get('id')}: {exc}") from exc


def _team(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), TEAM_FIELDS, r)


def _tag(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), TAG_FIELDS, r)


def _update(env: Envelope) -> RawRecord:
    r = env["record"]
    created = parse_ts(r.get("created_at"))
    return _raw(env, r.get("id"), parse_ts(r.get("updated_at")) or created, UPDATE_FIELDS, r, created=created)


# -- boards and what they hold ---------------------------------------------------------------------------------
def subitems_board_of(board: dict[str, Any]) -> str | None:
    """The board that holds this board's subitems: named by its subtasks column's settings."""
    for column in board.get("columns") or []:
        if isinstance(column, dict) and column.get("type") == "subtasks":
            ids = (column.get("settings") or {}).get("boardIds") if isinstance(column.get("settings"), dict) else None
            if ids:
                return str(ids[0])
    return None


BOARD_FIELDS = Fields(
    Field("name", "text", _text("name")),
    Field("state", "text", _text("state")),
    Field("board_kind", "text", _text("board_kind")),
    Field("board_type", "text", _text("type")),
    Field("workspace_id", "text", _text("workspace_id")),
    Field("folder_id", "text", _text("board_folder_id")),
    Field("permissions", "text", _text("permissions")),
    Field("items_count", "integer", _as_sent("items_count")),
    Field("creator_id", "text", _text("creator", "id")),
    Field("owner_ids", "text[]", _id_list("owners")),
    Field("top_group_id", "text", _text("top_group", "id")),
    Field("subitems_board_id", "text", subitems_board_of),
    Field("description", "text", _text("description")),
    Field("board_updated_at", "timestamptz", _time("updated_at")),
)


def _board(env: Envelope) -> RawRecord:
    # A board's updated_at does not move with everything its row holds (a subitems board follows its parent's
    # state, groups and columns change): the row is rewritten whenever it reads differently. A deleted board is
    # still answered (state "deleted") and its row says so; it becomes a tombstone when monday no longer lists
    # it (the boards stream's sweep).
    r = env["record"]
    return _raw(env, r.get("id"), _observed(env), BOARD_FIELDS, r, created=parse_ts(r.get("created_at")))


def _in_record(read: Callable[[dict[str, Any]], Any]) -> Callable[[Envelope], Any]:
    """A reader of monday's record, applied to the envelope that holds it."""
    return lambda env: read(env["record"])


def _board_id(env: Envelope) -> str:
    return str(env["board_id"])


# A group or a column of a board, read from its envelope (split_board adds the board and the position).
GROUP_FIELDS: Fields[Envelope] = Fields(
    Field("board_id", "text", _board_id),
    Field("group_id", "text", _in_record(_text("id"))),
    Field("title", "text", _in_record(_text("title"))),
    Field("color", "text", _in_record(_text("color"))),
    Field("position", "text", _in_record(_text("position"))),
    Field("archived", "boolean", _in_record(_as_sent("archived"))),
    Field("deleted", "boolean", _in_record(_as_sent("deleted"))),
)


def _settings(column: dict[str, Any]) -> Jsonb | None:
    settings = column.get("settings")
    return None if settings is None else Jsonb(parse_value(settings))


COLUMN_FIELDS: Fields[Envelope] = Fields(
    Field("board_id", "text", _board_id),
    Field("column_id", "text", _in_record(_text("id"))),
    Field("title", "text", _in_record(_text("title"))),
    Field("type", "text", _in_record(_text("type"))),
    Field("description", "text", _in_record(_text("description"))),
    Field("archived", "boolean", _in_record(_as_sent("archived"))),
    Field("width", "integer", _in_record(_as_sent("width"))),
    Field("position", "integer", lambda env: env.get("position")),
    Field("settings", "jsonb", _in_record(_settings)),
)


def _group(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, f"{env['board_id']}:{r.get('id')}", _observed(env), GROUP_FIELDS, env)


def _column(env: Envelope) -> RawRecord:
    r = env["record"]
    return _raw(env, f"{env['board_id']}:{r.get('id')}", _observed(env), COLUMN_FIELDS, env)


# -- items and their history -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemView:
    """What an item's row is read from: monday's record and its main status, settled once per item."""

    record: dict[str, Any]
    status: dict[str, Any] | None  # the main status column's value
    done: bool | None
    done_at: dt.datetime | None


def _item_status(key: str) -> Callable[[ItemView], Any]:
    return lambda view: None if view.status is None else view.status.get(key)


ITEM_FIELDS: Fields[ItemView] = Fields(
    Field("board_id", "text", lambda view: as_text(path("board", "id")(view.record))),
    Field("group_id", "text", lambda view: as_text(path("group", "id")(view.record))),
    Field("group_title", "text", lambda view: as_text(path("group", "title")(view.record))),
    Field("parent_item_id", "text", lambda view: as_text(path("parent_item", "id")(view.record))),
    Field("name", "text", lambda view: as_text(view.record.get("name"))),
    Field("state", "text", lambda view: as_text(view.record.get("state"))),
    Field("creator_id", "text", lambda view: as_text(view.record.get("creator_id"))),
    Field("status_column_id", "text", converted(_item_status("id"), as_text)),
    Field("status_label", "text", converted(_item_status("label"), as_text)),
    Field("status_index", "integer", _item_status("index")),
    Field("is_done", "boolean", lambda view: view.done),
    Field("done_at", "timestamptz", lambda view: view.done_at),
)


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
    return _raw(env, r.get("id"), parse_ts(r.get("updated_at")), ITEM_FIELDS, ItemView(r, value, done, changed),
                created=parse_ts(r.get("created_at")), deleted=r.get("state") == "deleted")


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


@dataclass(frozen=True)
class LogView:
    """What a log entry's row is read from: its envelope and its decoded `data`."""

    env: Envelope
    data: dict[str, Any]


def _log_to_done(view: LogView) -> bool | None:
    if view.env["record"].get("event") != "update_column_value":
        return None
    return _to_done(view.data, view.env.get("status"))


LOG_FIELDS: Fields[LogView] = Fields(
    Field("board_id", "text", lambda view: as_text(view.env.get("board_id"))),
    Field("item_id", "text", lambda view: None if view.data.get("pulse_id") is None else str(view.data["pulse_id"])),
    Field("event", "text", lambda view: as_text(view.env["record"].get("event"))),
    Field("entity", "text", lambda view: as_text(view.env["record"].get("entity"))),
    Field("user_id", "text", lambda view: as_text(view.env["record"].get("user_id"))),
    Field("column_id", "text", lambda view: as_text(view.data.get("column_id"))),
    Field("data", "jsonb", lambda view: Jsonb(view.data)),
    Field("to_done", "boolean", _log_to_done),
)


def log_row(env: Envelope) -> RawRecord:
    r = env["record"]
    created = parse_log_stamp(r.get("created_at"))
    return _raw(env, r.get("id"), created, LOG_FIELDS, LogView(env, log_data(r)), created=created)


def _spec(table: str, fields: Fields[Any], *, versioned: bool = True, children: tuple[Any, ...] = ()) -> TableSpec:
    return TableSpec(table, fields.columns, version=("updated_at",) if versioned else (), children=children)


# Every target table by its table-stream name.
TABLES: dict[str, Table] = {
    "workspaces": Table(_spec("monday_workspace", WORKSPACE_FIELDS, versioned=False), _workspace),
    "users": Table(_spec("monday_user", USER_FIELDS, versioned=False), _user),
    "teams": Table(_spec("monday_team", TEAM_FIELDS, versioned=False), _team),
    "tags": Table(_spec("monday_tag", TAG_FIELDS, versioned=False), _tag),
    "updates": Table(_spec("monday_update", UPDATE_FIELDS), _update),
    "boards": Table(_spec("monday_board", BOARD_FIELDS, versioned=False), _board),
    "groups": Table(_spec("monday_group", GROUP_FIELDS, versioned=False), _group),
    "columns": Table(_spec("monday_column", COLUMN_FIELDS, versioned=False), _column),
    "items": Table(_spec("monday_item", ITEM_FIELDS, children=(COLUMN_VALUES,)), item_row),
    "activity_logs": Table(_spec("monday_activity_log", LOG_FIELDS), log_row),
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


