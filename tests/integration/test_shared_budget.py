"""Budgets shared by the app's workers in PostgreSQL (shared/db/shared_budget.py): two governors over two
connections, as two worker processes would have, spend one budget; a crashed holder's concurrency slot comes back;
one worker sees the same sleeps and Throttled hints as with the in-process RateGovernor."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from shared.core.http import Throttled
from shared.db.connect import connect
from shared.db.shared_budget import SharedBudgets, SharedRateGovernor, SharedSlots

pytestmark = pytest.mark.integration


@pytest.fixture
def workers(pg_dsn: str) -> Iterator[list[psycopg.Connection]]:
    """Two autocommit connections as the app's role: what two worker processes' fetch activities hold."""
    conns = [connect(autocommit=True), connect(autocommit=True)]
    try:
        yield conns
    finally:
        for conn in conns:
            conn.close()


def key() -> str:
    return f"test-budget:{uuid.uuid4().hex[:8]}"


class Sleeps:
    """Records the governor's sleeps instead of sleeping (the database's clock still runs)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_two_workers_governors_spend_one_request_budget(workers):
    budget = key()
    first, second = (SharedRateGovernor(budget, [(3, 60.0)], SharedBudgets(db)) for db in workers)
    await first.acquire()
    await second.acquire()
    await first.acquire()
    # Three requests in the minute between them: neither worker may send a fourth, each would alone.
    for governor in (second, first):
        with pytest.raises(Throttled) as caught:
            await governor.acquire()
        assert 55 <= caught.value.retry_after <= 60
    other = SharedRateGovernor(key(), [(3, 60.0)], SharedBudgets(workers[1]))
    await other.acquire()  # another realm's budget is its own


async def test_one_worker_sleeps_short_waits_and_hands_back_long_ones_as_the_in_process_governor(workers):
    sleeps = Sleeps()
    governor = SharedRateGovernor(key(), [(2, 1.0), (4, 60.0)], SharedBudgets(workers[0]), max_sleep=2.0,
                                  sleep=sleeps)
    await governor.acquire()
    await governor.acquire()
    assert sleeps.slept == []
    # The per-second window is full: the next two are scheduled a second after the first two and sleep till then.
    await governor.acquire()
    await governor.acquire()
    assert len(sleeps.slept) == 2 and all(0.5 < s <= 1.0 for s in sleeps.slept)
    # The per-minute window is full: a minute's wait is handed back, and nothing was reserved for it.
    with pytest.raises(Throttled) as caught:
        await governor.acquire()
    assert 55 <= caught.value.retry_after <= 60
    with pytest.raises(Throttled):
        await governor.acquire()


async def test_a_larger_window_on_a_budget_waits_for_the_sends_already_made(workers):
    budget = key()
    small = SharedRateGovernor(budget, [(2, 60.0)], SharedBudgets(workers[0]))
    await small.acquire()
    await small.acquire()
    # A worker with a longer ring (a configuration change) counts the sends already made, cautiously.
    larger = SharedRateGovernor(budget, [(2, 60.0), (5, 60.0)], SharedBudgets(workers[1]))
    with pytest.raises(Throttled):
        await larger.acquire()


async def test_a_crashed_holders_slot_comes_back_when_its_lease_expires(pg_dsn, workers):
    budget = key()
    crashed = connect(autocommit=True)
    assert SharedBudgets(crashed).take_slot(budget, 1, "dead-worker", 1.0) == 1
    crashed.close()  # the worker died holding it: nobody frees or renews it
    alive = SharedBudgets(workers[0])
    assert alive.take_slot(budget, 1, "impatient", 1.0) is None  # still leased
    async with SharedSlots(budget, 1, alive, max_sleep=5.0).held() as slot:
        assert slot == 1
        assert SharedBudgets(workers[1]).take_slot(budget, 1, "other", 30.0) is None
    assert SharedBudgets(workers[1]).take_slot(budget, 1, "other", 30.0) == 1


