"""A refresh whose rebuilds are spread over several sessions (shared/metrics/sessions.py) against PostgreSQL: the
same points as one transaction's refresh and the oracle, a failure that keeps the marks, and a load committed
meanwhile whose marks stay for the next refresh."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import refresh as refresh_module
from shared.metrics import refresh_dirty
from shared.metrics.sessions import refresh_in_sessions
from tests.metrics.conftest import points
from tests.metrics.loading import load_records, register
from tests.metrics.oracle import expected_points

CATALOGS = metric_catalogs()
METRICS = len(CATALOGS["quickbooks"].metrics)


@pytest.fixture(scope="module")
def company():
    return generate_company("9130350000000078", seed=7, records=1200, years=2)


def _marks(conn: psycopg.Connection, cid: str) -> int:
    return conn.execute("SELECT count(*) FROM metric_dirty WHERE connection_id = %s", (cid,)).fetchone()[0]


def _loaded(pg_dsn: str, cid: str, records: dict) -> None:
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)


def _next_version(record: dict, **fields) -> dict:
    """The record (changed in place) with `fields`, as its next version."""
    record.update(fields, SyncToken=str(int(record["SyncToken"]) + 1),
                  MetaData={**record["MetaData"], "LastUpdatedTime": "2026-11-02T10:00:00-08:00"})
    return record


def _edited(invoice: dict, more: float) -> dict:
    """The invoice (changed in place) with `more` on its total, as its next version: one day's buckets change."""
    return _next_version(invoice, TotalAmt=float(invoice["TotalAmt"]) + more, HomeTotalAmt=None)


def _built_then_changed(conn: psycopg.Connection, cid: str, changed: dict) -> None:
    """The connection's metrics built from what is loaded, then `changed` loaded: its marks wait."""
    with conn.transaction():
        refresh_dirty(conn, cid, CATALOGS)
    with conn.transaction():
        load_records(conn, cid, changed)


class Sessions:
    """The `connect` refresh_in_sessions opens its other sessions with, counting them and the works each ran."""

    def __init__(self, pg_dsn: str, before_first_work: Callable[[], None] | None = None) -> None:
        self.pg_dsn = pg_dsn
        self.opened = 0
        self.threads: set[str] = set()
        self.before_first_work = before_first_work

    def __call__(self) -> psycopg.Connection:
        self.opened += 1
        if self.before_first_work is not None:
            hook, self.before_first_work = self.before_first_work, None
            hook()
        return psycopg.connect(self.pg_dsn)


def _recording_threads(monkeypatch, threads: set[str], fail_on: str | None = None) -> None:
    """run_work as it is, noting which thread ran each metric (and failing on `fail_on`'s metric). The caller's
    thread waits, before its first work, until another session has begun one, so that both take part however the
    machine schedules them."""
    real = refresh_module.run_work
    another_began = threading.Event()

    def run_work(conn, plan, work):
        if threading.current_thread() is threading.main_thread():
            another_began.wait(timeout=30)
        else:
            another_began.set()
        threads.add(threading.current_thread().name)
        if work.metric.name == fail_on:
            raise RuntimeError(f"{fail_on} failed")
        real(conn, plan, work)

    monkeypatch.setattr("shared.metrics.sessions.run_work", run_work)  # an extra session's
    monkeypatch.setattr("shared.metrics.refresh.run_work", run_work)  # the caller's, through run_work_guarded


def _of(metric: str, found: set[tuple]) -> set[tuple]:
    return {point for point in found if point[0] == metric}


def test_a_first_refresh_in_two_sessions_equals_one_transactions_refresh_and_the_oracle(
        pg_dsn, cid, company, monkeypatch):
    _loaded(pg_dsn, cid, company.records)
    sessions = Sessions(pg_dsn)
    _recording_threads(monkeypatch, sessions.threads)
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=2, connect=sessions)
        assert (result.rebuilt, result.refreshed) == (METRICS, 0)
        assert sessions.opened == 1 and len(sessions.threads) == 2  # the caller's session and one more both worked
        spread = points(conn, cid)
        assert spread == expected_points(company.records, 1) and _marks(conn, cid) == 0
        with conn.transaction():
            conn.execute("DELETE FROM metric_state WHERE connection_id = %s", (cid,))
            refresh_dirty(conn, cid, CATALOGS)  # the same rebuild in one transaction
        assert points(conn, cid) == spread


def test_a_refresh_that_rebuilds_nothing_whole_stays_in_the_callers_transaction(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    _loaded(pg_dsn, cid, records)
    with psycopg.connect(pg_dsn) as conn:
        _built_then_changed(conn, cid, {"Invoice": [_edited(records["Invoice"][3], 12.5)]})
        sessions = Sessions(pg_dsn)
        with conn.transaction():
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=4, connect=sessions)
        assert result.rebuilt == 0 and result.refreshed > 0 and sessions.opened == 0
        assert points(conn, cid) == expected_points(records, 1)


