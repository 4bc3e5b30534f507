"""The account's budget governor: it admits a query only when its cost fits what monday said is left, sleeps
through short waits, turns long ones into a retry-after hint, and guards the daily call cap."""

from __future__ import annotations

import pytest

from plugins.monday.budget import AccountBudget, ComplexityWindow
from plugins.monday.settings import PlanLimits
from shared.core.http import Throttled

LIMITS = PlanLimits(daily_calls=1000, requests_per_minute=1000, concurrency=2, complexity_per_minute=1_000_000)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Day:
    def __init__(self, used: int = 0) -> None:
        self.used = used
        self.exhausted = False

    def reserve_call(self, account_key: str, cap: int) -> int | None:
        if self.used >= cap:
            return None
        self.used += 1
        return self.used

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        self.used, self.exhausted = cap, True


def budget(clock: Clock, *, max_sleep: float = 2.0, share: float = 1.0) -> AccountBudget:
    return AccountBudget("acct", LIMITS, daily_share=share, max_sleep=max_sleep, clock=clock, sleep=clock.sleep)


def charge(before: int, cost: int, reset: int) -> dict[str, int]:
    return {"before": before, "query": cost, "after": before - cost, "reset_in_x_seconds": reset}


async def test_queries_are_admitted_while_their_cost_fits_then_held_back_until_the_window_resets():
    clock = Clock()
    governor = budget(clock, max_sleep=120)
    for _ in range(4):
        ticket = await governor.admit("ItemsNextPage", 200_000, Day())
        governor.complexity.settle(ticket, charge(governor.complexity._left + 200_000, 200_000, 60), 500)
    # 800,000 of 1,000,000 spent and a tenth kept in reserve: the fifth waits for the reset, by sleeping.
    await governor.admit("ItemsNextPage", 200_000, Day())
    assert clock.slept and 59 < sum(clock.slept) < 62


async def test_a_long_wait_becomes_a_retry_after_hint_for_the_orchestrator():
    clock = Clock()
    governor = budget(clock)
    governor.complexity.exhausted(45)
    with pytest.raises(Throttled) as hint:
        await governor.admit("Boards", 10_000, Day())
    assert 45 <= hint.value.retry_after <= 46 and "complexity budget" in hint.value.reason
    assert clock.slept == []


def test_what_monday_reports_wins_over_the_local_count_less_what_is_still_in_flight():
    clock = Clock()
    window = ComplexityWindow(1_000_000, clock)
    _, first = window.take("ItemsNextPage", 200_000)
    _, second = window.take("ItemsNextPage", 200_000)
    # Another client of the account spent 300,000 meanwhile: monday's `after` says so.
    window.settle(first, charge(1_000_000 - 300_000, 200_000, 50), 500)
    assert window._left == 500_000 - 200_000  # the second query is still in flight
    window.settle(second, charge(500_000, 200_000, 49), 500)
    assert window._left == 300_000
    assert window.expected_cost("ItemsNextPage", 500) == 200_000  # learnt from monday, not the hint


def test_a_query_admitted_earlier_that_monday_counts_later_still_counts_against_the_window():
    window = ComplexityWindow(1_000_000, Clock())
    _, items = window.take("ItemsNextPage", 300_000)  # queued at monday behind the cheaper query below
    _, updates = window.take("Updates", 2_000)
    window.settle(updates, charge(1_000_000, 2_000, 50), 10)  # monday's report does not count the item page yet
    assert window._left == 998_000 - 300_000
    window.settle(items, charge(998_000, 300_000, 49), 500)  # an older ticket's report, out of date: not believed
    assert window._left == 698_000
    assert window.take("ItemsNextPage", 600_000)[1] is None  # 698,000 less the 100,000 reserve


def test_a_new_window_starts_less_the_queries_still_unanswered():
    clock = Clock()
    window = ComplexityWindow(1_000_000, clock)
    window.take("ItemsNextPage", 400_000)  # admitted late in one window, still unanswered
    clock.now += 61
    # It may reach monday in the new window: 1,000,000 - 400,000, less the reserve and the small queries' share.
    assert window.take("ItemsNextPage", 500_000)[1] is None
    assert window.take("ItemsNextPage", 490_000)[1] is not None


def test_large_queries_leave_a_share_of_the_window_to_small_ones():
    clock = Clock()
    window = ComplexityWindow(1_000_000, clock)
    assert window.take("ItemsNextPage", 890_000)[1] is not None  # all but the reserve and the small share
    wait, refused = window.take("ItemsNextPage", 10_001)
    assert refused is None and 60 < wait < 61
    for _ in range(5):  # updates steps of 2,000 points go on in the same window
        assert window.take("Updates", 2_000)[1] is not None
    assert window.take("Updates", 1)[1] is None  # the reserve itself stays free


def test_a_query_that_was_never_sent_gives_its_points_back():
    window = ComplexityWindow(1_000_000, Clock())
    _, ticket = window.take("Boards", 400_000)
    window.refund(ticket)
    assert window._left == 1_000_000


async def test_the_daily_cap_stops_calls_before_monday_would_refuse_them_and_keeps_a_share_free():
    clock = Clock()
    day = Day(used=899)
    governor = budget(clock, share=0.9)
    await governor.admit("Boards", 10, day)
    with pytest.raises(Throttled) as hint:
        await governor.admit("Boards", 10, day)
    assert "(900 of 1,000 calls)" in hint.value.reason and "00:00 UTC" in hint.value.reason
    assert 60 < hint.value.retry_after <= 86_400 + 60
    assert governor.complexity._left == 1_000_000 - 10  # the refused call's points came back


def test_a_refusal_monday_sent_anyway_is_remembered():
    clock = Clock()
    day = Day()
    governor = budget(clock)
    governor.on_refusal("COMPLEXITY_BUDGET_EXHAUSTED", 30, day)
    assert governor.complexity.take("Boards", 1)[1] is None
    governor.on_refusal("DAILY_LIMIT_EXCEEDED", 3600, day)
    assert day.exhausted


async def test_requests_in_flight_are_bounded_per_account():
    clock = Clock()
    governor = budget(clock, max_sleep=0.1)
    async with governor.in_flight(), governor.in_flight():
        with pytest.raises(Throttled, match="already in flight"):
            async with governor.in_flight():
                pass
    async with governor.in_flight():
        pass
