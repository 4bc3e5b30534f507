"""Opening PostgreSQL connections: every one with a connect timeout, so an unreachable server fails fast."""

from __future__ import annotations

import psycopg

from shared.core.config import int_setting, load_settings
from shared.db.entra import login_kwargs

# Seconds a connection attempt may take before it fails (libpq connect_timeout); BIZ_PG_CONNECT_TIMEOUT overrides.
CONNECT_TIMEOUT_SETTING = "BIZ_PG_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 10


def connect_timeout() -> int:
    """The connect timeout in seconds (at least 2: libpq treats 1 as 2 and 0 as "wait forever")."""
    return int_setting(CONNECT_TIMEOUT_SETTING, DEFAULT_CONNECT_TIMEOUT, minimum=2, unit=" seconds")


def connect(dsn: str | None = None, *, autocommit: bool = False,
            application_name: str = "bizmetrics") -> psycopg.Connection:
    """A new connection to the app database; callers own it (use it as a context manager)."""
    dsn = dsn or load_settings().pg_dsn
    return psycopg.connect(dsn, autocommit=autocommit, application_name=application_name,
                           connect_timeout=connect_timeout(), **login_kwargs(dsn))
