"""A metric whose statements the data refuses (shared/metrics/refresh.py run_work_guarded) against PostgreSQL.

numeric stores 9E+131071 (131,072 digits before the point at most), so such an amount loads; two of them on one day do
not add up inside numeric. Before, the refresh that met them failed, and with it the stream's last load on every
attempt: every sync of the connection failed on two records. Now the metrics whose sums overflow are left as they
were and rebuilt at each refresh until the records allow it, and every other metric is refreshed as usual.
"""

from __future__ import annotations

import copy
import logging

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import refresh_dirty
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


def _with_any_amount(records: dict) -> dict:
    """The records with the two invoices at an amount the oracle can compute with (its Decimal rounding refuses
    9E+131071): the same series for every metric but those that add invoice amounts up."""
    return {**records, "Invoice": [*records["Invoice"], *_huge_invoices(records, amount="1.00")]}


def _of(metrics: set[str], found: set[tuple]) -> set[tuple]:
    return {point for point in found if point[0] in metrics}


def _built(conn: psycopg.Connection, cid: str) -> set[str]:
    return {m for (m,) in conn.execute("SELECT metric FROM metric_state WHERE connection_id = %s", (cid,))}


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
        readers = {m.name for m in CATALOGS["quickbooks"].metrics if "qbo_invoice" in m.tables}
        assert set(result.failed) == OVERFLOWING and result.refreshed == len(readers - OVERFLOWING)
        grown = _with_any_amount(records)
        after = points(conn, cid)
        # The others count the two invoices (invoice_count, active_customers) or are untouched; the refused ones are
        # as the refresh before left them, and will be rebuilt whole by the next refresh; every mark was taken.
        assert _of(everything - OVERFLOWING, after) == _of(everything - OVERFLOWING, expected_points(grown, 1))
        assert _of(OVERFLOWING, after) == _of(OVERFLOWING, before)
        assert _built(conn, cid) == everything - OVERFLOWING and _marks(conn, cid) == 0
        logged = [r.getMessage() for r in caplog.records if r.name == "shared.metrics.refresh"]
        assert len(logged) == len(OVERFLOWING) and all("NumericValueOutOfRange" in m for m in logged)
        assert not any(HUGE in m or "9e+131071" in m.lower() for m in logged)  # no record's value in the log

        # Nothing changed meanwhile: the next refresh tries them again, and is refused again.
        with conn.transaction():
            assert set(refresh_dirty(conn, cid, CATALOGS).failed) == OVERFLOWING
        assert points(conn, cid) == after

        # Once the source corrects them, the refresh rebuilds the refused metrics: every series is right again.
        fixed = _huge_invoices(records, amount="125.50", version=1)
        with conn.transaction():
            load_records(conn, cid, {"Invoice": fixed})
        with conn.transaction():
            again = refresh_dirty(conn, cid, CATALOGS)
        assert again.failed == () and again.rebuilt == len(OVERFLOWING)
        assert points(conn, cid) == expected_points({**records, "Invoice": [*records["Invoice"], *fixed]}, 1)
        assert _built(conn, cid) == everything


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
        assert _built(conn, cid) == everything - OVERFLOWING and _marks(conn, cid) == 0
