"""A large monday account is read within the Standard plan: the daily call cap holds and monday never has to
refuse a call for a budget reason, because the governor waits first.

The plugin reads a simulator on loopback whose clock is frozen: time moves only when the governor sleeps or
when a Throttled hint is waited out (as the orchestrator's durable timer would), so minutes of budget windows
pass in milliseconds. The default run is 5,000 items with the complexity budget scaled down tenfold (the same
pressure per window as 50,000 items at the Standard plan's 10M points); BIZ_SLOW_TESTS=1 also runs the real
50,000 items at the real Standard budget.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from plugins.monday.boards import BoardInfo, status_context
from plugins.monday.items import start_cursor
from plugins.monday.lists import boards_start, directory_start, updates_start
from plugins.monday.plugin import MondayPlugin
from plugins.monday.settings import PLANS
from shared.core.http import Throttled
from shared.db.connections import Connection
from tests.sim_server import serve

STANDARD = PLANS["standard"]
DAILY_ALLOWANCE = int(STANDARD.daily_calls * 0.9)  # the syncs' default share of the cap


class DayCounter:
    """The daily cap's count for one run (PostgreSQL holds it in production: test_monday_storage)."""

    def __init__(self) -> None:
        self.calls = 0

    def reserve_call(self, account_key: str, cap: int) -> int | None:
        if self.calls >= cap:
            return None
        self.calls += 1
        return self.calls

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        self.calls = cap


@dataclass
class Outcome:
    calls: int
    waits: int
    waited_seconds: float
    items: set[str]


async def read_everything(plugin: MondayPlugin, connection: Connection, clock: Any) -> Outcome:
    """Every stream to its end, as the orchestrator runs them (one at a time here), waiting out hints."""
    outcome = Outcome(0, 0, 0.0, set())
    async with aiohttp.ClientSession() as session:
        api = await plugin.open_api(connection, session, DayCounter())

        async def drain(stream: str, cursor: dict[str, Any] | None) -> list[dict[str, Any]]:
            records = []
            while cursor is not None:
                try:
                    page = await plugin.fetch_page(api, connection, stream, cursor)
                except Throttled as hint:
                    outcome.waits += 1
                    outcome.waited_seconds += hint.retry_after
                    clock.advance(hint.retry_after)  # the durable timer
                    continue
                records += page.records
                cursor = page.next_cursor
            return records

        await drain("directory", directory_start())
        await drain("updates", updates_start(None))
        boards = [r["record"] for r in await drain("boards", boards_start(None))]
        for board in boards:
            if board["state"] == "deleted":
                continue
            info = BoardInfo(board["id"], board["state"], board["type"], None, False, None,
                             [(c["id"], c.get("settings") or {}) for c in board["columns"] if c["type"] == "status"])
            cursor = start_cursor(board["id"], since=None, logs_from=None, status=status_context(info, None, ("Done",)),
                                  columns=None, board_updated_at=None)
            records = await drain(f"items:{board['id']}", cursor)
            outcome.items |= {r["id"] for r in records if r["kind"] == "item" and r["record"].get("state") != "deleted"}
        outcome.calls = api.calls
    return outcome


def run_account(items_per_board: int, complexity_per_minute: int, monkeypatch: pytest.MonkeyPatch):
    from sandbox.monday import MondayAccount, MondayState, PlanLimits, SimClock, create_app

    # Six boards: the generator deletes the last and archives the one before; five are read.
    account = MondayAccount.generate(seed=5, workspaces=2, boards=6, items_per_board=items_per_board,
                                     subitems_per_item=2)
    clock = SimClock(start="2026-05-04T09:00:00Z", frozen=True)
    limits = PlanLimits(STANDARD.daily_calls, STANDARD.requests_per_minute, STANDARD.concurrency,
                        complexity_per_minute)
    state = MondayState(accounts=[account], clock=clock, tokens={"budget-token": account.id}, plan=limits,
                        copy_accounts=False)
    monkeypatch.setenv("SECRET_CONN_MONDAY_BUDGET_TOKEN", "budget-token")

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    plugin = MondayPlugin(clock=clock.elapsed, sleep=sleep)
    with serve(create_app(state)) as url:
        connection = Connection("monday-budget", "monday", "budget", {
            "api_token_secret": "conn-monday-budget-token", "base_url": url, "plan": "standard",
            "complexity_per_minute": complexity_per_minute})
        outcome = asyncio.run(read_everything(plugin, connection, clock))
    readable = {b.id for b in account.boards.values() if b.state != "deleted"}
    expected = {i.id for i in account.items.values() if i.board_id in readable and i.state != "deleted"}
    return state, account, outcome, expected


def assert_no_unplanned_refusal(state: Any, outcome: Outcome) -> None:
    stats = state.stats()
    assert stats["refused"] == 0 and "429" not in stats["by_status"], stats
    assert stats["calls_today"] == outcome.calls <= DAILY_ALLOWANCE


def test_5000_items_at_a_tenth_of_the_standard_budget_stay_within_it_and_project_50000_under_the_cap(monkeypatch):
    state, _, outcome, expected = run_account(345, STANDARD.complexity_per_minute // 10, monkeypatch)
    assert len(expected) > 5000 and outcome.items == expected
    assert_no_unplanned_refusal(state, outcome)
    assert outcome.waits > 0  # the governor did hold back: the budget was the binding limit
    # Every call scaled with the items (the directory and board lists do not grow with them): an upper bound
    # for 50,000 items of the same shape. The real 50,000-item run (below) took 265 calls.
    per_thousand = outcome.calls / (len(expected) / 1000)
    projected = math.ceil(per_thousand * 50)
    print(f"\n{outcome.calls} calls for {len(expected)} items ({per_thousand:.1f} per 1,000 items); 50,000 items: "
          f"at most {projected} calls of {DAILY_ALLOWANCE}; {outcome.waits} waits "
          f"({outcome.waited_seconds:.0f} s of simulated time)")
    assert projected <= DAILY_ALLOWANCE


# About 25 s: worth it, this is the plan's real daily cap at the real scale.
def test_50000_items_at_the_standard_budget_stay_within_the_daily_cap(monkeypatch):
    state, _, outcome, expected = run_account(3410, STANDARD.complexity_per_minute, monkeypatch)
    assert len(expected) >= 50_000 and outcome.items == expected
    assert_no_unplanned_refusal(state, outcome)
    print(f"\n{outcome.calls} calls for {len(expected)} items; {outcome.waits} waits "
          f"({outcome.waited_seconds:.0f} s of simulated time)")
