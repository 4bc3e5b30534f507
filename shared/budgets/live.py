"""The budgets a source meters per minute (or second), as every worker shares them right now.

A plugin names them (SourcePlugin.live_budgets: which shared budget, what the source allows, what the workers keep
to); this module reads their state from the tables the workers keep them in (shared/db/live_budgets.py) and says
what is used and left. Nothing is counted twice: the governors' own bookkeeping is what is read.

Three kinds, after the three shared budgets of shared/db/shared_budget.py:
- POINTS: a budget the source reports on each answer (e.g. complexity points per minute): used is the limit
  less what the source last said is left, less what was sent since; it resets when the source said it would;
- REQUESTS: requests sent in the last `window_seconds` (a sliding window: it frees up as they age out);
- IN_FLIGHT: requests being answered now, against the concurrency limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from shared.db import live_budgets as tables

POINTS = "points"
REQUESTS = "requests"
IN_FLIGHT = "in_flight"
KINDS = (POINTS, REQUESTS, IN_FLIGHT)


@dataclass(frozen=True)
class LiveBudget:
    """One budget a plugin names: `key` is the shared budget's key (also who holds it, e.g. an account or a realm),
    `limit` what the source allows, `allowance` what the workers keep to (the rest is left to the holder's other
    clients, or is a margin)."""

    name: str  # e.g. complexity_per_minute, requests_per_minute, requests_in_flight
    kind: str  # POINTS, REQUESTS or IN_FLIGHT
    key: str
    limit: int
    allowance: int
    window_seconds: float = 60.0  # REQUESTS: the window the source counts over

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a live budget's kind is one of {', '.join(KINDS)}, not {self.kind!r}")


@dataclass(frozen=True)
class LiveReading:
    """A live budget as it stands: `used` of `limit`; `pending` (POINTS) the points of queries sent and not yet
    answered, already in `used`; `resets_at` when the window starts again (POINTS) or frees a request (REQUESTS)."""

    budget: LiveBudget
    used: int
    remaining: int
    measured_at: dt.datetime
    resets_at: dt.datetime | None = None
    pending: int | None = None
    reported_at: dt.datetime | None = None


def _reading(budget: LiveBudget, used: int, at: dt.datetime, resets_at: dt.datetime | None = None,
             pending: int | None = None, reported_at: dt.datetime | None = None) -> LiveReading:
    used = max(0, used)
    return LiveReading(budget, used, max(0, budget.limit - used), at, resets_at, pending, reported_at)


def read(db: psycopg.Connection, budget: LiveBudget) -> LiveReading:
    """One budget as the shared tables hold it now (a budget nobody spent from yet: nothing used)."""
    if budget.kind == REQUESTS:
        sent = tables.requests_sent(db, budget.key, budget.window_seconds)
        return _reading(budget, sent.count, sent.at, resets_at=sent.frees_at)
    if budget.kind == IN_FLIGHT:
        count, at = tables.requests_in_flight(db, budget.key)
        return _reading(budget, count, at)
    window = tables.points(db, budget.key)
    if window.left is None:  # a fresh window: the first query starts it
        return _reading(budget, 0, window.at, pending=0, reported_at=window.reported_at)
    return _reading(budget, budget.limit - window.left, window.at, resets_at=window.resets_at,
                    pending=window.pending, reported_at=window.reported_at)


def read_all(db: psycopg.Connection, budgets: Iterable[LiveBudget]) -> list[LiveReading]:
    return [read(db, budget) for budget in budgets]