def test_a_failing_metric_keeps_the_marks_and_the_metrics_committed_before_it_stay_right(
        pg_dsn, cid, company, monkeypatch):
    _loaded(pg_dsn, cid, company.records)
    expected = expected_points(company.records, 1)
    sessions = Sessions(pg_dsn)
    _recording_threads(monkeypatch, sessions.threads, fail_on="qbo.expenses")
    with psycopg.connect(pg_dsn) as conn:
        marks = _marks(conn, cid)
        with pytest.raises(RuntimeError, match=r"qbo\.expenses failed"), conn.transaction():
            refresh_in_sessions(conn, cid, CATALOGS, sessions=3, connect=sessions)
        assert _marks(conn, cid) == marks  # the coordinator rolled back: nothing was taken
        built = [m for (m,) in conn.execute("SELECT metric FROM metric_state WHERE connection_id = %s", (cid,))]
        # The other sessions' metrics committed (their first works, at least), the failing one and the caller's not.
        assert 0 < len(built) < METRICS and "qbo.expenses" not in built
        stored = points(conn, cid)
        assert all(_of(metric, stored) == _of(metric, expected) for metric in built)
        monkeypatch.undo()
        with conn.transaction():
            refresh_in_sessions(conn, cid, CATALOGS, sessions=3, connect=Sessions(pg_dsn))
        assert points(conn, cid) == expected and _marks(conn, cid) == 0


def test_restatements_redone_after_a_failed_refresh_change_nothing(pg_dsn, cid, company):
    # What makes a failed refresh safe: the works its sessions committed are redone from the same marks, restating
    # buckets already restated. Here the marks are put back after a refresh that committed, as a rollback would.
    records = copy.deepcopy(company.records)
    _loaded(pg_dsn, cid, records)
    with psycopg.connect(pg_dsn) as conn:
        _built_then_changed(conn, cid, {"Invoice": [_edited(records["Invoice"][4], 7.5)],
                                        "Payment": [_next_version(records["Payment"][2], TxnDate="2024-03-15")]})
        taken = conn.execute("SELECT connection_id, source, day FROM metric_dirty WHERE connection_id = %s",
                             (cid,)).fetchall()
        with conn.transaction():
            first = refresh_dirty(conn, cid, CATALOGS)
        assert first.refreshed > 0 and first.rebuilt == 0
        restated = points(conn, cid)
        assert restated == expected_points(records, 1)
        with conn.transaction():
            conn.cursor().executemany("INSERT INTO metric_dirty (connection_id, source, day) VALUES (%s, %s, %s)",
                                      taken)
            again = refresh_dirty(conn, cid, CATALOGS)
        assert again.refreshed == first.refreshed and points(conn, cid) == restated


def test_a_transaction_that_wrote_first_refreshes_alone(pg_dsn, cid, company):
    with psycopg.connect(pg_dsn) as conn:
        sessions = Sessions(pg_dsn)
        with conn.transaction():
            register(conn, cid)
            load_records(conn, cid, company.records)  # rows the other sessions could not see yet
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=2, connect=sessions)
        assert result.rebuilt == METRICS and sessions.opened == 0
        assert points(conn, cid) == expected_points(company.records, 1)


def test_a_session_that_cannot_connect_leaves_its_share_to_the_others(pg_dsn, cid, company):
    _loaded(pg_dsn, cid, company.records)

    def refused() -> psycopg.Connection:
        raise psycopg.OperationalError("too many clients already")

    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=3, connect=refused)
        assert result.rebuilt == METRICS and _marks(conn, cid) == 0
        assert points(conn, cid) == expected_points(company.records, 1)


def test_a_load_committed_while_the_metrics_rebuild_keeps_its_marks_for_the_next_refresh(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    late = records["Invoice"].pop()
    _loaded(pg_dsn, cid, records)

    def a_load_commits() -> None:  # another stream's load, after this refresh took the marks
        with psycopg.connect(pg_dsn) as other:
            load_records(other, cid, {"Invoice": [late]})

    sessions = Sessions(pg_dsn, before_first_work=a_load_commits)
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            refresh_in_sessions(conn, cid, CATALOGS, sessions=2, connect=sessions)
        assert _marks(conn, cid) > 0  # the late invoice's: not taken by the refresh that ran beside it
        with conn.transaction():
            refresh_dirty(conn, cid, CATALOGS)
        assert points(conn, cid) == expected_points({**records, "Invoice": [*records["Invoice"], late]}, 1)


def test_a_stream_ends_refresh_leaves_whole_rebuilds_with_their_marks_and_does_a_small_one_in_place(
        pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    _loaded(pg_dsn, cid, records)
    with psycopg.connect(pg_dsn) as conn:
        marks = _marks(conn, cid)
        with conn.transaction():
            left = refresh_dirty(conn, cid, CATALOGS, wait=False, leave_rebuilds=True)
        assert left.deferred and left.rebuilds == METRICS  # never built: every metric would be rebuilt whole
        assert _marks(conn, cid) == marks and points(conn, cid) == set()  # the marks are back, nothing was written
        with conn.transaction():
            refresh_in_sessions(conn, cid, CATALOGS, sessions=2, connect=Sessions(pg_dsn))
        with conn.transaction():
            load_records(conn, cid, {"Invoice": [_edited(records["Invoice"][5], 3.25)]})
            done = refresh_dirty(conn, cid, CATALOGS, wait=False, leave_rebuilds=True)
        assert not done.deferred and done.rebuilt == 0 and done.refreshed > 0  # a day's buckets: restated in place
        assert _marks(conn, cid) == 0 and points(conn, cid) == expected_points(records, 1)
