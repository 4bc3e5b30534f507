"""The shared per-minute budgets (migration 0036, shared/db/shared_budget.py) read as they stand, by the database's
clock like every acquire: requests sent in a window, requests in flight, a points budget's window. Reads only; no
row is locked or created (a budget nobody has spent from yet has no row).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

# Sends reserved ahead (a governor's short wait) count as sent: they are committed and will go.
_REQUESTS = """
SELECT count(*) FILTER (WHERE s.t > n.now - make_interval(secs => %(window)s)),
       min(s.t) FILTER (WHERE s.t > n.now - make_interval(secs => %(window)s)) + make_interval(secs => %(window)s),
       n.now
FROM (SELECT clock_timestamp() AS now) AS n
LEFT JOIN rate_budgets r ON r.budget_key = %(key)s
LEFT JOIN LATERAL unnest(r.sent) AS s(t) ON true
GROUP BY n.now"""

_IN_FLIGHT = """
SELECT count(*) FILTER (WHERE r.holder IS NOT NULL AND r.expires_at > n.now), n.now
FROM (SELECT clock_timestamp() AS now) AS n
LEFT JOIN request_slots r ON r.budget_key = %(key)s
GROUP BY n.now"""

# A window past its reset is full again (the next query starts a new one: shared_budget._TAKE_POINTS).
_POINTS = """
SELECT CASE WHEN n.now >= p.resets_at THEN NULL ELSE p.points_left END,
       CASE WHEN n.now >= p.resets_at THEN NULL ELSE p.resets_at END,
       p.updated_at,
       (SELECT coalesce(sum(t.cost), 0) FROM points_tickets t
        WHERE t.budget_key = %(key)s AND t.expires_at > n.now AND n.now < p.resets_at),
       n.now
FROM (SELECT clock_timestamp() AS now) AS n
LEFT JOIN points_budgets p ON p.budget_key = %(key)s"""


@dataclass(frozen=True)
class Sent:
    count: int  # requests sent (or reserved) in the window ending now
    frees_at: dt.datetime | None  # when the oldest of them leaves the window; None: none in it
    at: dt.datetime


@dataclass(frozen=True)
class Points:
    left: int | None  # what the source last reported, less what was sent since; None: the window is full again
    resets_at: dt.datetime | None
    reported_at: dt.datetime | None  # the last change: a report, or points taken
    pending: int  # points of queries sent and not answered yet (already taken off `left`)
    at: dt.datetime


def requests_sent(db: psycopg.Connection, key: str, window: float) -> Sent:
    row = db.execute(_REQUESTS, {"key": key, "window": float(window)}).fetchone()
    assert row is not None
    return Sent(int(row[0]), row[1], row[2])


def requests_in_flight(db: psycopg.Connection, key: str) -> tuple[int, dt.datetime]:
    """(requests holding a slot whose lease has not expired, the database's clock)."""
    row = db.execute(_IN_FLIGHT, {"key": key}).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def points(db: psycopg.Connection, key: str) -> Points:
    row = db.execute(_POINTS, {"key": key}).fetchone()
    assert row is not None
    left = None if row[0] is None else int(row[0])
    return Points(left, row[1], row[2], int(row[3] or 0), row[4])
