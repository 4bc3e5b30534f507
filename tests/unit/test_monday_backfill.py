"""A monday backfill: one item stream per readable board, filtered server-side to the items updated since the date,
with no activity log, no sweep, no account-wide stream and no watermark, so every board's own stays as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from plugins.monday import PLUGIN
from plugins.monday.items import fetch
from plugins.monday.plugin import MondayPlugin
from shared.db.connections import Connection
from tests.sim_server import serve
from tests.unit.test_monday_plan import BOARDS, Loaded, connection

TOKEN = "backfill-token"


class NothingLoaded(Loaded):
    def known_boards(self, connection_id: str) -> dict:
        return {}


def test_a_backfill_reads_every_readable_board_from_midnight_utc_without_logs_sweep_or_account_streams():
    plan = PLUGIN.plan(connection(), "backfill", {}, 0, store=Loaded(), since="2026-02-01")
    assert plan.refused is None and not plan.next_phase
    # Deleted board 3 and the document 4 are not read; no directory, boards or updates stream.
    assert [(p.stream, p.sweep) for p in plan.streams] == [("items:1", False), ("items:11", False),
                                                          ("items:2", False), ("items:22", False)]
    cursor = plan.streams[0].cursor
    assert cursor["since"] == "2026-02-01T00:00:00Z" and cursor["backfill"] is True
    assert cursor["logs_started"] and cursor["logs_done"] and cursor["logs_from"] is None
    assert cursor["status"] == {"column": "status", "done": [1, 7], "labels": ["Done"]}
    assert cursor["board_updated_at"] == BOARDS["1"].updated_at
    assert "backfill from 2026-02-01" in plan.notes[0] and "4 boards" in plan.notes[0]


def test_a_backfill_reads_every_board_even_one_an_incremental_run_would_skip_as_unchanged():
    marks = {"items:1": {"since": "2026-04-30T00:00:00Z", "board_updated_at": BOARDS["1"].updated_at}}
    plan = PLUGIN.plan(connection(), "backfill", marks, 0, store=Loaded(), since="2026-02-01")
    assert "items:1" in [p.stream for p in plan.streams]
    assert plan.streams[0].cursor["since"] == "2026-02-01T00:00:00Z"  # the date, not the board's watermark


def test_a_selection_backfills_the_chosen_boards_and_their_subitems_boards():
    plan = PLUGIN.plan(connection(boards=["1"]), "backfill", {}, 0, store=Loaded(), since="2026-02-01")
    assert [p.stream for p in plan.streams] == ["items:1", "items:11"]


def test_a_backfill_before_any_board_was_loaded_or_with_a_bad_date_is_refused_saying_why():
    refused = PLUGIN.plan(connection(), "backfill", {}, 0, store=NothingLoaded(), since="2026-02-01").refused
    assert refused and "run a full sync first" in refused
    assert "YYYY-MM-DD" in PLUGIN.plan(connection(), "backfill", {}, 0, store=Loaded(), since="2026-2-1").refused
    assert "YYYY-MM-DD" in PLUGIN.plan(connection(), "backfill", {}, 0, store=Loaded()).refused


class Unmetered:
    def reserve_call(self, account_key: str, cap: int) -> int:
        return 1

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        pass


@pytest.fixture
async def simulated(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, Any, Any]]:
    from sandbox.monday import MondayAccount, MondayState, SimClock, create_app

    account = MondayAccount.generate(seed=11, workspaces=1, boards=4, items_per_board=30, subitems_per_item=1)
    state = MondayState(accounts=[account], clock=SimClock(start="2026-05-04T09:00:00Z", frozen=True),
                        tokens={TOKEN: account.id}, copy_accounts=False)
    monkeypatch.setenv("SECRET_CONN_BACKFILL_TOKEN", TOKEN)
    with serve(create_app(state)) as url:
        conn = Connection("backfill", "monday", "backfill", {"api_token_secret": "conn-backfill-token",
                                                             "base_url": url, "item_page_size": 5})
        async with aiohttp.ClientSession() as session:
            yield state, account, await MondayPlugin().open_api(conn, session, Unmetered())


async def test_a_backfill_chain_reads_only_the_items_updated_since_the_date_and_ends_without_a_watermark(simulated):
    _, account, client = simulated
    board = sorted((b for b in account.boards.values() if b.object_type == "board" and b.state == "active"),
                   key=lambda b: int(b.id))[0]
    plan = PLUGIN.plan(Connection("backfill", "monday", "b", {"api_token_secret": "conn-backfill-token"}),
                       "backfill", {}, 0, store=Loaded(), since="2025-12-01")
    cursor: dict[str, Any] | None = {**plan.streams[0].cursor, "board": board.id}
    records, pages = [], []
    while cursor is not None:
        page = await fetch(client, cursor)
        records += page.records
        pages.append(page)
        cursor = page.next_cursor
    assert all(page.watermark is None for page in pages)
    assert {r["kind"] for r in records} == {"item"}  # no activity log, no refresh by id
    found = {r["id"] for r in records}
    # The server filtered on __last_updated__ from the date less the usual hour of overlap: nothing older came back.
    floor = dt.datetime(2025, 11, 30, 23, tzinfo=dt.UTC)
    expected = {i for i in board.item_ids if account.items[i].state == "active" and account.items[i].parent_id is None
                and account.items[i].updated_at >= floor}
    assert expected and found == expected
    assert len(found) < len([i for i in board.item_ids if account.items[i].state == "active"])
