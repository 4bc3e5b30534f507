"""The API's connection pool: created on first use, sized by settings, closed at shutdown.

    with get_pool().connection() as conn:   # committed on success, rolled back on error, then returned
        conn.execute(...)

Functions activities keep opening their own connection (shared/db/connect.py): each runs seconds to minutes and
holds one for its length; the API answers many short requests, where a pool saves a connection set-up each.
"""

from __future__ import annotations

import threading

import psycopg
from psycopg_pool import ConnectionPool

from shared.core.config import int_setting, load_settings
from shared.db.connect import connect_timeout
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
