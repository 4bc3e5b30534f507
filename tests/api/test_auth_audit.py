"""shared.db.audit.record: an entry exists exactly when the change it describes commits."""

from __future__ import annotations

import psycopg
import pytest

from shared.db.audit import entries, record
from tests.api.conftest import unique


def test_an_entry_commits_and_rolls_back_with_the_callers_transaction(pg_dsn):
    kept, dropped = unique("run"), unique("run")
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            record(conn, "key:abcdefghij", "sync.started", kept, {"mode": "incremental", "connections": ["acme"]})
        with pytest.raises(RuntimeError), conn.transaction():
            record(conn, "key:abcdefghij", "sync.started", dropped)
            raise RuntimeError("the sync could not start")
        assert entries(conn, target=dropped) == []
        [entry] = entries(conn, target=kept)
    assert (entry.actor, entry.action, entry.details) == ("key:abcdefghij", "sync.started",
                                                          {"mode": "incremental", "connections": ["acme"]})


def test_an_entry_needs_an_actor_and_an_action(db):
    with pytest.raises(ValueError):
        record(db, "", "sync.started")
    with pytest.raises(ValueError):
        record(db, "user:x (y)", "")
