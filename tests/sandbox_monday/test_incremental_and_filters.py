"""query_params: the __last_updated__ rule an incremental sync relies on, and the other rules it may use."""

from __future__ import annotations

from typing import Any

from sandbox.monday import MondayState
from sandbox.monday.clock import iso_z

from .conftest import Api, main_boards

SINCE = """
query ($b: [ID!], $since: CompareValue!) {
  boards(ids: $b) {
    items_page(limit: 500, query_params: {rules: [{column_id: "__last_updated__", compare_value: $since,
               operator: greater_than_or_equals, compare_attribute: "UPDATED_AT"}]}) {
      cursor items { id name updated_at }
    }
  }
}
"""


async def _matching(api: Api, board: str, query_params: str) -> list[dict[str, Any]]:
    query = f"query {{ boards(ids: [{board}]) {{ items_page(limit: 500, query_params: {query_params}) " \
            "{ items { id name } } } }"
    return (await api.data(query))["boards"][0]["items_page"]["items"]  # type: ignore[no-any-return]


async def test_the_last_updated_rule_returns_only_items_changed_since(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    ids = state.account().board(board).item_ids
    live = [i for i in ids if state.account().items[i].state == "active"]
    since = iso_z(state.clock.now())
    assert (await api.data(SINCE, {"b": [board], "since": ["EXACT", since]}))["boards"][0]["items_page"]["items"] == []
    state.change_column_value(live[3], "status", "Stuck")
    state.rename_item(live[7], "Renamed by the test")
    state.move_item_to_group(live[9], state.account().board(board).groups[-1].id)
    page = (await api.data(SINCE, {"b": [board], "since": ["EXACT", since]}))["boards"][0]["items_page"]
    assert sorted(i["id"] for i in page["items"]) == sorted([live[3], live[7], live[9]])
    assert all(i["updated_at"] >= since for i in page["items"]) and page["cursor"] is None


async def test_the_last_updated_rule_uses_the_instant_not_just_the_day(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    live = [i for i in state.account().board(board).item_ids if state.account().items[i].state == "active"]
    state.change_column_value(live[0], "numbers", 10)
    state.clock.advance(30)
    middle = iso_z(state.clock.now())  # same day, 30 s after the first change
    state.change_column_value(live[1], "numbers", 20)
    page = (await api.data(SINCE, {"b": [board], "since": ["EXACT", middle]}))["boards"][0]["items_page"]
    assert [i["id"] for i in page["items"]] == [live[1]]


async def test_archived_items_drop_out_of_items_page_but_items_by_id_still_shows_them(
        api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    live = [i for i in state.account().board(board).item_ids if state.account().items[i].state == "active"]
    since = iso_z(state.clock.now())
    state.archive_item(live[0])
    state.delete_item(live[1])
    page = (await api.data(SINCE, {"b": [board], "since": ["EXACT", since]}))["boards"][0]["items_page"]
    assert page["items"] == []
    items = (await api.data(f"query {{ items(ids: [{live[0]}, {live[1]}]) {{ id state updated_at }} }}"))["items"]
    assert [(i["id"], i["state"]) for i in items] == [(live[0], "archived"), (live[1], "deleted")]
    active_only = await api.data(f"query {{ items(ids: [{live[0]}, {live[2]}], exclude_nonactive: true) {{ id }} }}")
    assert active_only["items"] == [{"id": live[2]}]


async def test_name_any_of_matches_whole_names(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    item = state.create_item(board, "Test Item 1")
    state.create_item(board, "Test Item 10")
    found = await _matching(api, board, '{rules: [{column_id: "name", compare_value: ["Test Item 1"]}], operator: and}')
    assert found == [{"id": item.id, "name": "Test Item 1"}]


async def test_status_rules_match_by_index_or_label(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    by_index = await _matching(api, board, '{rules: [{column_id: "status", compare_value: [1]}]}')
    by_label = await _matching(api, board, '{rules: [{column_id: "status", compare_value: ["Done"]}]}')
    expected = [i for i in state.account().board(board).item_ids
                if state.account().items[i].state == "active"
                and (state.account().items[i].values.get("status") or {}).get("index") == 1]
    assert [i["id"] for i in by_index] == [i["id"] for i in by_label] == expected


async def test_or_groups_numbers_and_order_by(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    found = await _matching(api, board, '{rules: [{column_id: "numbers", compare_value: [5000], operator: '
                                         'greater_than}, {column_id: "checkbox", compare_value: [], operator: '
                                         'is_not_empty}], operator: or, order_by: [{column_id: "numbers", '
                                         'direction: desc}]}')
    account = state.account()
    expected = {i for i in account.board(board).item_ids if account.items[i].state == "active"
                and (float(account.items[i].values.get("numbers") or 0) > 5000
                     or account.items[i].values.get("checkbox") is not None)}
    assert {i["id"] for i in found} == expected
    amounts = [float(account.items[i["id"]].values.get("numbers") or -1) for i in found]
    filled = [a for a in amounts if a >= 0]
    assert filled == sorted(filled, reverse=True) and amounts[: len(filled)] == filled  # empties last


async def test_an_unknown_column_in_a_rule_is_monday_s_invalid_column_error(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    reply = await api.post(f'query {{ boards(ids: [{board}]) {{ items_page(query_params: {{rules: [{{column_id: '
                           f'"nope", compare_value: [1]}}]}}) {{ items {{ id }} }} }} }}')
    assert reply.error_codes() == ["InvalidColumnIdException"]
    assert reply.body["errors"][0]["extensions"]["error_data"] == {"column_id": "nope", "board_id": int(board)}
