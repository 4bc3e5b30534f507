"""Budgets every worker process shares, in PostgreSQL (migration 0036): request rates, requests in flight, and a
points budget the source reports. N workers each keeping their own would send N times the allowed rate.

Every acquire is one short statement under one row's lock, timed by the database's clock (clock_timestamp()),
so the workers' clocks never matter and no lock outlives the statement. The statements run on the autocommit
connection an activity lends its plugin for a fetch (shared/db/pool.py held_connection): each reservation is
committed, and so seen by every other worker, before the request it admits is sent.

- SharedRateGovernor (shared.core.http.Governor): sliding windows, e.g. 10 per 1 s and 500 per 60 s. The budget
  keeps the send times of its latest requests; the next request goes at the n-th latest + p for each limit of n
  per p seconds (the in-process RateGovernor's rule, over every worker's requests). Short waits are slept, long
  ones raise Throttled, as RateGovernor does.
- SharedSlots: requests in flight, a leased row per slot, renewed while the request runs; a crashed worker's
  slot frees itself when its lease expires.
- SharedBudgets.take_points / settle_points / ...: a budget the source reports on each answer (what is left and
  when it resets), less what was sent since; see points_budgets in the migration.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import psycopg

from shared.core.http import Reservation, Throttled, lead_of, send_on_time, take_turn

# A slot's lease: renewed every third of it while the request runs, so only a dead holder loses it.
SLOT_LEASE_SECONDS = 30.0
SLOT_POLL_SECONDS = 0.05

_ENSURE_RATE = """
INSERT INTO rate_budgets AS r (budget_key, ring, sent)
VALUES (%(key)s, %(ring)s, array_fill('-infinity'::timestamptz, ARRAY[%(ring)s]))
ON CONFLICT (budget_key) DO UPDATE
-- A larger window than the ring holds: start a larger ring as if every kept send had happened at the latest one
-- (cautious: the new window waits its whole length once).
SET ring = excluded.ring, head = 1,
    sent = array_fill((SELECT max(t) FROM unnest(r.sent) AS t), ARRAY[excluded.ring])