async def test_a_held_slot_is_renewed_while_its_request_runs_and_freed_after(workers):
    import asyncio

    budget = key()
    mine, theirs = SharedBudgets(workers[0]), SharedBudgets(workers[1])
    async with SharedSlots(budget, 1, mine, lease=2.0).held():
        await asyncio.sleep(3.0)  # longer than the lease: renewed meanwhile (every third of it)
        assert theirs.take_slot(budget, 1, "other", 30.0) is None
        with pytest.raises(Throttled) as caught:
            async with SharedSlots(budget, 1, theirs, max_sleep=0.1).held():
                pass
        assert "1 requests of this account are already in flight" in caught.value.reason
    assert theirs.take_slot(budget, 1, "other", 30.0) == 1


def test_a_points_budget_is_shared_and_believes_the_sources_latest_report(workers):
    budget = key()
    a, b = SharedBudgets(workers[0]), SharedBudgets(workers[1])
    terms = {"limit": 1000, "reserve": 100, "window": 60.0, "ttl": 60.0}
    first, _ = a.take_points(budget, cost=400, **terms)
    second, _ = b.take_points(budget, cost=400, **terms)
    assert first is not None and second is not None and second > first
    # 800 of 1,000 taken by the two workers, 100 kept in reserve: a third 400 waits for the reset.
    ticket, wait = a.take_points(budget, cost=400, **terms)
    assert ticket is None and 55 <= wait <= 60
    # The first query cost less than expected (600 left after it), the second is still unanswered (400 expected).
    a.settle_points(budget, first, after=600, reset_in=30)
    ticket, _ = b.take_points(budget, cost=100, **terms)
    assert ticket is not None  # 600 - 400 open - 100 reserve: 100 fits
    b.settle_points(budget, second, after=500, reset_in=30)
    a.settle_points(budget, first, after=900, reset_in=30)  # an older report arriving late is not believed
    assert a.take_points(budget, cost=350, **terms)[0] is None  # 500 - 100 open - 100 reserve < 350
    b.refund_ticket(budget, ticket, 1000)
    assert a.take_points(budget, cost=300, **terms)[0] is not None
    a.exhaust_points(budget, 45)
    ticket, wait = b.take_points(budget, cost=1, **terms)
    assert ticket is None and 40 <= wait <= 45


def test_a_report_leaves_out_a_query_admitted_earlier_that_the_source_has_not_counted_yet(workers):
    budget = key()
    a, b = SharedBudgets(workers[0]), SharedBudgets(workers[1])
    terms = {"limit": 1000, "reserve": 100, "window": 60.0, "ttl": 60.0}
    large, _ = a.take_points(budget, cost=400, **terms)
    cheap, _ = b.take_points(budget, cost=50, **terms)
    assert large is not None and cheap is not None and cheap > large
    # The source got to the cheap query first (the large one still queued there): 950 left, the 400 not in it.
    b.settle_points(budget, cheap, after=950, reset_in=30)
    assert a.take_points(budget, cost=500, **terms)[0] is None  # 950 - 400 open - 100 reserve = 450
    assert a.take_points(budget, cost=450, **terms)[0] is not None


def test_a_new_window_starts_less_the_queries_still_unanswered(workers):
    budget = key()
    a = SharedBudgets(workers[0])
    terms = {"limit": 1000, "reserve": 100, "window": 0.2, "ttl": 60.0}
    assert a.take_points(budget, cost=400, **terms)[0] is not None  # sent late in one window, unanswered
    time.sleep(0.3)
    # The window has reset, but the query may reach the source in the new one: 1000 - 400 - 100 reserve = 500.
    ticket, wait = a.take_points(budget, cost=550, **terms)
    assert ticket is None and 0 < wait <= 0.2
    assert a.take_points(budget, cost=500, **terms)[0] is not None


async def test_a_paced_budget_spreads_the_sends_evenly_at_the_rate_its_windows_sustain(workers):
    sleeps = Sleeps()
    budget = key()
    first = SharedRateGovernor(budget, [(4, 1.0), (20, 10.0)], SharedBudgets(workers[0]), paced=True, sleep=sleeps)
    second = SharedRateGovernor(budget, [(4, 1.0), (20, 10.0)], SharedBudgets(workers[1]), paced=True, sleep=sleeps)
    assert first.limits[-1] == (1, 0.5)  # 20 per 10 s sustained: one every half second, not four at once
    for governor in (first, second, first, second):
        await governor.acquire()
    # Each send is half a second after the one before, whichever worker sends it.
    assert len(sleeps.slept) == 3
    assert [round(s, 1) for s in sleeps.slept] == [0.5, 1.0, 1.5]


