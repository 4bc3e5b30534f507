"""Reading against the simulator on loopback, its clock driven by the test: one board's chain (items_page ->
next_items_page -> activity log -> refresh by id), and the boards of a selection."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from plugins.monday.client import MondayClient
from plugins.monday.items import deleted_board_cursor, fetch, start_cursor
from plugins.monday.plugin import MondayPlugin
from plugins.monday.timestamps import parse_ts
from shared.core.http import ApiError
from shared.db.connections import Connection
from tests.sim_server import serve

TOKEN = "chain-token"
STATUS = {"column": "status", "done": [1], "labels": ["Done"]}


class Unmetered:
    def reserve_call(self, account_key: str, cap: int) -> int:
        return 1

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        pass


class Loaded(Unmetered):
    """The storage lent to the fetch, in memory: two items of board 42 loaded and not tombstoned."""

    def live_items(self, connection_id: str, board_id: str) -> list[tuple[str, dt.datetime]]:
        assert (connection_id, board_id) == ("chain", "42")
        return [("7", dt.datetime(2026, 5, 1, tzinfo=dt.UTC)), ("8", dt.datetime(2026, 5, 5, 12, tzinfo=dt.UTC))]


@dataclass
class World:
    state: Any
    account: Any
    client: MondayClient


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    from sandbox.monday import MondayAccount, MondayState, SimClock, create_app

    account = MondayAccount.generate(seed=11, workspaces=1, boards=4, items_per_board=30, subitems_per_item=1)
    state = MondayState(accounts=[account], clock=SimClock(start="2026-05-04T09:00:00Z", frozen=True),
                        tokens={TOKEN: account.id}, copy_accounts=False)
    monkeypatch.setenv("SECRET_CONN_CHAIN_TOKEN", TOKEN)
    with serve(create_app(state)) as url:
        connection = Connection("chain", "monday", "chain", {"api_token_secret": "conn-chain-token", "base_url": url,
                                                              "item_page_size": 10, "log_page_size": 40})
        async with aiohttp.ClientSession() as session:
            client = await MondayPlugin().open_api(connection, session, Unmetered())
            yield World(state, account, client)


def boards(account: Any) -> list[Any]:
    return sorted((b for b in account.boards.values() if b.object_type == "board" and b.state == "active"),
                  key=lambda b: int(b.id))


async def read(client: MondayClient, cursor: dict[str, Any]) -> tuple[list[dict], dict]:
    records: list[dict] = []
    watermark: dict = {}
    while cursor is not None:
        page = await fetch(client, cursor)
        records += page.records
        watermark = page.watermark or watermark
        cursor = page.next_cursor
    return records, watermark


def first(board_id: str, **marks: Any) -> dict[str, Any]:
    return start_cursor(board_id, since=marks.get("since"), logs_from=marks.get("logs_from"), status=STATUS,
                        columns=None, board_updated_at=None)


def items_of(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r["record"] for r in records if r["kind"] == "item"}


async def test_a_board_is_read_whole_with_archived_and_deleted_items_found_through_its_log(world):
    board = boards(world.account)[0]
    records, watermark = await read(world.client, first(board.id))
    found = items_of(records)
    on_board = {i: world.account.items[i] for i in board.item_ids}
    assert set(found) == set(on_board)  # active from items_page, the others read by id
    assert {i: r["state"] for i, r in found.items()} == {i: item.state for i, item in on_board.items()}
    assert {r["id"] for r in records if r["kind"] == "activity_log"} == {e.id for e in world.account.activity[board.id]}
    assert watermark["since"] and watermark["logs_from"]


async def test_an_expired_cursor_restarts_only_its_own_board(world):
    one, two = boards(world.account)[:2]
    chain_one, chain_two = first(one.id), first(two.id)
    page_one = await fetch(world.client, chain_one)  # board one's cursor starts its 60 minutes now
    world.state.clock.advance(30 * 60)
    page_two = await fetch(world.client, chain_two)
    world.state.clock.advance(31 * 60)  # one's cursor is 61 minutes old, two's 31
    after_one = await fetch(world.client, page_one.next_cursor)
    after_two = await fetch(world.client, page_two.next_cursor)
    assert after_one.records == [] and after_one.next_cursor["step"] == "first"
    assert after_one.next_cursor["restarts"] == 1
    assert after_two.records and after_two.next_cursor["restarts"] == 0
    rest_one, _ = await read(world.client, after_one.next_cursor)
    rest_two, _ = await read(world.client, after_two.next_cursor)
    seen_one = items_of(page_one.records) | items_of(rest_one)
    assert set(seen_one) == set(one.item_ids)  # every item, the first page's twice (the loader keeps one)
    assert set(items_of(page_two.records) | items_of(after_two.records) | items_of(rest_two)) == set(two.item_ids)


async def test_a_board_whose_cursor_keeps_expiring_fails_with_the_reason(world):
    cursor = first(boards(world.account)[0].id)
    with pytest.raises(ApiError, match="cursor expired 4 times"):
        while cursor is not None:
            page = await fetch(world.client, cursor)
            world.state.clock.advance(3601)  # every page comes later than the cursor lives
            cursor = page.next_cursor


async def test_an_incremental_read_asks_only_for_what_changed_and_learns_removals_from_the_log(world):
    board = boards(world.account)[0]
    _, watermark = await read(world.client, first(board.id))
    world.state.clock.advance(2 * 3600)  # beyond the overlap
    active = [i for i in board.item_ids if world.account.items[i].state == "active"
              and world.account.items[i].parent_id is None]
    world.state.rename_item(active[0], "renamed")
    world.state.archive_item(active[1])
    world.state.delete_item(active[2])
    records, _ = await read(world.client, first(board.id, **watermark))
    found = items_of(records)
    assert found[active[0]]["name"] == "renamed"
    assert found[active[1]]["state"] == "archived" and found[active[2]]["state"] == "deleted"
    # Nothing else but what changed within the overlap before the watermark: the server filtered on
    # __last_updated__ (a chain cannot outlast its cursor, so an hour of overlap misses nothing).
    since = parse_ts(watermark["since"]) - dt.timedelta(hours=1)
    recent = {i for i in board.item_ids if world.account.items[i].updated_at >= since}
    assert set(active[:3]) <= set(found) <= recent
    assert {"update_name", "archive_pulse", "delete_pulse"} <= {
        r["record"]["event"] for r in records if r["kind"] == "activity_log"}


async def test_an_item_monday_no_longer_answers_for_becomes_a_tombstone(world):
    board = boards(world.account)[0]
    _, watermark = await read(world.client, first(board.id))
    victim = next(i for i in board.item_ids if world.account.items[i].state == "active")
    world.state.delete_item(victim)
    del world.account.items[victim]  # gone for good (monday forgets deleted items after 30 days)
    board.item_ids.remove(victim)
    records, _ = await read(world.client, first(board.id, **watermark))
    tombstone = next(r for r in records if r["id"] == victim)
    assert tombstone["tombstone"] is True and tombstone["record"]["state"] == "deleted"


async def test_a_board_selection_reads_the_chosen_boards_then_their_subitems_boards_across_pages(world):
    from dataclasses import replace

    from plugins.monday.lists import boards_start, fetch_boards

    chosen = [b.id for b in boards(world.account)]
    world.client.settings = replace(world.client.settings, board_page_size=1)
    cursor, read = boards_start(tuple(chosen)), []
    while cursor is not None:
        page = await fetch_boards(world.client, cursor)
        read += [r["id"] for r in page.records]
        cursor = page.next_cursor
    assert sorted(read) == sorted(chosen + [world.account.boards[b].subitems_board_id for b in chosen])


async def test_a_board_deleted_since_it_was_read_tombstones_the_items_its_store_holds_without_calling_monday(world):
    world.client.store = Loaded()
    page = await fetch(world.client, deleted_board_cursor("42", "2026-05-04T09:00:00Z"))
    assert world.client.calls == 0
    assert {r["id"]: (r["tombstone"], r["record"]["state"], r["record"]["updated_at"]) for r in page.records} == {
        "7": (True, "deleted", "2026-05-04T09:00:00Z"),
        "8": (True, "deleted", "2026-05-05T12:00:01Z"),  # no earlier than its own last change, or the row stays
    }
    assert page.next_cursor is None
    assert page.watermark == {"board_deleted": True, "board_updated_at": "2026-05-04T09:00:00Z"}
