"""`items_page(query_params: {rules, groups, operator, order_by, ids})`: which items match, in which order.

Rules compare one column of an item: `name`, `__last_updated__` (the item's updated_at; compare_value
["EXACT", "<ISO ts>"], used by connectors for incremental reads), or a board column by id (status by
index or label, people as "person-<id>", dates, numbers, checkbox, links, anything else by its text).
Operators are monday's `ItemsQueryRuleOperator`; the relative ones (within_the_next/last) are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from . import errors
from .clock import parse_instant
from .column_values import render
from .model import Board, Item, MondayAccount

MAX_QUERY_IDS = 100
_MARKERS = frozenset({"EXACT"})
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "greater_than": lambda a, b: a > b, "greater_than_or_equals": lambda a, b: a >= b,
    "lower_than": lambda a, b: a < b, "lower_than_or_equal": lambda a, b: a <= b,
}


def _subject(account: MondayAccount, board: Board, item: Item, column_id: str) -> tuple[str, Any]:
    """(kind, value) of one column of an item, in a form the operators can compare."""
    if column_id == "__last_updated__":
        return "instant", item.updated_at
    if column_id == "name":
        return "text", item.name
    column = board.column(column_id)
    if column is None:
        raise errors.invalid_column(column_id, board.id)
    stored = item.values.get(column.id)
    if column.type == "status":
        view = render(account, board, column, item)
        return "choice", set() if view["index"] is None else {str(view["index"]), view["label"]}
    if column.type == "people":
        ids = [str(e["id"]) for e in (stored or {}).get("personsAndTeams", [])]
        return "choice", {*ids, *(f"person-{i}" for i in ids)}
    if column.type in ("board_relation", "dependency"):
        return "choice", {str(link["linkedPulseId"]) for link in (stored or {}).get("linkedPulseIds", [])}
    if column.type == "date":
        return "date", (stored or {}).get("date")
    if column.type == "timeline":
        return "date", (stored or {}).get("from")
    if column.type == "numbers":
        return "number", None if stored is None else float(stored)
    if column.type == "checkbox":
        return "bool", render(account, board, column, item)["checked"]
    return "text", render(account, board, column, item)["text"]


def _operand(kind: str, raw: Any) -> Any:
    try:
        if kind == "instant":
            return parse_instant(str(raw))
        if kind == "date":
            return date.fromisoformat(str(raw)[:10]).isoformat()
        if kind == "number":
            return float(raw)
    except ValueError:
        raise errors.invalid_argument(f"invalid compare_value {raw!r}") from None
    return str(raw)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == set() or value is False


def _rule_matches(account: MondayAccount, board: Board, item: Item, rule: dict[str, Any]) -> bool:
    operator = rule.get("operator") or "any_of"
    kind, value = _subject(account, board, item, rule["column_id"])
    raw = rule.get("compare_value")
    values = [v for v in (raw if isinstance(raw, list) else [raw]) if v is not None and v not in _MARKERS]
    if operator == "is_empty":
        return _empty(value)
    if operator == "is_not_empty":
        return not _empty(value)
    if operator in ("any_of", "not_any_of"):
        if kind == "choice":
            hit = any(str(v) in value for v in values)
        elif kind == "bool":
            hit = any(str(v).lower() in ("true", "v", "1") for v in values) == bool(value)
        else:
            hit = value is not None and any(value == _operand(kind, v) for v in values)
        return hit if operator == "any_of" else not hit
    if operator in ("contains_text", "not_contains_text", "starts_with", "ends_with", "contains_terms"):
        text = ("" if value is None else str(value)).lower()
        needles = [str(v).lower() for v in values]
        contains = any(n in text for n in needles)
        found = {"contains_text": contains, "not_contains_text": not contains,
                 "starts_with": any(text.startswith(n) for n in needles),
                 "ends_with": any(text.endswith(n) for n in needles),
                 "contains_terms": all(t in text for n in needles for t in n.split())}
        return found[operator]
    if kind not in ("instant", "date", "number"):
        raise errors.invalid_argument(f"operator {operator} does not apply to column {rule['column_id']}")
    if operator == "between":
        if len(values) != 2:
            raise errors.invalid_argument("between needs two compare values")
        low, high = (_operand(kind, v) for v in values)
        return value is not None and low <= value <= high
    if operator in _COMPARISONS:
        if not values:
            raise errors.invalid_argument(f"operator {operator} needs a compare value")
        return value is not None and _COMPARISONS[operator](value, _operand(kind, values[0]))
    raise errors.invalid_argument(f"operator {operator} is not supported by the simulator")


def _group_matches(account: MondayAccount, board: Board, item: Item, query: dict[str, Any]) -> bool:
    results = [_rule_matches(account, board, item, rule) for rule in query.get("rules") or []]
    results += [_group_matches(account, board, item, group) for group in query.get("groups") or []]
    if not results:
        return True
    return any(results) if (query.get("operator") or "and") == "or" else all(results)


def _sort_key(account: MondayAccount, board: Board, column_id: str) -> Callable[[Item], tuple[bool, Any]]:
    def key(item: Item) -> tuple[bool, Any]:
        kind, value = _subject(account, board, item, column_id)
        if kind == "choice":
            value = ",".join(sorted(value))
        if isinstance(value, datetime):
            value = value.timestamp()
        return (_empty(value), value if not _empty(value) else 0)
    return key


def select(account: MondayAccount, board: Board, query: dict[str, Any] | None,
           group_id: str | None = None) -> list[str]:
    """Ids of the board's active items that match `query`, in board order or `order_by`."""
    query = query or {}
    wanted = query.get("ids")
    if wanted is not None and len(wanted) > MAX_QUERY_IDS:
        raise errors.invalid_argument(f"query_params.ids takes at most {MAX_QUERY_IDS} ids")
    wanted_set = {str(i) for i in wanted} if wanted is not None else None
    items = [account.items[i] for i in board.item_ids if account.items[i].state == "active"
             and (group_id is None or account.items[i].group_id == group_id)
             and (wanted_set is None or i in wanted_set)]
    items = [item for item in items if _group_matches(account, board, item, query)]
    for order in reversed(query.get("order_by") or []):
        key = _sort_key(account, board, order["column_id"])
        keyed = [(key(item), item) for item in items]
        filled = [pair for pair in keyed if not pair[0][0]]
        filled.sort(key=lambda pair: pair[0][1], reverse=order.get("direction") == "desc")
        items = [item for _, item in filled] + [item for k, item in keyed if k[0]]  # empty values sort last
    return [item.id for item in items]


def by_column_values(account: MondayAccount, board: Board, columns: list[dict[str, Any]] | None) -> list[str]:
    """`items_page_by_column_values(columns: [{column_id, column_values}])`: any of the values, all columns."""
    rules = [{"column_id": c["column_id"], "compare_value": list(c.get("column_values") or []), "operator": "any_of"}
             for c in columns or []]
    return select(account, board, {"rules": rules, "operator": "and"})
