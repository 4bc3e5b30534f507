"""The budget governor of one monday account: complexity points per minute, requests per minute, requests
in flight and calls per day, all kept before monday has to refuse.

Each query asks for `complexity { before query after reset_in_x_seconds }`; the governor keeps what the
server last said (points left, when the window resets) minus what is in flight since, and admits a query
only when its expected cost fits. Short waits are slept; a long one becomes shared.core.http.Throttled, which the
orchestrator waits out on a durable timer. The daily cap is counted in storage (storage.py: PostgreSQL) so that
every worker of the app shares one count; each activity's calls are counted through the store it lends its
client, so the budget (shared by the activities of a process) holds no database connection of its own.
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
from shared.core.http import RateGovernor, Throttled

WINDOW_SECONDS = 60.0
# Kept free of every window: other integrations of the account spend from it too, and estimates can be low.
COMPLEXITY_RESERVE_SHARE = 0.1
REQUESTS_SHARE = 0.9
# Until monday has reported what a kind of query costs, it is assumed to cost this much per row it asks for
# (a little above what the simulator's estimate charges for the plugin's documents).
COST_HINTS = {"ItemsFirstPage": 460, "ItemsNextPage": 460, "ItemsById": 460, "ActivityLogs": 10, "Boards": 200,
              "Directory": 40, "Updates": 12}


def seconds_to_utc_midnight(now: dt.datetime | None = None) -> float:
    moment = now or dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(moment.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return (midnight - moment).total_seconds()


class DailyCounter(Protocol):
    """Where calls per account and UTC day are counted (plugins.monday.storage.MondayStore: PostgreSQL)."""

    def reserve_call(self, account_key: str, cap: int) -> int | None: ...

    def mark_exhausted(self, account_key: str, cap: int) -> None: ...


@dataclass
class Ticket:
    seq: int
    cost: int
    kind: str


class ComplexityWindow:
    """Points left in the current minute as monday reported them, less the queries sent since."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._left = limit
        self._resets_at = 0.0
        self._open: dict[int, Ticket] = {}
        self._seq = itertools.count(1)
        self._costs: dict[str, int] = {}

    def expected_cost(self, kind: str, rows: int, extra: int = 0) -> int:
        """What monday charged last time for this kind of query and size, else a cautious estimate (`extra`
        covers what else the query asks for, e.g. a page of the activity log)."""
        known = self._costs.get(f"{kind}:{rows}")
        return known if known is not None else COST_HINTS.get(kind, 100) * max(rows, 1) + extra + 100

    def take(self, kind: str, cost: int) -> tuple[float, Ticket | None]:
        """(0, ticket) when the query fits now; (seconds to wait, None) when it does not."""
        with self._lock:
            now = self._clock()
            if now >= self._resets_at:
                self._left = self.limit
                self._resets_at = now + WINDOW_SECONDS
            reserve = int(self.limit * COMPLEXITY_RESERVE_SHARE)
            if cost > self._left - reserve:
                return max(0.5, self._resets_at - now + 0.5), None
            self._left -= cost
            ticket = Ticket(next(self._seq), cost, kind)
            self._open[ticket.seq] = ticket
            return 0.0, ticket

    def settle(self, ticket: Ticket | None, charge: dict[str, Any] | None, rows: int = 0) -> None:
        """Believe monday: its `after` is what is left, less what was sent after this query and is still open."""
        if ticket is None:
            return
        with self._lock:
            self._open.pop(ticket.seq, None)
            if not charge:
                return
            try:
                after, spent, reset = int(charge["after"]), int(charge["query"]), float(charge["reset_in_x_seconds"])
            except (KeyError, TypeError, ValueError):
                return
            self._costs[f"{ticket.kind}:{rows}"] = spent
            later = sum(t.cost for seq, t in self._open.items() if seq > ticket.seq)
            self._left = after - later
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


class AccountBudget:
    """Shared by every activity of this process that calls one account (thread-safe, any event loop)."""

    def __init__(self, account_key: str, limits: PlanLimits, *, daily_share: float, max_sleep: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.account_key = account_key
        self.limits = limits
        self.daily_allowance = max(1, int(limits.daily_calls * daily_share))
        self.max_sleep = max_sleep
        self._clock = clock
        self._sleep = sleep
        self.complexity = ComplexityWindow(limits.complexity_per_minute, clock)
        self._requests = RateGovernor([(max(1, int(limits.requests_per_minute * REQUESTS_SHARE)), WINDOW_SECONDS)],
                                      max_sleep=max_sleep, clock=clock)
        self._slots = threading.BoundedSemaphore(max(1, limits.concurrency))

    async def admit(self, kind: str, cost: int, counter: DailyCounter) -> Ticket | None:
        """Wait (briefly) until the query fits every budget and count the call in `counter`; Throttled when it
        would be long."""
        waited = 0.0
        while True:
            wait, ticket = self.complexity.take(kind, cost)
            if ticket is not None:
                break
            if waited + wait > self.max_sleep:
                raise Throttled(wait, f"holding back to stay within the account's complexity budget "
                                      f"({self.limits.complexity_per_minute:,} points per minute)")
            await self._sleep(wait)
            waited += wait
        try:
            await self._requests.acquire()
            count = await asyncio.to_thread(counter.reserve_call, self.account_key, self.daily_allowance)
        except BaseException:
            self.complexity.refund(ticket)
            raise
        if count is None:
            self.complexity.refund(ticket)
            raise Throttled(seconds_to_utc_midnight() + 60, self.daily_cap_reason())
        return ticket

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
        waited = 0.0
        while not self._slots.acquire(blocking=False):
            if waited > self.max_sleep:
                raise Throttled(1.0, f"{self.limits.concurrency} requests of this account are already in flight")
            await self._sleep(0.05)
            waited += 0.05
        try:
            yield
        finally:
            self._slots.release()


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

    async def acquire(self) -> None:
        # A retried attempt replaces the previous one: its points were spent or never charged.
        self.budget.complexity.settle(self.ticket, None)
        self.ticket = None
        self.ticket = await self.budget.admit(self.kind, self.cost, self.counter)

    def finish(self, charge: dict[str, Any] | None, rows: int) -> None:
        self.budget.complexity.settle(self.ticket, charge, rows)
        self.ticket = None
