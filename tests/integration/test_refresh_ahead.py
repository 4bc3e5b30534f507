"""The metric rebuild beside a split stream's last read (activities/aggregates.py refresh_ahead): it runs once no
other stream of the run has more than its last read left, never waits for another refresh, and leaves the series
what a rebuild from the raw rows gives. Real PostgreSQL and Azurite, the real load_pages."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from activities.aggregates import refresh_ahead
from activities.load import load_pages
from shared.db import runs
from shared.db.connections import Connection, upsert_connection
from shared.metrics.refresh import _LOCK_CLASS as LOCK_CLASS
from tests.integration.test_sweep_ids import QUICKBOOKS, Stream, marks, new_run, rebuilt, series


def _run_of(pg_dsn: str, streams: tuple[str, ...]) -> tuple[str, Stream, str]:
    """A new QuickBooks connection, its stream of the test source, and a run of `streams`, all running."""
    connection_id = f"ahead-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(connection_id, "quickbooks", "Refresh ahead", {"realm_id": "1"}))
    stream, run = Stream(QUICKBOOKS, connection_id, pg_dsn), new_run()
    with psycopg.connect(pg_dsn) as conn:
        runs.begin_run(conn, run, connection_id, "full", "test", "instance-1")
        for name in streams:
            runs.begin_stream(conn, run, connection_id, name)
    return connection_id, stream, run


def test_the_rebuild_beside_a_last_read_waits_for_every_other_stream_to_reach_its_own(pg_dsn, landing_container):
    connection_id, stream, run = _run_of(pg_dsn, ("Invoice", "Payment", "Customer"))
    with psycopg.connect(pg_dsn) as conn:
        runs.end_stream(conn, run, connection_id, "Customer", "succeeded")
    stream.load(run, [["1", "2", "3"], ["4", "5"]])  # a first sync's loads: their marks wait, committed
    assert marks(pg_dsn, connection_id) > 0 and series(pg_dsn, connection_id) == set()

    def ahead(name: str) -> dict[str, bool]:
        return refresh_ahead({"run_id": run, "connection_id": connection_id, "stream": name})

    # Invoice's chains have ended, Payment's have not: a rebuild now would be done again after Payment's loads.
    assert ahead("Invoice") == {"refreshed": False}
    assert marks(pg_dsn, connection_id) > 0
    # Payment's too, but another refresh of the connection holds the lock: this one does not wait for it.
    with psycopg.connect(pg_dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, connection_id))
        assert ahead("Payment") == {"refreshed": False}
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, connection_id))
    assert marks(pg_dsn, connection_id) > 0 and series(pg_dsn, connection_id) == set()
    # Every other stream has ended or has only its last read left: the rebuild runs.
    assert ahead("Payment") == {"refreshed": True}
    assert marks(pg_dsn, connection_id) == 0
    built = series(pg_dsn, connection_id)
    assert built and built == rebuilt(pg_dsn, connection_id)
    with psycopg.connect(pg_dsn) as conn:
        ended = dict(conn.execute("SELECT stream, chains_ended_at IS NOT NULL FROM sync_run_streams WHERE run_id = %s",
                                  (run,)).fetchall())
    assert ended == {"Invoice": True, "Payment": True, "Customer": False}


@pytest.mark.parametrize("failure", [psycopg.OperationalError("connection refused"),
                                     RuntimeError("an error no one foresaw")])
def test_a_refresh_ahead_that_fails_leaves_its_work_to_the_connections_and_never_fails_its_stream(
        monkeypatch, caplog, failure):
    import activities.aggregates as aggregates

    def failing():
        raise failure

    monkeypatch.setattr(aggregates, "lend", failing)
    assert refresh_ahead({"run_id": "r", "connection_id": "c", "stream": "Invoice"}) == {"refreshed": False}
    assert refresh_ahead({"stream": "Invoice"}) == {"refreshed": False}  # an input it cannot read, too
    assert type(failure).__name__ in caplog.text and str(failure) not in caplog.text  # the type, never the text


def test_a_streams_last_load_runs_the_rebuild_once_the_others_have_only_their_last_read_left(
        pg_dsn, landing_container):
    """A stream that never split has no last read to run the rebuild beside: its last load (ends_stream) runs it
    after its own transaction, when every other stream of the run has ended or has only its last read left."""
    connection_id, stream, run = _run_of(pg_dsn, (QUICKBOOKS.stream, "Payment"))
    stream.load(run, [["1", "2", "3"]])  # a load before the last: no refresh
    last = stream.land(run, 1, [stream.source.record("4")])

    def load_last() -> dict:
        return load_pages({**stream.load_key(run), "pages": [last], "ends_stream": True})

    # Payment still reads more than its last read: the marks wait.
    assert load_last()["pages"] == 1
    assert marks(pg_dsn, connection_id) > 0 and series(pg_dsn, connection_id) == set()
    with psycopg.connect(pg_dsn) as conn:
        assert runs.others_reading(conn, run, connection_id, "Payment") is False  # this one has read everything
        runs.mark_chains_ended(conn, run, connection_id, "Payment")
    # Payment has only its last read left now; the stream's last load, retried, runs the rebuild (its page was
    # committed before: it loads nothing again).
    assert load_last()["pages"] == 0
    assert marks(pg_dsn, connection_id) == 0
    built = series(pg_dsn, connection_id)
    assert built and built == rebuilt(pg_dsn, connection_id)
