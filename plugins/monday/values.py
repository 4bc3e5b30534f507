"""Column values: the raw `value` JSON and `text`, plus typed parts, one row per (item, column).

`value` arrives as a JSON string; it is stored parsed. Mirror, connect-boards and dependency columns have an
empty `text`: their readable form is `display_value`. The item's main status decides whether it is done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from plugins.monday.timestamps import parse_date, parse_ts
from shared.db.fields import Field, Fields
from shared.db.loader import ChildTable


def parse_value(raw: Any) -> Any:
    """`value` is JSON text (or null); a value that is not JSON is kept as the string it was."""
    if raw is None or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _number(value: dict[str, Any], parsed: Any) -> Decimal | None:
    if value.get("number") is not None:
        return Decimal(str(value["number"]))
    if isinstance(parsed, str | int | float) and str(parsed).strip():
        return Decimal(str(parsed))
    return None


def _people(value: dict[str, Any], parsed: Any, kind: str) -> list[str] | None:
    entries = value.get("persons_and_teams")
    if entries is None and isinstance(parsed, dict):
        entries = parsed.get("personsAndTeams")
    if entries is None:
        return None
    return [str(e["id"]) for e in entries if isinstance(e, dict) and e.get("kind") == kind]


def _changed_at(value: dict[str, Any], parsed: Any) -> Any:
    if isinstance(parsed, dict) and parsed.get("changed_at"):
        return parse_ts(parsed["changed_at"])
    return parse_ts(value.get("updated_at"))


def _linked(value: dict[str, Any], parsed: Any) -> list[str] | None:
    ids = value.get("linked_item_ids")
    if ids is None and isinstance(parsed, dict) and isinstance(parsed.get("linkedPulseIds"), list):
        ids = [link.get("linkedPulseId") for link in parsed["linkedPulseIds"] if isinstance(link, dict)]
    return None if ids is None else [str(i) for i in ids]


@dataclass(frozen=True)
class ValueView:
    """What a column value's row is read from: monday's value, its `value` JSON parsed, and its column type."""

    value: dict[str, Any]
    parsed: Any
    kind: str


def _given(key: str) -> Callable[[ValueView], Any]:
    return lambda view: view.value.get(key)


def _date(key: str, *kinds: str) -> Callable[[ValueView], Any]:
    return lambda view: parse_date(view.value.get(key)) if not kinds or view.kind in kinds else None


def _people_of(kind: str) -> Callable[[ValueView], list[str] | None]:
    return lambda view: _people(view.value, view.parsed, kind) if view.kind == "people" else None


def _checked(view: ValueView) -> bool | None:
    checked = view.value.get("checked")
    return bool(checked) if checked is not None else None


VALUE_FIELDS: Fields[ValueView] = Fields(
    Field("column_id", "text", lambda view: str(view.value["id"])),
    Field("type", "text", lambda view: view.kind),
    Field("text", "text", _given("text")),
    Field("value", "jsonb", lambda view: None if view.parsed is None else Jsonb(view.parsed)),
    Field("label", "text", _given("label")),
    Field("label_index", "integer", _given("index")),
    Field("is_done", "boolean", _given("is_done")),
    Field("date_value", "date", _date("date")),
    Field("time_value", "text", _given("time")),
    Field("number", "numeric", lambda view: _number(view.value, view.parsed) if view.kind == "numbers" else None),
    Field("person_ids", "text[]", _people_of("person")),
    Field("team_ids", "text[]", _people_of("team")),
    Field("timeline_from", "date", _date("from", "timeline")),
    Field("timeline_to", "date", _date("to", "timeline")),
    Field("checked", "boolean", _checked),
    Field("display_value", "text", _given("display_value")),
    Field("linked_item_ids", "text[]", lambda view: _linked(view.value, view.parsed)
          if view.kind in ("board_relation", "dependency", "subtasks") else None),
    Field("changed_at", "timestamptz", lambda view: _changed_at(view.value, view.parsed)),
)
VALUE_COLUMNS = VALUE_FIELDS.columns


def value_row(value: dict[str, Any]) -> tuple[Any, ...]:
    """One column value as the row VALUE_FIELDS describe (after connection_id and item_id)."""
    if not isinstance(value, dict) or not value.get("id"):
        raise ValueError("a column value without an id")
    return VALUE_FIELDS.read(ValueView(value, parse_value(value.get("value")), str(value.get("type") or "")))


def value_rows(item: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [value_row(v) for v in item.get("column_values") or []]


COLUMN_VALUES = ChildTable(
    table="monday_column_value",
    parent_column="item_id",
    columns=VALUE_COLUMNS,
    rows=value_rows,
)


def main_status(item: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any] | None:
    """The item's main status value: the column the plan chose for its board, else the column "status",
    else the first status column."""
    values = [v for v in item.get("column_values") or [] if isinstance(v, dict) and v.get("type") == "status"]
    wanted = (status or {}).get("column")
    for candidate in (wanted, "status"):
        found = next((v for v in values if v.get("id") == candidate), None)
        if found is not None:
            return found
    return values[0] if values and not wanted else None


DONE_LABELS = ("Done",)


def done_labels(status: dict[str, Any] | None) -> set[str]:
    """The labels that mean done on this board (the connection's done_labels, "Done" by default), lowercased."""
    return {str(d).lower() for d in (status or {}).get("labels") or DONE_LABELS}


def is_done(value: dict[str, Any] | None, status: dict[str, Any] | None) -> bool | None:
    """Done by the board's done colours (settings `done_colors`, which monday's `is_done` reflects) or by a
    "Done" label; None when the item has no status column at all."""
    if value is None:
        return None
    if value.get("is_done"):
        return True
    index = value.get("index")
    if status and index is not None and index in status.get("done", []):
        return True
    return str(value.get("label") or "").strip().lower() in done_labels(status)
