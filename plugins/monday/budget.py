"""The budget governor of one monday account: complexity points per minute, requests per minute, requests
in flight and calls per day, all kept before monday has to refuse.

Each query asks for `complexity { before query after reset_in_x_seconds }`; the governor keeps what the
server last said (points left, when the window resets) minus what is in flight since, and admits a query
only when its expected cost fits. Short waits are slept; a long one becomes shared.core.http.Throttled, which the
orchestrator waits out on a durable timer.

Every worker of the app shares each budget: the daily cap is counted in storage (storage.py), and a fetch's
client gets a view of the account's budget whose minute windows and slots live in PostgreSQL too
(AccountBudget.shared_by_workers, over shared/db/shared_budget.py and the connection the fetch lends). The budget
a process keeps (its windows in memory) remains for callers that lend no database, and keeps what each kind of
query was seen to cost. No budget holds a database connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from plugins.monday.settings import PlanLimits
from shared.budgets.live import IN_FLIGHT, POINTS, REQUESTS, LiveBudget
from shared.core.http import Governor, RateGovernor, Throttled
from shared.db.shared_budget import SharedBudgets, SharedRateGovernor, SharedSlots

# A ticket of a query whose worker died unanswered stops counting against the shared window after this long.
TICKET_SECONDS = 120.0
# monday counts a request when it arrives, later than it left by varying amounts: windows a little longer than
# monday's (0.25 s + 2%) keep the two from disagreeing at a window's edge.
WINDOW_PAD = 0.25
# Kept free of every window: other integrations of the account spend from it too, and estimates can be low.
COMPLEXITY_RESERVE_SHARE = 0.1
# A large query (an item page: about 210,000 points) leaves this share of each window to small ones (a step of
# updates, a page of the activity log: 2,000-7,000). Without it a board's item pages take each window whole at its
# reset, and the account's updates, a few small queries a window, wait for the next reset every time (a 50-board
# sync: 27 such waits, its updates ending 12 s after the last board).
SMALL_QUERY_POINTS = 10_000
SMALL_QUERY_SHARE = 0.01
# A query held back waits until just after the window's reset (which already errs late).
WAKE_PAD = 0.1
REQUESTS_SHARE = 0.9
# Until monday has reported what a kind of query costs, it is assumed to cost this much per row it asks for
# (a little above what the simulator's estimate charges for the plugin's documents).
COST_HINTS = {"ItemsFirstPage": 460, "ItemsNextPage": 460, "ItemsById": 460, "ActivityLogs": 10, "Boards": 200,
              "Directory": 40, "Updates": 12}


def shared_key(account_key: str) -> str:
    """The key of the account's budgets in the tables every worker shares (also its meter)."""
    return f"monday-account:{account_key}"


def live_budgets(account_key: str, limits: PlanLimits, minute_share: float) -> list[LiveBudget]:
    """The account's minute budgets as AccountBudget keeps them across workers: the complexity window (less the
    reserve kept free), the requests per minute (their share) and the requests in flight."""
    key = shared_key(account_key)
    points = limits.complexity_per_minute
    return [
        LiveBudget("complexity_per_minute", POINTS, key, points, points - round(points * (1 - minute_share)),
                   limits.window_seconds),
        LiveBudget("requests_per_minute", REQUESTS, key, limits.requests_per_minute,
                   max(1, int(limits.requests_per_minute * minute_share)), limits.window_seconds),
        LiveBudget("requests_in_flight", IN_FLIGHT, key, limits.concurrency, max(1, limits.concurrency)),
    ]


def _padded(window: float) -> float:
    return window + WINDOW_PAD + 0.02 * window


def seconds_to_utc_midnight(now: dt.datetime | None = None) -> float:
    moment = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (midnight - moment).total_seconds()


class DailyCounter(Protocol):
    """Where calls per account and UTC day are counted (plugins.monday.storage.MondayStore: PostgreSQL)."""

    def reserve_call(self, account_key: str, cap: int) -> int | None: ...

    def mark_exhausted(self, account_key: str, cap: int) -> None: ...


