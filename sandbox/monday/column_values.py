"""Column values: how each column type is stored, shown (`text`, `value`, typed fields) and written.

A value is stored in monday's own JSON form (what `value` returns, without `changed_at`):
status {"index": 1}; date {"date": "2025-03-04", "time": null}; numbers "42.5"; people
{"personsAndTeams": [{"id": 1, "kind": "person"}]}; timeline {"from": .., "to": ..}; checkbox
{"checked": "true"}; text "hello"; long_text {"text": ..}; board_relation / dependency
{"linkedPulseIds": [{"linkedPulseId": 1}]}. Mirror and subtasks values are derived, never stored.
Mirror, board-relation, dependency and subtasks columns have an empty `text` (api-facts); their data is
in `display_value` and the typed fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from .clock import iso_millis
from .model import Board, Column, Item, MondayAccount

TYPENAMES: dict[str, str] = {
    "status": "StatusValue", "date": "DateValue", "numbers": "NumbersValue", "people": "PeopleValue",
    "timeline": "TimelineValue", "checkbox": "CheckboxValue", "text": "TextValue", "long_text": "LongTextValue",
    "mirror": "MirrorValue", "board_relation": "BoardRelationValue", "dependency": "DependencyValue",
    "subtasks": "SubtasksValue", "tags": "TagsValue", "email": "EmailValue", "link": "LinkValue",
    "phone": "PhoneValue", "dropdown": "DropdownValue", "rating": "RatingValue",
}
READ_ONLY_TYPES = frozenset({"mirror", "subtasks", "name"})
_WITH_CHANGED_AT = frozenset({"status", "date", "people", "timeline", "checkbox", "long_text",
                              "board_relation", "dependency"})


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _linked_ids(stored: Any) -> list[str]:
    if not isinstance(stored, dict):
        return []
    return [str(link["linkedPulseId"]) for link in stored.get("linkedPulseIds", [])]


def _linked_items(account: MondayAccount, ids: list[str]) -> list[Item]:
    return [account.items[i] for i in ids if i in account.items and account.items[i].state != "deleted"]


def render(account: MondayAccount, board: Board, column: Column, item: Item) -> dict[str, Any]:
    """The GraphQL view of one column value (a dict a `ColumnValue` implementation resolves from)."""
    stored = item.values.get(column.id)
    changed = item.changed_at.get(column.id)
    view: dict[str, Any] = {
        "__typename": TYPENAMES.get(column.type, "UnsupportedValue"), "id": column.id, "type": column.type,
        "column": column, "text": "", "value": None, "updated_at": changed,
        "is_leaf": not any(s in account.items and account.items[s].state == "active" for s in item.subitem_ids),
    }
    if stored is not None:
        raw = dict(stored) if isinstance(stored, dict) else stored
        if column.type in _WITH_CHANGED_AT and isinstance(raw, dict) and changed is not None:
            raw["changed_at"] = iso_millis(changed)
        view["value"] = _json(raw)
    _RENDERERS.get(column.type, _render_plain)(account, board, column, item, stored, view)
    return view


def _render_plain(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
                  view: dict[str, Any]) -> None:
    view["text"] = stored if isinstance(stored, str) else ("" if stored is None else str(stored))


def _status(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
            view: dict[str, Any]) -> None:
    labels = column.settings.get("labels", {})
    index = stored.get("index") if isinstance(stored, dict) else None
    label = labels.get(str(index)) if index is not None else None
    style = column.settings.get("labels_colors", {}).get(str(index)) if index is not None else None
    view.update(text=label or "", label=label, index=index, update_id=None,
                is_done=index is not None and index in column.settings.get("done_colors", []),
                label_style={"color": style["color"], "border": style["border"]} if style else None)


def _date(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
          view: dict[str, Any]) -> None:
    day = stored.get("date") if isinstance(stored, dict) else None
    at = stored.get("time") if isinstance(stored, dict) else None
    text = "" if day is None else (f"{day} {at[:5]}" if at else day)
    view.update(text=text, date=day, time=at, icon=None)


def _numbers(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
             view: dict[str, Any]) -> None:
    unit = column.settings.get("unit", {})
    view.update(text="" if stored is None else str(stored), number=None if stored is None else float(stored),
                symbol=unit.get("symbol") or None, direction=unit.get("direction") or None)


def _people(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
            view: dict[str, Any]) -> None:
    entries = stored.get("personsAndTeams", []) if isinstance(stored, dict) else []
    names = []
    for entry in entries:
        pool: dict[str, Any] = account.users if entry["kind"] == "person" else account.teams
        owner = pool.get(str(entry["id"]))
        if owner is not None:
            names.append(owner.name)
    view.update(text=", ".join(names), persons_and_teams=[{"id": str(e["id"]), "kind": e["kind"]} for e in entries])


def _timeline(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
              view: dict[str, Any]) -> None:
    start = stored.get("from") if isinstance(stored, dict) else None
    end = stored.get("to") if isinstance(stored, dict) else None
    view.update(text=f"{start} - {end}" if start else "", visualization_type=None, **{"from": start, "to": end})


def _checkbox(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
              view: dict[str, Any]) -> None:
    checked = isinstance(stored, dict) and str(stored.get("checked")).lower() == "true"
    view.update(text="v" if checked else "", checked=checked)  # monday shows a checked box as "v"


def _long_text(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
               view: dict[str, Any]) -> None:
    view.update(text=stored.get("text", "") if isinstance(stored, dict) else "")


def _relation(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
              view: dict[str, Any]) -> None:
    ids = _linked_ids(stored)
    linked = _linked_items(account, ids)
    view.update(text="", linked_item_ids=ids, linked_items=linked, display_value=", ".join(i.name for i in linked))


def _mirror(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
            view: dict[str, Any]) -> None:
    # settings as monday writes them: {"relation_column": {"<relation id>": true},
    # "displayed_linked_columns": {"<board id>": ["<column id>"]}}
    relation_id = next(iter(column.settings.get("relation_column", {})), "")
    shown_ids = [c for ids in column.settings.get("displayed_linked_columns", {}).values() for c in ids]
    relation = board.column(relation_id)
    mirrored: list[dict[str, Any]] = []
    shown: list[str] = []
    if relation is not None and shown_ids:
        for linked in _linked_items(account, _linked_ids(item.values.get(relation.id))):
            linked_board = account.boards.get(linked.board_id)
            target = linked_board.column(shown_ids[0]) if linked_board else None
            if linked_board is None or target is None:
                continue
            value = render(account, linked_board, target, linked)
            mirrored.append({"linked_board": linked_board, "linked_board_id": linked_board.id,
                             "linked_item": linked, "mirrored_value": value})
            if value["text"]:
                shown.append(value["text"])
    view.update(text="", value=None, display_value=", ".join(shown), mirrored_items=mirrored)


def _subtasks(account: MondayAccount, board: Board, column: Column, item: Item, stored: Any,
              view: dict[str, Any]) -> None:
    subitems = [account.items[s] for s in item.subitem_ids
                if s in account.items and account.items[s].state == "active"]
    ids = [s.id for s in subitems]
    view.update(text="", subitems_ids=ids, subitems=subitems, display_value=", ".join(s.name for s in subitems),
                value=_json({"linkedPulseIds": [{"linkedPulseId": int(i)} for i in ids]}) if ids else None)


_Renderer = Callable[[MondayAccount, Board, Column, Item, Any, dict[str, Any]], None]
_RENDERERS: dict[str, _Renderer] = {
    "status": _status, "date": _date, "numbers": _numbers, "people": _people, "timeline": _timeline,
    "checkbox": _checkbox, "long_text": _long_text, "board_relation": _relation, "dependency": _relation,
    "mirror": _mirror, "subtasks": _subtasks,
}


# -- writing ---------------------------------------------------------------------------------------------
def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()


def _encode_status(column: Column, value: Any) -> Any:
    labels: dict[str, str] = column.settings.get("labels", {})
    if isinstance(value, dict):
        value = value.get("label", value.get("index"))
    if isinstance(value, int) and str(value) in labels:
        return {"index": value}
    for index, label in labels.items():
        if label == value:
            return {"index": int(index)}
    raise ValueError(f"status column {column.id} has no label {value!r} (labels: {sorted(labels.values())})")


def _encode_people(column: Column, value: Any) -> Any:
    if isinstance(value, dict):
        return {"personsAndTeams": [{"id": int(e["id"]), "kind": e.get("kind", "person")}
                                    for e in value.get("personsAndTeams", [])]}
    return {"personsAndTeams": [{"id": int(v), "kind": "person"} for v in value]}


def _encode_links(column: Column, value: Any) -> Any:
    if isinstance(value, dict):
        value = value.get("item_ids", _linked_ids(value))
    return {"linkedPulseIds": [{"linkedPulseId": int(v)} for v in value]}


def _encode_date(column: Column, value: Any) -> Any:
    if isinstance(value, dict):
        return {"date": _day(value["date"]), "time": value.get("time")}
    if isinstance(value, datetime):
        return {"date": value.date().isoformat(), "time": value.strftime("%H:%M:%S")}
    return {"date": _day(value), "time": None}


def _encode_timeline(column: Column, value: Any) -> Any:
    start, end = (value["from"], value["to"]) if isinstance(value, dict) else value
    if _day(start) > _day(end):
        raise ValueError("a timeline cannot end before it starts")
    return {"from": _day(start), "to": _day(end)}


def _encode_checkbox(column: Column, value: Any) -> Any:
    checked = value.get("checked") if isinstance(value, dict) else value
    return {"checked": "true"} if str(checked).lower() in ("true", "1") else None


def number_text(value: Any) -> str:
    """Numbers are stored as text; whole numbers without a decimal point, as monday shows them."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


_ENCODERS: dict[str, Callable[[Column, Any], Any]] = {
    "status": _encode_status, "people": _encode_people, "board_relation": _encode_links,
    "dependency": _encode_links, "date": _encode_date, "timeline": _encode_timeline,
    "checkbox": _encode_checkbox,
    "numbers": lambda column, value: number_text(value),
    "long_text": lambda column, value: {"text": value.get("text", "")} if isinstance(value, dict) else {"text": value},
}


def encode(column: Column, value: Any) -> Any:
    """Turn a friendly value (a label, a date, ids, a bool...) or monday's JSON form into the stored form."""
    if column.type in READ_ONLY_TYPES:
        raise ValueError(f"column {column.id} ({column.type}) cannot be written")
    if value is None or value == "":
        return None
    encoder = _ENCODERS.get(column.type)
    return encoder(column, value) if encoder is not None else str(value)
