"""Opening PostgreSQL connections."""

from __future__ import annotations

import psycopg

from shared.config import load_settings


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A new connection to the app database; callers own it (use it as a context manager)."""
    return psycopg.connect(dsn or load_settings().pg_dsn, autocommit=autocommit, application_name="bizmetrics")
