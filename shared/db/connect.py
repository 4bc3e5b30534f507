"""Opening PostgreSQL connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg

from shared.core.config import load_settings


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection to the app database; callers own it (use it as a context manager)."""
    return psycopg.connect(dsn or load_settings().pg_dsn, autocommit=autocommit, application_name="bizmetrics")


@contextlib.asynccontextmanager
async def held_connection() -> AsyncIterator[psycopg.Connection]:
    """One autocommit connection an async activity holds for its length (e.g. to lend a plugin for a fetch).

    Autocommit: each statement is committed, and seen by other workers, at once, and no transaction stays open
    while the activity waits on an API. Opened and closed off the event loop."""
    conn = await asyncio.to_thread(connect, autocommit=True)
    try:
        yield conn
    finally:
        await asyncio.to_thread(conn.close)