async def test_a_send_that_wakes_up_late_reserves_again_and_every_worker_counts_its_late_slot(workers):
    """The late worker's clock is the test's: its first wait ends 0.3 s late, more than its 0.1 s margin."""
    budget = key()
    now = [0.0]
    lateness = iter([0.3])
    slept: list[float] = []

    async def late_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds + next(lateness, 0.0)

    limits = [(4, 1.0)]  # paced: one send every 0.25 s
    on_time = SharedRateGovernor(budget, limits, SharedBudgets(workers[0]), paced=True, sleep=Sleeps())
    late = SharedRateGovernor(budget, limits, SharedBudgets(workers[1]), paced=True, sleep=late_sleep,
                              late_margin=0.1, clock=lambda: now[0])
    await on_time.acquire()
    await late.acquire()
    # Reserved 0.25 s after the first send, woke 0.3 s after that: it reserved again, 0.25 s after its late slot.
    assert len(slept) == 2 and 0.15 < slept[0] <= 0.25 and 0.4 < slept[1] <= 0.5  # less the statements' time
    with workers[0].cursor() as cur:
        sent = cur.execute("SELECT array(SELECT t FROM unnest(sent) AS t WHERE t > '-infinity' ORDER BY t) "
                           "FROM rate_budgets WHERE budget_key = %s", (budget,)).fetchone()[0]
    assert len(sent) == 3  # the late slot is kept, as if used
    assert all((b - a).total_seconds() >= 0.25 for a, b in itertools.pairwise(sent))
    sleeps = Sleeps()
    on_time = SharedRateGovernor(budget, limits, SharedBudgets(workers[0]), paced=True, sleep=sleeps)
    await on_time.acquire()  # the other worker's next send comes after all three
    assert len(sleeps.slept) == 1 and 0.5 < sleeps.slept[0] <= 0.75


async def test_an_urgent_request_of_one_worker_goes_ahead_of_the_ordinary_ones_another_holds_back(workers):
    """Worker one has reserved sends 1.5 s ahead (ten, one every 0.15 s, asked urgently); an ordinary request of
    worker two may reserve only its horizon (0.3 s) ahead, so it sleeps and reserves nothing; an urgent one of
    worker two reserves at once, after worker one's ten. Nothing sleeps here (Sleeps): the waits are what each
    would sleep."""
    budget = key()
    limits = [(10, 1.5)]  # paced: one send every 0.15 s
    first = SharedRateGovernor(budget, limits, SharedBudgets(workers[0]), paced=True, sleep=Sleeps(), horizon=0.3)
    for _ in range(10):
        await first.acquire(urgent=True)
    ordinary_sleeps = Sleeps()
    ordinary = SharedRateGovernor(budget, limits, SharedBudgets(workers[1]), paced=True, sleep=ordinary_sleeps,
                                  horizon=0.3, max_sleep=0.5)
    with pytest.raises(Throttled) as throttled:
        await ordinary.acquire()  # the first free send is about 1.5 s away: more than its max_sleep
    assert 1.2 < throttled.value.retry_after <= 1.5 and ordinary_sleeps.slept == []
    urgent_sleeps = Sleeps()
    urgent = SharedRateGovernor(budget, limits, SharedBudgets(workers[1]), paced=True, sleep=urgent_sleeps,
                                horizon=0.3, max_sleep=2.0)
    await urgent.acquire(urgent=True)
    assert len(urgent_sleeps.slept) == 1 and 1.2 < urgent_sleeps.slept[0] <= 1.5
    # With room to wait, an ordinary request sleeps (really, about 1.35 s) until the queue is its horizon away,
    # then reserves the send after the urgent one.
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)
    waiting = SharedRateGovernor(budget, limits, SharedBudgets(workers[1]), paced=True, sleep=sleep,
                                 horizon=0.3, max_sleep=3.0)
    await waiting.acquire()
    assert 1.1 < slept[0] <= 1.35  # to the horizon: about 1.65 - 0.3 s
    assert 1.5 < sum(slept) <= 1.75  # then to its send, 0.15 s after the urgent one's
