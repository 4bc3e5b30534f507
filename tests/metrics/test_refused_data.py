"""A metric whose statements the data refuses (shared/metrics/refresh.py run_work_guarded) against PostgreSQL.

numeric stores 9E+131071 (131,072 digits before the point at most), so such an amount loads; two of them on one day do
not add up inside numeric. Before, the refresh that met them failed, and with it the stream's last load on every
attempt: every sync of the connection failed on two records. Now the metrics whose sums overflow are left as they
were and rebuilt at each refresh until the records allow it, and every other metric is refreshed as usual.
"""

from __future__ import annotations

import copy
import logging
import threading

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import refresh as refresh_module
from shared.metrics import refresh_dirty
from shared.metrics.refresh import REFUSED
from shared.metrics.sessions import refresh_in_sessions
from tests.metrics.conftest import points
from tests.metrics.loading import load_records, register
from tests.metrics.oracle import expected_points

CATALOGS = metric_catalogs()
HUGE = "9E+131071"
# The metrics that add the invoices' home amounts up (a sum, an average's sum, a balance's running sum); a count, a
# distinct count and every metric of other entities never add them.
OVERFLOWING = {"qbo.revenue_invoiced", "qbo.net_revenue", "qbo.average_invoice_value", "qbo.open_receivables",
               "qbo.overdue_receivables"}


@pytest.fixture(scope="module")
def company():
    return generate_company("9130350000000079", seed=9, records=600, years=2)


def _huge_invoices(records: dict, amount: str = HUGE, version: int = 0) -> list[dict]:
    """Two new invoices on one day (copies of the first), each of `amount`, as their `version`th version."""
    base = records["Invoice"][0]
    made = []
    for n in (1, 2):
        invoice = copy.deepcopy(base)
        invoice.update(Id=f"9900{n}", SyncToken=str(version), TotalAmt=amount, Balance=amount, HomeTotalAmt=None,
                       ExchangeRate=None, Line=[],
                       MetaData={**base["MetaData"], "LastUpdatedTime": f"2026-11-0{2 + version}T10:00:0{n}-08:00"})
        made.append(invoice)
    return made


def _readers() -> set[str]:
    """The metrics an invoice's marks restate."""
    return {m.name for m in CATALOGS["quickbooks"].metrics if "qbo_invoice" in m.tables}


def _with_any_amount(records: dict) -> dict:
    """The records with the two invoices at an amount the oracle can compute with (its Decimal rounding refuses
    9E+131071): the same series for every metric but those that add invoice amounts up."""
    return {**records, "Invoice": [*records["Invoice"], *_huge_invoices(records, amount="1.00")]}


def _of(metrics: set[str], found: set[tuple]) -> set[tuple]:
    return {point for point in found if point[0] in metrics}


def _built(conn: psycopg.Connection, cid: str) -> set[str]:
    return {m for (m,) in conn.execute("SELECT metric FROM metric_state WHERE connection_id = %s AND signature <> %s",
                                       (cid, REFUSED))}


def _refused(conn: psycopg.Connection, cid: str) -> set[str]:
    return {m for (m,) in conn.execute("SELECT metric FROM metric_state WHERE connection_id = %s AND signature = %s",
                                       (cid, REFUSED))}


def _marks(conn: psycopg.Connection, cid: str) -> int:
    return conn.execute("SELECT count(*) FROM metric_dirty WHERE connection_id = %s", (cid,)).fetchone()[0]


def test_metrics_the_data_overflows_stay_as_they_were_and_the_others_are_refreshed(pg_dsn, cid, company, caplog):
    records = copy.deepcopy(company.records)
    everything = {m.name for m in CATALOGS["quickbooks"].metrics}
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        with conn.transaction():
            refresh_dirty(conn, cid, CATALOGS)
        before = points(conn, cid)
        huge = _huge_invoices(records)
        with conn.transaction():
            load_records(conn, cid, {"Invoice": huge})
        with caplog.at_level(logging.ERROR, logger="shared.metrics.refresh"), conn.transaction():
            result = refresh_dirty(conn, cid, CATALOGS)  # raised NumericValueOutOfRange before
        assert set(result.failed) == OVERFLOWING and result.refreshed == len(_readers() - OVERFLOWING)
        grown = _with_any_amount(records)
        after = points(conn, cid)
        # The others count the two invoices (invoice_count, active_customers) or are untouched; the refused ones are
        # as the refresh before left them, and will be rebuilt whole by the next refresh; every mark was taken.
        assert _of(everything - OVERFLOWING, after) == _of(everything - OVERFLOWING, expected_points(grown, 1))
        assert _of(OVERFLOWING, after) == _of(OVERFLOWING, before)
        assert _built(conn, cid) == everything - OVERFLOWING and _refused(conn, cid) == OVERFLOWING
        assert _marks(conn, cid) == 0
        logged = [r.getMessage() for r in caplog.records if r.name == "shared.metrics.refresh"]
        assert len(logged) == len(OVERFLOWING) and all("NumericValueOutOfRange" in m for m in logged)
        assert not any(HUGE in m or "9e+131071" in m.lower() for m in logged)  # no record's value in the log

        # A stream's end leaves them out: it refreshes what its marks touch (a third invoice) and retries nothing.
        third = {**_huge_invoices(records, amount="3.00", version=1)[0], "Id": "99003"}
        with conn.transaction():
            load_records(conn, cid, {"Invoice": [third]})
        with conn.transaction():
            at_end = refresh_dirty(conn, cid, CATALOGS, wait=False, leave_rebuilds=True, retry_refused=False)
        assert at_end.failed == () and at_end.rebuilds == 0 and not at_end.deferred
        assert at_end.refreshed == len(_readers() - OVERFLOWING) and _refused(conn, cid) == OVERFLOWING
        assert _of(OVERFLOWING, points(conn, cid)) == _of(OVERFLOWING, before) and _marks(conn, cid) == 0

        # Any other refresh retries them, rebuilt whole from the raw rows, and is refused again meanwhile.
        with conn.transaction():
            again = refresh_dirty(conn, cid, CATALOGS)
        assert set(again.failed) == OVERFLOWING and _of(OVERFLOWING, points(conn, cid)) == _of(OVERFLOWING, before)

        # Once the source corrects them, the refresh rebuilds the refused metrics: every series is right again.
        fixed = _huge_invoices(records, amount="125.50", version=1)
        with conn.transaction():
            load_records(conn, cid, {"Invoice": fixed})
        with conn.transaction():
            again = refresh_dirty(conn, cid, CATALOGS)
        assert (again.failed, again.rebuilt) == ((), len(OVERFLOWING))
        assert points(conn, cid) == expected_points({**records, "Invoice": [*records["Invoice"], *fixed, third]}, 1)
        assert _built(conn, cid) == everything and _refused(conn, cid) == set()


