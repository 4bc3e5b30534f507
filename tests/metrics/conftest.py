"""Fixtures of the metric tests: a connection per test, metric points as comparable sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture
def cid(pg_dsn: str) -> Iterator[str]:
    """A fresh connection id; its rows are removed afterwards so tests stay independent."""
    connection_id = f"m-{uuid.uuid4().hex[:10]}"
    yield connection_id
    with psycopg.connect(pg_dsn) as conn:
        for (table,) in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'connection_id' "
                "AND table_schema = 'public' AND table_name IN (SELECT tablename FROM pg_tables)").fetchall():
            conn.execute(f'DELETE FROM "{table}" WHERE connection_id = %s', (connection_id,))


def points(conn: psycopg.Connection, connection_id: str) -> set[tuple]:
    return set(conn.execute(
        "SELECT metric, grain, bucket, dimension, member, value, count FROM metric_points WHERE connection_id = %s",
        (connection_id,)).fetchall())
