"""monday's per-account budgets over simulated time: daily calls, requests per minute, concurrency, complexity.

Numbers from api-facts: daily calls 1,000 (free/basic/standard) / 10,000 (pro) / 25,000 (enterprise),
reset 00:00 UTC, failed calls count too; requests per minute 1,000 / 2,500 / 5,000; concurrent requests
40 / 100 / 250; complexity 10M points per minute for personal tokens (1M on free), a sliding window that
resets 60 s after its first call; at most 5M points per query. monday's support pages give free/trial
accounts 200 daily calls; a custom PlanLimits can model that.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from .clock import SimClock

MAX_QUERY_COMPLEXITY = 5_000_000
WINDOW_SECONDS = 60.0
UNLIMITED_REPORTED = 10_000_000  # what `complexity { before }` shows when the budget is switched off


@dataclass(frozen=True)
class PlanLimits:
    """None switches a limit off."""

    daily_calls: int | None
    per_minute: int | None
    concurrency: int | None
    complexity_per_minute: int | None
    max_query_complexity: int = MAX_QUERY_COMPLEXITY
    # The length of the "minute" of requests and complexity; a test scales it down to take seconds, not minutes.
    window_seconds: float = WINDOW_SECONDS


PLANS: dict[str, PlanLimits] = {
    "free": PlanLimits(1_000, 1_000, 40, 1_000_000),
    "basic": PlanLimits(1_000, 1_000, 40, 10_000_000),
    "standard": PlanLimits(1_000, 1_000, 40, 10_000_000),
    "pro": PlanLimits(10_000, 2_500, 100, 10_000_000),
    "enterprise": PlanLimits(25_000, 5_000, 250, 10_000_000),
}
UNLIMITED = PlanLimits(None, None, None, None)


def plan_limits(plan: str | PlanLimits) -> PlanLimits:
    if isinstance(plan, PlanLimits):
        return plan
    try:
        return PLANS[plan]
    except KeyError:
        raise ValueError(f"unknown plan {plan!r}; expected one of {sorted(PLANS)} or a PlanLimits") from None


@dataclass
class ComplexityCharge:
    before: int
    query: int
    after: int
    reset_in_x_seconds: int


class Budget:
    def __init__(self, limits: PlanLimits, clock: SimClock) -> None:
        self.limits = limits
        self._clock = clock
        self._calls: Counter[tuple[str, str]] = Counter()  # (account, UTC day) -> calls
        self._minute: dict[str, deque[float]] = defaultdict(deque)
        self._window: dict[str, tuple[float, int]] = {}  # account -> (window start, points used)
        self._in_flight: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.charged: Counter[str] = Counter()  # complexity points taken since start (a benchmark's measure)

    # -- daily calls -------------------------------------------------------------------------------------
    def _today(self) -> str:
        return self._clock.now().date().isoformat()

    def record_call(self, account: str) -> None:
        self._calls[(account, self._today())] += 1

    def calls_today(self, account: str) -> int:
        return self._calls[(account, self._today())]

    def daily_retry(self, account: str) -> int | None:
        """Seconds until 00:00 UTC when today's calls (this one included) exceed the cap, else None."""
        cap = self.limits.daily_calls
        if cap is None or self.calls_today(account) <= cap:
            return None
        self.refused[account] += 1
        return self._clock.seconds_to_midnight_utc()

    # -- requests per minute -----------------------------------------------------------------------------
    def _recent(self, account: str) -> deque[float]:
        now = self._clock.elapsed()
        times = self._minute[account]
        while times and times[0] <= now - self.limits.window_seconds:
            times.popleft()
        return times

    def minute_retry(self, account: str) -> int | None:
        """Admit the request into the sliding minute, or say in how many seconds a slot frees up."""
        cap = self.limits.per_minute
        times = self._recent(account)
        if cap is not None and len(times) >= cap:
            self.refused[account] += 1
            return max(1, int(times[0] + self.limits.window_seconds - self._clock.elapsed() + 0.999))
        times.append(self._clock.elapsed())
        return None

    def minute_remaining(self, account: str) -> tuple[int, int] | None:
        """(requests left in the sliding minute, seconds until the oldest one leaves it)."""
        cap = self.limits.per_minute
        if cap is None:
            return None
        times = self._recent(account)
        window = self.limits.window_seconds
        reset = int(times[0] + window - self._clock.elapsed() + 0.999) if times else int(window)
        return max(0, cap - len(times)), max(0, reset)

    # -- concurrency ---------------------------------------------------------------------------------------
    def enter(self, account: str) -> bool:
        cap = self.limits.concurrency
        if cap is not None and self._in_flight[account] >= cap:
            self.refused[account] += 1
            return False
        self._in_flight[account] += 1
        return True

    def leave(self, account: str) -> None:
        self._in_flight[account] -= 1

    # -- complexity --------------------------------------------------------------------------------------
    def _open_window(self, account: str) -> tuple[float, int]:
        now = self._clock.elapsed()
        start, used = self._window.get(account, (now, 0))
        if now - start >= self.limits.window_seconds:
            start, used = now, 0
        return start, used

    def complexity_state(self, account: str) -> tuple[int, int]:
        """(points left, seconds until the window resets) without charging anything."""
        cap = self.limits.complexity_per_minute
        start, used = self._open_window(account)
        reset = max(0, int(start + self.limits.window_seconds - self._clock.elapsed() + 0.999))
        return (cap - used if cap is not None else UNLIMITED_REPORTED), reset

    def charge(self, account: str, points: int) -> ComplexityCharge | None:
        """Take `points` from the minute's budget; None (nothing taken) when they do not fit."""
        cap = self.limits.complexity_per_minute
        start, used = self._open_window(account)
        before, reset = self.complexity_state(account)
        if cap is not None and points > before:
            self.refused[account] += 1
            return None
        self._window[account] = (start, used + points)
        self.charged[account] += points
        return ComplexityCharge(before=before, query=points, after=before - points, reset_in_x_seconds=reset)

    def reset(self) -> None:
        self._calls.clear()
        self._minute.clear()
        self._window.clear()