def test_a_first_refresh_in_sessions_builds_every_metric_the_data_allows(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    grown = {**records, "Invoice": [*records["Invoice"], *_huge_invoices(records)]}
    computable = _with_any_amount(records)
    everything = {m.name for m in CATALOGS["quickbooks"].metrics}
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, grown)
        conn.commit()
        with conn.transaction():
            # The refused works run in the caller's transaction (a savepoint) or in a session's own transaction.
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=3, connect=lambda: psycopg.connect(pg_dsn))
        assert set(result.failed) == OVERFLOWING and result.rebuilt == len(everything) - len(OVERFLOWING)
        assert _of(everything - OVERFLOWING, points(conn, cid)) == _of(everything - OVERFLOWING,
                                                                       expected_points(computable, 1))
        assert _of(OVERFLOWING, points(conn, cid)) == set()  # never built: no point rather than a wrong one
        assert _built(conn, cid) == everything - OVERFLOWING and _refused(conn, cid) == OVERFLOWING
        assert _marks(conn, cid) == 0


def test_works_refused_in_the_other_sessions_are_recorded_by_the_coordinating_one(pg_dsn, cid, company, monkeypatch):
    # A restatement refused in another session rolls back there; only the coordinating transaction, which took the
    # marks, can record the metric as refused in the same commit. Here the coordinating session runs one work and
    # waits, inside it, until the other sessions have begun every other one: at least four of the five refused
    # restatements run in them.
    records = copy.deepcopy(company.records)
    rebuilt_too = {"qbo.expenses", "qbo.new_customers"}  # two whole rebuilds: the refresh spreads over sessions
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        refresh_dirty(conn, cid, CATALOGS)
        before = points(conn, cid)
        load_records(conn, cid, {"Invoice": _huge_invoices(records)})
        conn.execute("DELETE FROM metric_state WHERE connection_id = %s AND metric = ANY(%s)", (cid, list(rebuilt_too)))
        conn.commit()  # the other sessions see the rows
        real = refresh_module.run_work
        works = len(_readers()) + len(rebuilt_too)
        begun, lock, all_begun = [], threading.Lock(), threading.Event()
        ran_in: dict[str, str] = {}

        def in_another_session(session, plan, work):
            with lock:
                begun.append(work.metric.name)
                if len(begun) == works - 1:
                    all_begun.set()
            ran_in[work.metric.name] = "another"
            real(session, plan, work)

        def in_the_coordinating_one(session, plan, work):
            assert all_begun.wait(timeout=60)
            ran_in[work.metric.name] = "coordinating"
            real(session, plan, work)

        monkeypatch.setattr("shared.metrics.sessions.run_work", in_another_session)
        monkeypatch.setattr("shared.metrics.refresh.run_work", in_the_coordinating_one)
        with conn.transaction():
            result = refresh_in_sessions(conn, cid, CATALOGS, sessions=3, connect=lambda: psycopg.connect(pg_dsn))
        assert set(result.failed) == OVERFLOWING and len(ran_in) == works
        assert sum(ran_in[m] == "another" for m in OVERFLOWING) >= len(OVERFLOWING) - 1
        assert _refused(conn, cid) == OVERFLOWING and _marks(conn, cid) == 0
        assert _of(OVERFLOWING, points(conn, cid)) == _of(OVERFLOWING, before)
        expected = expected_points(_with_any_amount(records), 1)
        assert _of(rebuilt_too, points(conn, cid)) == _of(rebuilt_too, expected)


def test_a_parameter_postgresql_refuses_still_fails_the_refresh(pg_dsn, cid, company, monkeypatch):
    # A time zone PostgreSQL does not know (a connection's setting, as monday's metrics pass it) is not the records'
    # fault: leaving the metrics refused would hide it. The refresh fails and the marks stay, as before.
    real = refresh_module.run_work

    def with_an_unknown_zone(conn, plan, work):
        if work.metric.name == "qbo.expenses":
            conn.execute("SELECT now() AT TIME ZONE %s", ("Mars/Olympus_Mons",))
        real(conn, plan, work)

    monkeypatch.setattr("shared.metrics.refresh.run_work", with_an_unknown_zone)
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, company.records)
        conn.commit()
        marks = _marks(conn, cid)
        with pytest.raises(psycopg.errors.InvalidParameterValue), conn.transaction():
            refresh_dirty(conn, cid, CATALOGS)
        assert _marks(conn, cid) == marks > 0 and _refused(conn, cid) == set() and points(conn, cid) == set()
