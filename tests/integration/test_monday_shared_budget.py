"""A monday account's minute budgets are the account's, not a worker's: two fetches' clients over two connections
(two worker processes) spend one complexity window, one requests-per-minute window and one set of slots."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from plugins.monday.budget import AccountBudget, SharedComplexity
from plugins.monday.settings import PlanLimits
from plugins.monday.storage import MondayStorage
from shared.core.http import Throttled
from shared.db.connect import connect

pytestmark = pytest.mark.integration


@pytest.fixture
def two_workers(pg_dsn: str) -> Iterator[list[psycopg.Connection]]:
    conns = [connect(autocommit=True), connect(autocommit=True)]
    try:
        yield conns
    finally:
        for conn in conns:
            conn.close()


class Unmetered:
    def reserve_call(self, account_key: str, cap: int) -> int | None:
        return 1

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        pass


def views(conns: list[psycopg.Connection], limits: PlanLimits) -> list[AccountBudget]:
    """Each worker process's own budget for the account, as each fetch's client sees it."""
    account = f"acct-{uuid.uuid4().hex[:8]}"
    return [AccountBudget(account, limits, daily_share=1.0, max_sleep=0.2, minute_share=1.0)
            .shared_by_workers(MondayStorage(conn).shared_budgets()) for conn in conns]


async def test_two_workers_spend_one_complexity_window_and_believe_what_monday_reports(two_workers):
    first, second = views(two_workers, PlanLimits(1000, 1000, 10, complexity_per_minute=10_000))
    assert isinstance(first.complexity, SharedComplexity)
    a = await first.admit("Boards", 4_000, Unmetered())
    b = await second.admit("Boards", 4_000, Unmetered())
    # 8,000 of 10,000 taken by the two workers, 1,000 kept in reserve: neither may send another 4,000 this minute.
    with pytest.raises(Throttled, match="complexity budget"):
        await first.admit("Boards", 4_000, Unmetered())
    # monday says the first cost 1,000 (9,000 left after it): with the second's 4,000 still open, 4,000 fit again.
    first.complexity.settle(a, {"before": 10_000, "query": 1_000, "after": 9_000, "reset_in_x_seconds": 50}, 1)
    assert await second.admit("Boards", 3_000, Unmetered()) is not None
    second.complexity.settle(b, None)
    # A refusal monday sent anyway closes the window for every worker.
    second.on_refusal("COMPLEXITY_BUDGET_EXHAUSTED", 40, Unmetered())
    with pytest.raises(Throttled) as caught:
        await first.admit("Boards", 1, Unmetered())
    assert 35 < caught.value.retry_after <= 41


async def test_two_workers_share_the_requests_per_minute_and_the_slots_in_flight(two_workers):
    first, second = views(two_workers, PlanLimits(1000, requests_per_minute=3, concurrency=1,
                                                  complexity_per_minute=1_000_000))
    await first.admit("Boards", 1, Unmetered())
    # Three a minute, paced: the next request of the account, whichever worker sends it, waits about 20 s.
    for worker in (second, first):
        with pytest.raises(Throttled, match="share is used up") as caught:
            await worker.admit("Boards", 1, Unmetered())
        assert 19 < caught.value.retry_after <= 21
    async with first.in_flight():
        with pytest.raises(Throttled, match="already in flight"):
            async with second.in_flight():
                pass
    async with second.in_flight():
        pass