def _charge(charge: dict[str, Any] | None) -> tuple[int, int, float] | None:
    """(points left after the query, what it cost, seconds until the window resets) from monday's report."""
    if not charge:
        return None
    try:
        return int(charge["after"]), int(charge["query"]), float(charge["reset_in_x_seconds"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Ticket:
    seq: int
    cost: int
    kind: str


class ComplexityWindow:
    """Points left in the current minute as monday reported them, less every query still unanswered."""

    def __init__(self, limit: int, clock: Callable[[], float], window: float = 60.0,
                 reserve_share: float = COMPLEXITY_RESERVE_SHARE) -> None:
        self.limit = limit
        self.window = window
        self.reserve = round(limit * reserve_share)
        self.small_share = round(limit * SMALL_QUERY_SHARE)
        self._clock = clock
        self._lock = threading.Lock()
        self._left = limit
        self._resets_at = 0.0
        self._open: dict[int, Ticket] = {}
        self._seq = itertools.count(1)
        self._last_report = 0
        self._costs: dict[str, int] = {}

    def expected_cost(self, kind: str, rows: int, extra: int = 0) -> int:
        """What monday charged last time for this kind of query and size, else a cautious estimate (`extra`
        covers what else the query asks for, e.g. a page of the activity log)."""
        known = self._costs.get(f"{kind}:{rows}")
        return known if known is not None else COST_HINTS.get(kind, 100) * max(rows, 1) + extra + 100

    def reserve_for(self, cost: int) -> int:
        """What a query of `cost` must leave free: the reserve, and for a large query the small queries' share."""
        return self.reserve + (self.small_share if cost > SMALL_QUERY_POINTS else 0)

    def learn(self, kind: str, rows: int, spent: int) -> None:
        with self._lock:
            self._costs[f"{kind}:{rows}"] = spent

    def take(self, kind: str, cost: int) -> tuple[float, Ticket | None]:
        """(0, ticket) when the query fits now; (seconds to wait, None) when it does not."""
        with self._lock:
            now = self._clock()
            if now >= self._resets_at:
                # Queries still unanswered may reach monday in the new window (shared_budget._TAKE_POINTS).
                self._left = self.limit - sum(t.cost for t in self._open.values())
                self._resets_at = now + self.window
            if cost > self._left - self.reserve_for(cost):
                return max(WAKE_PAD, self._resets_at - now + WAKE_PAD), None
            self._left -= cost
            ticket = Ticket(next(self._seq), cost, kind)
            self._open[ticket.seq] = ticket
            return 0.0, ticket

    def settle(self, ticket: Ticket | None, charge: dict[str, Any] | None, rows: int = 0) -> None:
        """Believe monday: its `after` is what is left, less every other query still open (monday may count one
        admitted earlier after this one: shared_budget._SETTLE_POINTS)."""
        if ticket is None:
            return
        with self._lock:
            self._open.pop(ticket.seq, None)
            reported = _charge(charge)
            if reported is None:
                return
            after, spent, reset = reported
            self._costs[f"{ticket.kind}:{rows}"] = spent  # (under the lock already: not learn())
            if ticket.seq < self._last_report:
                return  # an older answer arriving after a newer one: what it says is left is out of date
            self._last_report = ticket.seq
            self._left = after - sum(t.cost for t in self._open.values())
            self._resets_at = self._clock() + reset

    def refund(self, ticket: Ticket) -> None:
        """The query was never sent (another budget held it back): its points are free again."""
        with self._lock:
            if self._open.pop(ticket.seq, None) is not None:
                self._left += ticket.cost

    def exhausted(self, seconds: float) -> None:
        with self._lock:
            self._left = 0
            self._resets_at = self._clock() + seconds


class SharedComplexity:
    """ComplexityWindow's interface over the account's window in PostgreSQL, shared by every worker: what monday
    last reported is left, less every query any worker sent that is not answered yet. Costs are learned into the
    process's window."""

    def __init__(self, key: str, learned: ComplexityWindow, shared: SharedBudgets) -> None:
        self.key = key
        self.limit = learned.limit
        self._learned = learned
        self._shared = shared

    def expected_cost(self, kind: str, rows: int, extra: int = 0) -> int:
        return self._learned.expected_cost(kind, rows, extra)

    def take(self, kind: str, cost: int) -> tuple[float, Ticket | None]:
        ticket, wait = self._shared.take_points(
            self.key, limit=self.limit, reserve=self._learned.reserve_for(cost), cost=cost,
            window=_padded(self._learned.window), ttl=TICKET_SECONDS)
        if ticket is None:
            return max(WAKE_PAD, wait + WAKE_PAD), None
        return 0.0, Ticket(ticket, cost, kind)

    def settle(self, ticket: Ticket | None, charge: dict[str, Any] | None, rows: int = 0) -> None:
        if ticket is None:
            return
        reported = _charge(charge)
        if reported is None:
            self._shared.drop_ticket(self.key, ticket.seq)
            return
        after, spent, reset = reported
        self._learned.learn(ticket.kind, rows, spent)
        self._shared.settle_points(self.key, ticket.seq, after=after, reset_in=reset + WINDOW_PAD)

    def refund(self, ticket: Ticket) -> None:
        self._shared.refund_ticket(self.key, ticket.seq, self.limit)

    def exhausted(self, seconds: float) -> None:
        self._shared.exhaust_points(self.key, seconds)


class _ProcessSlots:
    """Requests in flight counted in this process only (for callers that lend no database)."""

    def __init__(self, size: int, max_sleep: float, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.size = max(1, size)
        self._slots = threading.BoundedSemaphore(self.size)
        self._max_sleep = max_sleep
        self._sleep = sleep

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        waited = 0.0
        while not self._slots.acquire(blocking=False):
            if waited > self._max_sleep:
                raise Throttled(1.0, f"{self.size} requests of this account are already in flight")
            await self._sleep(0.05)
            waited += 0.05
        try:
            yield
        finally:
            self._slots.release()


class AccountBudget:
    """One monday account's budgets: kept by this process (thread-safe, any event loop), or, for one client, a view
    shared by every worker through PostgreSQL (shared_by_workers)."""

    def __init__(self, account_key: str, limits: PlanLimits, *, daily_share: float, max_sleep: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, minute_share: float = REQUESTS_SHARE,
                 shared: SharedBudgets | None = None, learned: ComplexityWindow | None = None) -> None:
        self.account_key = account_key
        self.limits = limits
        self.daily_share = daily_share
        self.daily_allowance = max(1, int(limits.daily_calls * daily_share))
        self.minute_share = minute_share
        self.max_sleep = max_sleep
        self._clock = clock
        self._sleep = sleep
        window = limits.window_seconds
        self._window = learned or ComplexityWindow(limits.complexity_per_minute, clock, window, 1 - minute_share)
        requests = max(1, int(limits.requests_per_minute * minute_share))
        self.complexity: ComplexityWindow | SharedComplexity
        self._requests: Governor
        if shared is None:
            self.complexity = self._window
            self._requests = RateGovernor([(requests, window)], max_sleep=max_sleep, clock=clock)
            self._slots: _ProcessSlots | SharedSlots = _ProcessSlots(limits.concurrency, max_sleep, sleep)
        else:
            key = shared_key(account_key)
            self.complexity = SharedComplexity(key, self._window, shared)
            self._requests = SharedRateGovernor(key, [(requests, _padded(window))], shared,
                                                max_sleep=max_sleep, sleep=sleep, paced=True)
            self._slots = SharedSlots(key, limits.concurrency, shared, max_sleep=max_sleep, sleep=sleep)

    def shared_by_workers(self, shared: SharedBudgets) -> AccountBudget:
        """A view of this account's budget whose windows and slots every worker shares through `shared` (one per
        client: `shared` is the connection its fetch lent); what queries cost is still learned here."""
        return AccountBudget(self.account_key, self.limits, daily_share=self.daily_share, max_sleep=self.max_sleep,
                             clock=self._clock, sleep=self._sleep, minute_share=self.minute_share, shared=shared,
                             learned=self._window)

    async def admit(self, kind: str, cost: int, counter: DailyCounter) -> Ticket | None:
        """Wait (briefly) until the query fits every budget and count the call in `counter`; Throttled when it
        would be long."""
        waited = 0.0
        while True:
            wait, ticket = await self._take(kind, cost)
            if ticket is not None:
                break
            if waited + wait > self.max_sleep:
                raise Throttled(wait, f"holding back to stay within the account's complexity budget "
                                      f"({self.limits.complexity_per_minute:,} points per minute)")
            await self._sleep(wait)
            waited += wait
        try:
            count = await asyncio.to_thread(counter.reserve_call, self.account_key, self.daily_allowance)
            if count is None:
                raise Throttled(seconds_to_utc_midnight() + 60, self.daily_cap_reason())
            # The request's send time is reserved last, right before it is sent: monday counts it when it arrives,
            # and any step between (a busy thread pool) would let it arrive later than reserved. A long wait here
            # leaves a daily call counted that was not made: the cautious side of the cap.
            await self._requests.acquire()
        except BaseException:
            await self._off_loop(self.complexity.refund, ticket)
            raise
        return ticket

    async def _take(self, kind: str, cost: int) -> tuple[float, Ticket | None]:
        return await self._off_loop(self.complexity.take, kind, cost)

    async def _off_loop(self, call: Callable[..., Any], *args: Any) -> Any:
        # The shared window is a database statement: off the event loop. The process's is a dict: called directly.
        if isinstance(self.complexity, SharedComplexity):
            return await asyncio.to_thread(call, *args)
        return call(*args)

    def daily_cap_reason(self) -> str:
        return (f"the syncs' share of the account's daily call cap is used up ({self.daily_allowance:,} of "
                f"{self.limits.daily_calls:,} calls); syncing resumes after 00:00 UTC")

    def on_refusal(self, code: str | None, retry_after: float, counter: DailyCounter) -> None:
        """monday refused a call for a budget reason anyway (another client spent it): remember it."""
        if code in ("COMPLEXITY_BUDGET_EXHAUSTED", "ComplexityException"):
            self.complexity.exhausted(retry_after)
        elif code in ("DAILY_LIMIT_EXCEEDED", "DailyLimitExceeded"):
            counter.mark_exhausted(self.account_key, self.daily_allowance)

    @contextlib.asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """One of the account's concurrent-request slots for the duration of a request."""
        async with self._slots.held():
            yield


class CallGate:
    """What the shared ApiClient asks before every attempt of one client's next query; its calls are counted in
    the daily counter of the activity the client belongs to."""

    def __init__(self, budget: AccountBudget, counter: DailyCounter) -> None:
        self.budget = budget
        self.counter = counter
        self.kind = ""
        self.cost = 0
        self.ticket: Ticket | None = None

    def prepare(self, kind: str, cost: int) -> None:
        self.kind, self.cost = kind, cost

    async def acquire(self, *, urgent: bool = False, path: int = 0) -> None:
        # No query of ours asks to be urgent or names its path: monday's window favours small queries by its own
        # rule (SMALL_QUERY_SHARE).
        # A retried attempt replaces the previous one: its points were spent or never charged.
        self.budget.complexity.settle(self.ticket, None)
        self.ticket = None
        self.ticket = await self.budget.admit(self.kind, self.cost, self.counter)

    def finish(self, charge: dict[str, Any] | None, rows: int) -> None:
        self.budget.complexity.settle(self.ticket, charge, rows)
        self.ticket = None
