"""Connection pools: the API's, and the idle connections the activities of a worker process lend each other.

    with get_pool().connection() as conn:   # committed on success, rolled back on error, then returned
        conn.execute(...)

    with lend() as conn:                    # an activity's connection: the same, kept idle for the next one

The API answers many short requests, where a pool saves a connection set-up each. So do the activities of a sync:
most are short (a page's fetch, load, sweep, a stream's end), a full sync of 100,000 records runs about 350 of
them, and a new connection cost about 7 ms of PostgreSQL's CPU (a backend started, its catalogs read) and 6 ms of
the activity's own, before its first statement: on the two cores of the benchmark that was CPU the sync's
loads were waiting for (docs/SCALING.md). A lent connection comes back idle: its transaction committed or rolled
back, autocommit off; what a transaction set locally is gone with it, and the temporary tables the loads stage in
(ON COMMIT DELETE ROWS) stay for the next load instead of being made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from shared.core.config import int_setting, load_settings
from shared.db.connect import connect, connect_timeout
from shared.db.entra import EntraConnection, entra_enabled

MIN_SIZE_SETTING = "BIZ_PG_POOL_MIN_SIZE"
MAX_SIZE_SETTING = "BIZ_PG_POOL_MAX_SIZE"
# Seconds a request waits for a free connection before the pool raises PoolTimeout.
WAIT_SETTING = "BIZ_PG_POOL_TIMEOUT"

_lock = threading.Lock()
_pool: ConnectionPool | None = None


def _new_pool() -> ConnectionPool:
    min_size = int_setting(MIN_SIZE_SETTING, 1)
    max_size = int_setting(MAX_SIZE_SETTING, 5)
    if not 0 <= min_size <= max_size or max_size < 1:
        raise ValueError(f"App settings {MIN_SIZE_SETTING}={min_size} and {MAX_SIZE_SETTING}={max_size} must "
                         "satisfy 0 <= min <= max and max >= 1")
    return ConnectionPool(
        load_settings().pg_dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=float(int_setting(WAIT_SETTING, 10)),
        kwargs={"connect_timeout": connect_timeout(), "application_name": "bizmetrics-api"},
        # With Entra authentication each new pooled connection logs in with a current token.
        connection_class=EntraConnection if entra_enabled() else psycopg.Connection,
        # A connection the server dropped while idle (restart, failover, idle timeout) is replaced, not lent.
        check=ConnectionPool.check_connection,
        name="bizmetrics-api",
        # Don't wait for the first connections: the app starts even while the database is down, and the
        # readiness probe says so.
        open=False,
    )


# Seconds a connection may stay unused among the activities' idle ones before it is closed: enough for the next
# activity of a running sync. (Closed when a connection is lent or given back: a process that stops getting
# activities keeps its last few until it gets one again or ends.)
ACTIVITY_IDLE_SECONDS = 60.0
# At most this many idle connections per database in one worker process: more than its activities run at once
# (maxConcurrentActivityFunctions in host.json); one given back beyond it is closed.
ACTIVITY_POOL_SIZE = 32


@dataclass
class _Idle:
    conn: psycopg.Connection
    since: float


class _Lender:
    """The idle connections of one database that this process's activities lend each other (lend).

    Not psycopg_pool's ConnectionPool: with no idle connection, that pool waits while it connects in the background
    (and keeps trying while the server is down), where an activity must fail at once on a database it cannot reach,
    and be retried as before (shared/db/connect.py: connect timeout). Here a lend with none idle connects itself."""

    def __init__(self) -> None:
        self._idle: list[_Idle] = []
        self._lock = threading.Lock()

    def _stale(self, now: float) -> list[psycopg.Connection]:
        """Take out the connections idle too long (under the lock)."""
        stale = [idle.conn for idle in self._idle if now - idle.since > ACTIVITY_IDLE_SECONDS]
        self._idle = [idle for idle in self._idle if now - idle.since <= ACTIVITY_IDLE_SECONDS]
        return stale

    def take(self) -> psycopg.Connection | None:
        """An idle connection that answers, the most recently used first; None when there is none."""
        while True:
            with self._lock:
                stale = self._stale(time.monotonic())
                idle = self._idle.pop().conn if self._idle else None
            _close(stale)
            if idle is None:
                return None
            try:
                ConnectionPool.check_connection(idle)  # one round trip: dropped while idle (restart, failover)?
            except psycopg.Error:
                _close([idle])
                continue
            return idle

    def give_back(self, conn: psycopg.Connection) -> None:
        """Keep `conn` for the next lend when it is idle and healthy; close it otherwise."""
        healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        with self._lock:
            stale = self._stale(time.monotonic())
            kept = healthy and len(self._idle) < ACTIVITY_POOL_SIZE
            if kept:
                self._idle.append(_Idle(conn, time.monotonic()))
        _close(stale if kept else [*stale, conn])


def _close(conns: list[psycopg.Connection]) -> None:
    for conn in conns:
        with contextlib.suppress(psycopg.Error):
            conn.close()


_lenders: dict[str, _Lender] = {}


def _lender(dsn: str) -> _Lender:
    with _lock:
        return _lenders.setdefault(dsn, _Lender())


@contextlib.contextmanager
def lend(*, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection to the app database (BIZ_PG_DSN) for the block, as `with connect() as conn` gives one (the
    transaction it is left in committed when the block ends, rolled back when it raises), taken from this process's
    idle connections of that database when one answers and given back to them afterwards instead of closed.
    `autocommit` for the block only."""
    dsn = load_settings().pg_dsn
    lender = _lender(dsn)
    conn = lender.take() or connect(dsn, autocommit=autocommit)
    try:
        conn.autocommit = autocommit
        yield conn
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            if not conn.closed:
                conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        with contextlib.suppress(psycopg.Error):
            if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
                conn.autocommit = False
        lender.give_back(conn)


@contextlib.asynccontextmanager
async def held_connection() -> AsyncIterator[psycopg.Connection]:
    """One autocommit connection an async activity holds for its length (e.g. to lend a plugin for a fetch), lent
    from the activities' pool (lend). Autocommit: each statement is committed, and seen by other workers, at once,
    and no transaction stays open while the activity waits on an API. Taken and given back off the event loop."""
    lending = lend(autocommit=True)
    conn = await asyncio.to_thread(lending.__enter__)
    try:
        yield conn
    except BaseException as exc:
        if not await asyncio.to_thread(lending.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await asyncio.to_thread(lending.__exit__, None, None, None)


def get_pool() -> ConnectionPool:
    """The process's pool, opened on first call (thread-safe)."""
    global _pool
    with _lock:
        if _pool is None:
            pool = _new_pool()
            pool.open(wait=False)
            _pool = pool
        return _pool


def close_pool() -> None:
    """Close the pool (at shutdown); the next get_pool() opens a new one."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