WHERE r.ring < excluded.ring"""

# The ring holds the latest send times; `head` the oldest (next to overwrite), head - 1 the latest, head - n the
# n-th latest. The new send time is never before the latest one, so the ring stays in time order.
_RESERVE_SEND = """
WITH b AS (
    SELECT budget_key, ring, sent, head FROM rate_budgets WHERE budget_key = %(key)s FOR UPDATE
), slot AS (
    SELECT b.budget_key, b.ring, b.head, n.now,
           greatest(n.now, b.sent[(b.head + b.ring - 2) %% b.ring + 1],
                    (SELECT max(b.sent[(b.head - 1 - l.size + b.ring) %% b.ring + 1] + make_interval(secs => l.period))
                     FROM unnest(%(sizes)s::int[], %(periods)s::float8[]) AS l(size, period))) AS at
    FROM b, LATERAL (SELECT clock_timestamp() AS now) AS n
    WHERE b.ring >= %(largest)s
), taken AS (
    UPDATE rate_budgets r SET sent[s.head] = s.at, head = s.head %% s.ring + 1
    FROM slot AS s
    WHERE r.budget_key = s.budget_key AND s.at <= s.now + make_interval(secs => %(max_wait)s)
    RETURNING r.budget_key
)
SELECT extract(epoch FROM s.at - s.now)::float8, EXISTS (SELECT FROM taken) FROM slot AS s"""

_ENSURE_SLOTS = """
INSERT INTO request_slots (budget_key, slot) SELECT %(key)s, generate_series(1, %(size)s)
ON CONFLICT DO NOTHING"""

# The free slot is chosen once (a materialized CTE). As a subquery in FROM it could be the inner side of a nested
# loop (PostgreSQL's choice when its statistics expect one row for the key), rescanned per slot row: each rescan
# skipped the rows the statement had just taken (FOR UPDATE passes over them) and found the next one, so one
# statement took every slot of the budget.
_TAKE_SLOT = """
WITH free AS MATERIALIZED (
    SELECT slot FROM request_slots
    WHERE budget_key = %(key)s AND slot <= %(size)s AND expires_at < clock_timestamp()
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE request_slots r SET holder = %(holder)s, expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
FROM free
WHERE r.budget_key = %(key)s AND r.slot = free.slot
RETURNING r.slot"""

_RENEW_SLOT = """
UPDATE request_slots SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
WHERE budget_key = %(key)s AND slot = %(slot)s AND holder = %(holder)s"""

_FREE_SLOT = """
UPDATE request_slots SET holder = NULL, expires_at = '-infinity'
WHERE budget_key = %(key)s AND slot = %(slot)s AND holder = %(holder)s"""

# The limit is kept for readers (migration 0039): a window refills to it, so used = limit - what is left.
_ENSURE_POINTS = """
INSERT INTO points_budgets AS p (budget_key, points_left, points_limit) VALUES (%(key)s, %(limit)s, %(limit)s)
ON CONFLICT (budget_key) DO UPDATE SET points_limit = excluded.points_limit
WHERE p.points_limit IS DISTINCT FROM excluded.points_limit"""

_PURGE_TICKETS = "DELETE FROM points_tickets WHERE budget_key = %(key)s AND expires_at < clock_timestamp()"

# A window past its reset starts full (the source resets it) less the queries still unanswered: one admitted in
# the last window may reach the source in this one. A query is admitted while its cost fits what is left less the
# reserve, and leaves a ticket until its answer says what it cost.
_TAKE_POINTS = """
WITH b AS (
    SELECT budget_key, points_left, resets_at FROM points_budgets WHERE budget_key = %(key)s FOR UPDATE
), s AS (
    SELECT b.budget_key, n.now,
           CASE WHEN n.now >= b.resets_at
                THEN %(limit)s::bigint - (SELECT coalesce(sum(cost), 0) FROM points_tickets
                                          WHERE budget_key = %(key)s AND expires_at > n.now)
                ELSE b.points_left END AS left_now,
           CASE WHEN n.now >= b.resets_at THEN n.now + make_interval(secs => %(window)s) ELSE b.resets_at END AS resets
    FROM b, LATERAL (SELECT clock_timestamp() AS now) AS n
), taken AS (
    UPDATE points_budgets p SET points_left = s.left_now - %(cost)s, resets_at = s.resets, updated_at = s.now
    FROM s WHERE p.budget_key = s.budget_key AND %(cost)s <= s.left_now - %(reserve)s
    RETURNING p.budget_key, s.now
), ticket AS (
    INSERT INTO points_tickets (budget_key, cost, expires_at)
    SELECT budget_key, %(cost)s, now + make_interval(secs => %(ttl)s) FROM taken
    RETURNING ticket
)
SELECT (SELECT ticket FROM ticket), extract(epoch FROM s.resets - s.now)::float8 FROM s"""

# Believe the source: what it says is left, less every other query still unanswered. Not only those admitted
# after this one: the source counts a query when it gets to it, and a large query admitted earlier can still be
# queued there behind cheap ones admitted later (seen in a sync of 50 streams: twelve large queries admitted 2-6 s
# before a small one were counted 1-7 s after it, and the window overran by 1.2M points; docs/SCALING.md). A query
# the source has counted but not yet answered is subtracted twice until the next report: the cautious side.
_SETTLE_POINTS = """
WITH gone AS (
    DELETE FROM points_tickets WHERE budget_key = %(key)s AND ticket = %(ticket)s RETURNING ticket
), others AS (
    SELECT coalesce(sum(cost), 0) AS points FROM points_tickets
    WHERE budget_key = %(key)s AND ticket <> %(ticket)s AND expires_at > clock_timestamp()
)
UPDATE points_budgets p
SET points_left = %(after)s - others.points, last_report = %(ticket)s, updated_at = clock_timestamp(),
    resets_at = clock_timestamp() + make_interval(secs => %(reset)s)
FROM others WHERE p.budget_key = %(key)s AND p.last_report < %(ticket)s"""

_DROP_TICKET = "DELETE FROM points_tickets WHERE budget_key = %(key)s AND ticket = %(ticket)s"

_REFUND_TICKET = """
WITH gone AS (DELETE FROM points_tickets WHERE budget_key = %(key)s AND ticket = %(ticket)s RETURNING cost)
UPDATE points_budgets p SET points_left = least(p.points_left + gone.cost, %(limit)s), updated_at = clock_timestamp()
FROM gone WHERE p.budget_key = %(key)s"""

_EXHAUST_POINTS = """
UPDATE points_budgets SET points_left = 0, resets_at = clock_timestamp() + make_interval(secs => %(seconds)s),
       updated_at = clock_timestamp()
WHERE budget_key = %(key)s"""


class SharedBudgets:
    """The shared budgets' statements over one autocommit connection (the caller opens and closes it)."""

    def __init__(self, db: psycopg.Connection) -> None:
        self._conn = db
        self._ensured: set[tuple[str, str, int]] = set()

    @property
    def _db(self) -> psycopg.Connection:
        if not self._conn.autocommit:
            # Inside a transaction a reservation would hold its budget's row lock, stalling every other worker,
            # until the caller commits; and a rollback would forget requests already sent.
            raise RuntimeError("shared budgets need an autocommit connection (a fetch's held connection)")
        return self._conn

    def _ensure(self, what: str, key: str, size: int, sql: str, params: dict[str, object]) -> None:
        if (what, key, size) not in self._ensured:
            self._db.execute(sql, params)
            self._ensured.add((what, key, size))

    # -- request rates ----------------------------------------------------------------------------------------
    def reserve_send(self, key: str, limits: Sequence[tuple[int, float]], max_wait: float) -> tuple[float, bool]:
        """(seconds until the request may go, whether its send time was reserved): reserved only when the wait
        is at most `max_wait`; otherwise the wait is how long until it would fit."""
        largest = max(size for size, _ in limits)
        self._ensure("rate", key, largest, _ENSURE_RATE, {"key": key, "ring": largest})
        row = self._db.execute(_RESERVE_SEND, {
            "key": key, "sizes": [s for s, _ in limits], "periods": [float(p) for _, p in limits],
            "largest": largest, "max_wait": float(max_wait)}).fetchone()
        if row is None:  # the row was resized by another worker's smaller limits: never, rings only grow
            raise RuntimeError(f"rate budget {key} has no ring for {largest} requests")
        return max(0.0, float(row[0])), bool(row[1])

    # -- requests in flight -----------------------------------------------------------------------------------
    def take_slot(self, key: str, size: int, holder: str, ttl: float) -> int | None:
        """A free (or expired) one of the `size` slots, leased to `holder` for `ttl` s; None when all are held."""
        self._ensure("slots", key, size, _ENSURE_SLOTS, {"key": key, "size": size})
        row = self._db.execute(_TAKE_SLOT, {"key": key, "size": size, "holder": holder, "ttl": ttl}).fetchone()
        return None if row is None else int(row[0])

    def renew_slot(self, key: str, slot: int, holder: str, ttl: float) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        cur = self._db.execute(_RENEW_SLOT, {"key": key, "slot": slot, "holder": holder, "ttl": ttl})
        return cur.rowcount == 1

    def free_slot(self, key: str, slot: int, holder: str) -> None:
        self._db.execute(_FREE_SLOT, {"key": key, "slot": slot, "holder": holder})

    # -- a points budget the source reports ------------------------------------------------------------------
    def take_points(self, key: str, *, limit: int, reserve: int, cost: int, window: float,
                    ttl: float) -> tuple[int | None, float]:
        """(ticket, 0) when `cost` fits what is left less `reserve`; (None, seconds until the window resets)."""
        self._ensure("points", key, limit, _ENSURE_POINTS, {"key": key, "limit": limit})
        if ("purged", key, 0) not in self._ensured:
            self._db.execute(_PURGE_TICKETS, {"key": key})
            self._ensured.add(("purged", key, 0))
        row = self._db.execute(_TAKE_POINTS, {"key": key, "limit": limit, "reserve": reserve, "cost": cost,
                                              "window": window, "ttl": ttl}).fetchone()
        assert row is not None  # ensured above
        return (int(row[0]), 0.0) if row[0] is not None else (None, max(0.0, float(row[1])))

    def settle_points(self, key: str, ticket: int, *, after: int, reset_in: float) -> None:
        """The source answered ticket's query: `after` points are left, the window resets in `reset_in` s."""
        self._db.execute(_SETTLE_POINTS, {"key": key, "ticket": ticket, "after": after, "reset": reset_in})

    def drop_ticket(self, key: str, ticket: int) -> None:
        """The query was answered without a report (or failed): its points count as spent."""
        self._db.execute(_DROP_TICKET, {"key": key, "ticket": ticket})

    def refund_ticket(self, key: str, ticket: int, limit: int) -> None:
        """The query was never sent: its points are free again."""
        self._db.execute(_REFUND_TICKET, {"key": key, "ticket": ticket, "limit": limit})

    def exhaust_points(self, key: str, seconds: float) -> None:
        """The source refused for this budget anyway (someone else spent it): nothing left for `seconds`."""
        self._db.execute(_EXHAUST_POINTS, {"key": key, "seconds": seconds})


class SharedRateGovernor:
    """shared.core.http.Governor over a rate budget every worker shares: sleeps short waits, raises Throttled
    for long ones (RateGovernor's behaviour, across processes), and with a `late_margin` reserves again when its
    wait ends later than that after the reserved send time (send_on_time)."""

    def __init__(self, key: str, limits: Sequence[tuple[int, float]], budgets: SharedBudgets, *,
                 max_sleep: float = 2.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 paced: bool = False, late_margin: float | None = None,
                 clock: Callable[[], float] = time.monotonic, horizon: float | None = None) -> None:
        if not limits:
            raise ValueError("a rate budget needs at least one (requests, seconds) limit")
        self.key = key
        self.limits = list(limits)
        if paced:
            # Sends spread evenly at the rate the windows sustain instead of in a burst per window: a burst arrives
            # delayed and bunched by the very contention it causes (connections, threads, the service's queue),
            # and the service's windows count arrivals. The windows still bound every span; the sustained rate is
            # the same.
            self.limits.append((1, max(seconds / count for count, seconds in limits)))
        self._budgets = budgets
        self._max_sleep = max_sleep
        self._sleep = sleep
        self._late_margin = late_margin
        self._clock = clock
        self._horizon = horizon  # how far ahead an ordinary request may reserve (take_turn); None: as urgent ones

    def _reserve(self, within: float) -> Reservation:
        """The reserved send time on this process's clock, between the statement's start and its answer (the
        database timed it by its own clock somewhere in between); or, when the first free one is further away than
        `within`, how far."""
        sent = self._clock()
        wait, reserved = self._budgets.reserve_send(self.key, self.limits, within)
        if not reserved:
            return wait
        return sent + wait, self._clock() + wait

    async def _reserved(self, within: float) -> Reservation:
        return await asyncio.to_thread(self._reserve, within)

    async def acquire(self, *, urgent: bool = False, path: int = 0) -> None:
        async def turn() -> tuple[float, float]:
            return await take_turn(self._reserved, lead=lead_of(self._horizon, urgent=urgent, path=path),
                                   max_sleep=self._max_sleep, sleep=self._sleep,
                                   reason="the request budget the app's workers share is used up")
        await send_on_time(turn, clock=self._clock, sleep=self._sleep, late_margin=self._late_margin)


class SharedSlots:
    """At most `size` requests in flight across every worker; a slot is leased and renewed while it is held."""

    def __init__(self, key: str, size: int, budgets: SharedBudgets, *, max_sleep: float = 2.0,
                 lease: float = SLOT_LEASE_SECONDS, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.key = key
        self.size = max(1, size)
        self._budgets = budgets
        self._max_sleep = max_sleep
        self._lease = lease
        self._sleep = sleep

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[int]:
        """One slot for the duration of the block; Throttled when none frees up within max_sleep."""
        holder = uuid.uuid4().hex
        waited = 0.0
        while (slot := await asyncio.to_thread(self._budgets.take_slot, self.key, self.size, holder,
                                               self._lease)) is None:
            if waited > self._max_sleep:
                raise Throttled(1.0, f"{self.size} requests of this account are already in flight")
            await self._sleep(SLOT_POLL_SECONDS)
            waited += SLOT_POLL_SECONDS
        renewing = asyncio.ensure_future(self._renew(slot, holder))
        try:
            yield slot
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.to_thread(self._budgets.free_slot, self.key, slot, holder)

    async def _renew(self, slot: int, holder: str) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            await asyncio.to_thread(self._budgets.renew_slot, self.key, slot, holder, self._lease)
