"""The activities of a worker process lend each other their idle connections (shared/db/pool.py lend): a lent
connection behaves as a new one would (its transaction committed at the end of the block, rolled back when the block
raises, autocommit only for the block), the next activity gets a backend back instead of starting one, a connection
the server dropped while idle is replaced, at most ACTIVITY_POOL_SIZE wait idle, and a database that cannot be reached
fails the lend at once, as a new connection's would. Real PostgreSQL."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pytest

from shared.db import pool as pools
from shared.db.pool import held_connection, lend


@pytest.fixture
def fresh_pools(monkeypatch):
    """Idle connections of this test's own, closed at its end."""
    monkeypatch.setattr(pools, "_lenders", {})
    yield pools._lenders
    for lender in pools._lenders.values():
        while (conn := lender.take()) is not None:
            conn.close()


@pytest.fixture
def scratch(pg_dsn):
    name = f"lent_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE TABLE {name} (n int)")
        conn.execute(f"GRANT ALL ON {name} TO PUBLIC")
    yield name
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"DROP TABLE {name}")


def _rows(dsn: str, table: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [n for (n,) in conn.execute(f"SELECT n FROM {table} ORDER BY n")]


def test_a_lent_connection_ends_its_transaction_as_a_new_one_would_and_comes_back_for_the_next(
        pg_dsn, fresh_pools, scratch):
    with lend() as conn:
        conn.execute(f"INSERT INTO {scratch} VALUES (1)")
    with pytest.raises(RuntimeError), lend() as conn:
        conn.execute(f"INSERT INTO {scratch} VALUES (2)")
        raise RuntimeError("the activity failed")
    assert _rows(pg_dsn, scratch) == [1]  # committed, then rolled back
    with lend(autocommit=True) as conn:
        assert conn.autocommit
        conn.execute(f"INSERT INTO {scratch} VALUES (3)")
    with lend() as conn:
        assert not conn.autocommit  # autocommit was the block's only
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert _rows(pg_dsn, scratch) == [1, 3]
    backends = set()
    for _ in range(20):  # one activity after another: the backends they had are lent again, none set up anew
        with lend() as conn:
            backends.add(conn.info.backend_pid)
    assert len(backends) <= 3  # (the pool may open a spare in the background while one is lent)


def test_a_connection_the_server_dropped_while_idle_is_replaced(pg_dsn, fresh_pools):
    with lend() as conn:
        dropped = conn.info.backend_pid
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    with lend() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.backend_pid != dropped


def test_at_most_the_pools_size_wait_idle_and_each_lend_has_a_connection_of_its_own(pg_dsn, fresh_pools,
                                                                                      monkeypatch):
    monkeypatch.setattr(pools, "ACTIVITY_POOL_SIZE", 1)
    with lend() as first, lend() as second:
        assert first.info.backend_pid != second.info.backend_pid  # none idle: the second connects itself
        assert second.execute("SELECT 2").fetchone() == (2,)
    assert second.closed != first.closed  # one kept idle, the other closed


def test_a_database_it_cannot_reach_fails_the_lend_at_once(fresh_pools, monkeypatch):
    monkeypatch.setenv("BIZ_PG_DSN", socket_free_dsn())
    with pytest.raises(psycopg.OperationalError), lend():  # the connection's own error, not a pool's wait
        pass


def socket_free_dsn() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=2"


async def test_a_fetch_holds_an_autocommit_connection_lent_off_its_event_loop(pg_dsn, fresh_pools, scratch):
    async with held_connection() as db:
        assert db.autocommit
        db.execute(f"INSERT INTO {scratch} VALUES (7)")
        assert _rows(pg_dsn, scratch) == [7]  # committed at once, seen by every other worker
    with lend() as conn:
        assert not conn.autocommit
