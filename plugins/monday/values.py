"""Column values: the raw `value` JSON and `text`, plus typed parts, one row per (item, column).

`value` arrives as a JSON string; it is stored parsed. Mirror, connect-boards and dependency columns have an
empty `text`: their readable form is `display_value`. The item's main status decides whether it is done.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from plugins.monday.timestamps import parse_date, parse_ts
from shared.db.loader import ChildTable, Column

VALUE_COLUMNS = (
    Column("column_id", "text"),
    Column("type", "text"),
    Column("text", "text"),
    Column("value", "jsonb"),
    Column("label", "text"),
    Column("label_index", "integer"),
    Column("is_done", "boolean"),
    Column("date_value", "date"),
    Column("time_value", "text"),
    Column("number", "numeric"),
    Column("person_ids", "text[]"),
    Column("team_ids", "text[]"),
    Column("timeline_from", "date"),
    Column("timeline_to", "date"),
    Column("checked", "boolean"),
    Column("display_value", "text"),
    Column("linked_item_ids", "text[]"),
    Column("changed_at", "timestamptz"),
)


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


def value_row(value: dict[str, Any]) -> tuple[Any, ...]:
    """One column value as the row VALUE_COLUMNS describe (after connection_id and item_id)."""
    if not isinstance(value, dict) or not value.get("id"):
        raise ValueError("a column value without an id")
    parsed = parse_value(value.get("value"))
    kind = str(value.get("type") or "")
    is_timeline = kind == "timeline"
    checked = value.get("checked")
    return (
        str(value["id"]), kind, value.get("text"), None if parsed is None else Jsonb(parsed),
        value.get("label"), value.get("index"), value.get("is_done"),
        parse_date(value.get("date")), value.get("time"),
        _number(value, parsed) if kind == "numbers" else None,
        _people(value, parsed, "person") if kind == "people" else None,
        _people(value, parsed, "team") if kind == "people" else None,
        parse_date(value.get("from")) if is_timeline else None,
        parse_date(value.get("to")) if is_timeline else None,
        bool(checked) if checked is not None else None,
        value.get("display_value"),
        _linked(value, parsed) if kind in ("board_relation", "dependency", "subtasks") else None,
        _changed_at(value, parsed),
    )


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
