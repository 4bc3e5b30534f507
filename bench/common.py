"""Shared by the metric benchmarks (run from the repository root: python -m bench.<name>): a throwaway
database on the local cluster, and timing."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from plugins import registry
from shared.core.config import DEFAULT_PG_DSN
from shared.db.migrate import migrate


@contextmanager
def database(keep: str | None = None) -> Iterator[str]:
    """A migrated database (or the kept one named `keep`, reused as it is); dropped unless kept."""
    admin = os.environ.get("BIZ_PG_DSN_ADMIN") or os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN
    name = keep or f"bizmetrics_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(admin, dbname=name)
    with psycopg.connect(dsn) as conn:
        migrate(conn, registry.migration_folders())
    try:
        yield dsn
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_ms(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, max) of `runs` timings in milliseconds, after one warm-up run."""
    action()
    samples = [timed(action) * 1000 for _ in range(runs)]
    return statistics.median(samples), max(samples)
