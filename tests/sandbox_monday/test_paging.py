"""Cursor paging as the real API does it: 500 a page at most, cursors that expire, null at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.monday import MondayAccount, MondayState, SimClock, create_app

from .conftest import NO_LIMITS, START, TOKEN, Api

FIRST = "query ($b: [ID!], $n: Int!) { boards(ids: $b) { items_page(limit: $n) { cursor items { id name } } } }"
NEXT = "query ($c: String!, $n: Int!) { next_items_page(cursor: $c, limit: $n) { cursor items { id name } } }"


@pytest.fixture
def big_state() -> MondayState:
    big = MondayAccount.generate(seed=5, workspaces=1, boards=1, items_per_board=1200, subitems_per_item=0)
    state = MondayState([big], SimClock(start=START, frozen=True), {TOKEN: big.id}, plan=NO_LIMITS,
                        copy_accounts=False)
    for item in list(state.account().items.values()):
        if item.state != "active":
            state.restore_item(item.id)  # the demo archives and deletes a few; this board wants all 1,200 live
    return state


@pytest.fixture
async def big_api(big_state: MondayState) -> AsyncIterator[Api]:
    async with TestClient(TestServer(create_app(big_state))) as client:
        yield Api(client)


def _board(state: MondayState) -> str:
    return next(iter(state.account().boards))


async def test_paging_1200_items_by_500_returns_each_item_once_and_ends_with_a_null_cursor(
        big_api: Api, big_state: MondayState) -> None:
    board = _board(big_state)
    first = (await big_api.data(FIRST, {"b": [board], "n": 500}))["boards"][0]["items_page"]
    pages, cursor = [first["items"]], first["cursor"]
    while cursor is not None:
        page = (await big_api.data(NEXT, {"c": cursor, "n": 500}))["next_items_page"]
        pages.append(page["items"])
        cursor = page["cursor"]
    assert [len(p) for p in pages] == [500, 500, 200]
    ids = [item["id"] for page in pages for item in page]
    assert len(set(ids)) == 1200
    assert ids == big_state.account().board(board).item_ids  # board order


async def test_items_page_takes_the_cursor_too(big_api: Api, big_state: MondayState) -> None:
    board = _board(big_state)
    first = (await big_api.data(FIRST, {"b": [board], "n": 100}))["boards"][0]["items_page"]
    query = ("query ($b: [ID!], $c: String) { boards(ids: $b) { items_page(limit: 100, cursor: $c) "
             "{ cursor items { id } } } }")
    second = (await big_api.data(query, {"b": [board], "c": first["cursor"]}))["boards"][0]["items_page"]
    assert [i["id"] for i in second["items"]] == big_state.account().board(board).item_ids[100:200]


async def test_the_default_page_is_25_and_more_than_500_is_refused(big_api: Api, big_state: MondayState) -> None:
    board = _board(big_state)
    page = (await big_api.data(f"query {{ boards(ids: [{board}]) {{ items_page {{ items {{ id }} }} }} }}"))
    assert len(page["boards"][0]["items_page"]["items"]) == 25
    reply = await big_api.post(FIRST, {"b": [board], "n": 501})
    assert reply.status == 200 and reply.body["data"]["boards"] == [None]
    assert reply.body["errors"][0]["path"] == ["boards", 0, "items_page"]
    assert reply.error_codes() == ["InvalidArgumentException"]


async def test_a_cursor_expires_60_minutes_after_the_first_page(big_api: Api, big_state: MondayState) -> None:
    first = (await big_api.data(FIRST, {"b": [_board(big_state)], "n": 100}))["boards"][0]["items_page"]
    big_state.clock.advance(59 * 60)
    second = (await big_api.data(NEXT, {"c": first["cursor"], "n": 100}))["next_items_page"]
    big_state.clock.advance(61)
    reply = await big_api.post(NEXT, {"c": second["cursor"], "n": 100})
    assert reply.status == 200 and reply.body["data"] is None  # next_items_page is non-null
    assert reply.error_codes() == ["CursorException"]
    assert "expired" in reply.body["errors"][0]["message"]


async def test_a_forged_cursor_is_a_cursor_exception(big_api: Api) -> None:
    reply = await big_api.post(NEXT, {"c": "MSwxMjMsYWJjLDEwLDUsfDEyMw", "n": 10})
    assert reply.error_codes() == ["CursorException"]


async def test_query_params_and_cursor_cannot_be_combined(big_api: Api, big_state: MondayState) -> None:
    board = _board(big_state)
    first = (await big_api.data(FIRST, {"b": [board], "n": 10}))["boards"][0]["items_page"]
    query = ("query ($b: [ID!], $c: String) { boards(ids: $b) { items_page(limit: 10, cursor: $c, query_params: "
             "{rules: [{column_id: \"name\", compare_value: [\"x\"]}]}) { cursor items { id } } } }")
    reply = await big_api.post(query, {"b": [board], "c": first["cursor"]})
    assert reply.error_codes() == ["InvalidArgumentException"]
    assert "query_params and cursor" in reply.body["errors"][0]["message"]


async def test_items_deleted_after_the_first_page_are_skipped_later(big_api: Api, big_state: MondayState) -> None:
    board = _board(big_state)
    first = (await big_api.data(FIRST, {"b": [board], "n": 10}))["boards"][0]["items_page"]
    doomed = big_state.account().board(board).item_ids[12]
    big_state.delete_item(doomed)
    second = (await big_api.data(NEXT, {"c": first["cursor"], "n": 10}))["next_items_page"]
    assert doomed not in [i["id"] for i in second["items"]] and len(second["items"]) == 9


async def test_group_items_page_pages_one_group(api: Api) -> None:
    data = await api.data("query { boards(limit: 1, board_kind: public) { groups { id items_page(limit: 500) "
                          "{ cursor items { group { id } } } } } }")
    for group in data["boards"][0]["groups"]:
        assert {i["group"]["id"] for i in group["items_page"]["items"]} <= {group["id"]}


async def test_items_page_by_column_values_pages_the_matches(api: Api, state: MondayState) -> None:
    board = next(b for b in state.account().boards.values() if b.object_type == "board" and b.state == "active")
    query = (f'query {{ items_page_by_column_values(board_id: {board.id}, limit: 5, columns: [{{column_id: "status", '
             f'column_values: ["Done"]}}]) {{ cursor items {{ id column_values(ids: ["status"]) {{ text }} }} }} }}')
    page = (await api.data(query))["items_page_by_column_values"]
    assert page["cursor"] is not None and len(page["items"]) == 5
    assert all(i["column_values"][0]["text"] == "Done" for i in page["items"])
    missing = await api.post('query { items_page_by_column_values(board_id: 123456, columns: [{column_id: "status", '
                             'column_values: ["Done"]}]) { cursor } }')
    assert missing.body["data"] is None and missing.error_codes() == ["InvalidBoardIdException"]
    assert missing.body["errors"][0]["extensions"]["error_data"] == {"board_id": 123456}
