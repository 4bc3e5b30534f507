"""Incremental aggregation through the loader and the triggers (no HTTP): every kind of change restates
exactly the right buckets, and the result always equals a rebuild and the pandas oracle."""

from __future__ import annotations

import copy

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import rebuild, refresh_dirty
from shared.metrics.refresh import _mostly
from tests.metrics.conftest import points
from tests.metrics.loading import delete_records, load_records, register
from tests.metrics.oracle import expected_points

CATALOGS = metric_catalogs()


@pytest.fixture(scope="module")
def company():
    return generate_company("9130350000000077", seed=5, records=1500, years=2)


def _check(conn: psycopg.Connection, cid: str, records: dict, fiscal: int = 1) -> None:
    incremental = points(conn, cid)
    assert incremental == expected_points(records, fiscal)
    rebuild(conn, cid, CATALOGS)
    assert points(conn, cid) == incremental


def test_first_load_builds_every_metric_equal_to_the_oracle(pg_dsn, cid, company):
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, company.records)
        result = refresh_dirty(conn, cid, CATALOGS)
        assert result.rebuilt == 13
        _check(conn, cid, company.records)


def test_edits_backdating_voids_and_deletes_restate_the_right_buckets(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        refresh_dirty(conn, cid, CATALOGS)
        invoices = records["Invoice"]
        moment = "2026-11-02T10:00:00-08:00"

        def touch(record: dict, **fields) -> dict:
            record.update(fields)
            record["SyncToken"] = str(int(record["SyncToken"]) + 1)
            record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": moment}
            return record

        march = next(r for r in invoices if r["TxnDate"].startswith("2026-03"))
        backdated = touch(march, TxnDate="2026-01-15")  # restates March and January
        bigger = touch(invoices[10], TotalAmt=float(invoices[10]["TotalAmt"]) + 99.5, HomeTotalAmt=None)
        bigger.pop("HomeTotalAmt")
        voided = touch(invoices[20], TotalAmt=0, Balance=0, PrivateNote="Voided")
        paid = next(p for p in records["Payment"] if p["Line"])
        moved_payment = touch(paid, TxnDate="2025-02-03")
        deleted = invoices[30]
        load_records(conn, cid, {"Invoice": [backdated, bigger, voided], "Payment": [moved_payment]})
        delete_records(conn, cid, "Invoice", [deleted["Id"]], moment)
        records["Invoice"] = [r for r in invoices if r is not deleted]
        result = refresh_dirty(conn, cid, CATALOGS)
        assert result.rebuilt == 0 and result.refreshed > 0
        _check(conn, cid, records)


def test_a_change_across_most_days_rebuilds_the_metrics_it_touches_equal_to_the_oracle(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        refresh_dirty(conn, cid, CATALOGS)
        for invoice in records["Invoice"]:  # every invoice newer and larger, as a re-sync after a restore
            invoice.update({"TotalAmt": float(invoice["TotalAmt"]) + 1, "SyncToken": "8"})
            invoice.pop("HomeTotalAmt", None)
            invoice["MetaData"] = {**invoice["MetaData"], "LastUpdatedTime": "2026-11-02T10:00:00-08:00"}
        load_records(conn, cid, {"Invoice": records["Invoice"]})
        marked = [d for (d,) in conn.execute("SELECT DISTINCT day FROM metric_dirty WHERE connection_id = %s "
                                             "AND source = 'qbo_invoice' ORDER BY day", (cid,))]
        invoiced = next(m for m in CATALOGS["quickbooks"].metrics if m.tables == ("qbo_invoice",))
        assert _mostly(conn, cid, invoiced, marked)  # the whole-metric path, not bucket by bucket
        result = refresh_dirty(conn, cid, CATALOGS)
        assert result.rebuilt == 0 and result.refreshed > 0
        _check(conn, cid, records)


def test_a_change_nothing_reads_marks_no_bucket(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        refresh_dirty(conn, cid, CATALOGS)
        paid_invoice = records["Invoice"][5]
        paid_invoice.update({"Balance": 0, "SyncToken": "9"})
        paid_invoice["MetaData"] = {**paid_invoice["MetaData"], "LastUpdatedTime": "2026-11-02T10:00:00-08:00"}
        load_records(conn, cid, {"Invoice": [paid_invoice]})
        assert conn.execute("SELECT count(*) FROM metric_dirty WHERE connection_id = %s", (cid,)).fetchone()[0] == 0


def test_a_refresh_rolled_back_with_its_load_leaves_the_points_as_they_were(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, records)
        refresh_dirty(conn, cid, CATALOGS)
        conn.commit()
        before = points(conn, cid)
        invoice = records["Invoice"][3]
        invoice.update({"TxnDate": "2024-12-24", "SyncToken": "7"})
        invoice["MetaData"] = {**invoice["MetaData"], "LastUpdatedTime": "2026-11-02T10:00:00-08:00"}
        load_records(conn, cid, {"Invoice": [invoice]})
        refresh_dirty(conn, cid, CATALOGS)
        assert points(conn, cid) != before
        conn.rollback()
        assert points(conn, cid) == before


def test_fiscal_year_from_company_info_buckets_fiscal_quarters_and_years(pg_dsn, cid):
    company = generate_company("9130350000000078", seed=9, records=400, years=2, fiscal_start_month="April")
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        load_records(conn, cid, company.records)
        refresh_dirty(conn, cid, CATALOGS)
        years = {r[0] for r in conn.execute(
            "SELECT bucket FROM metric_points WHERE connection_id = %s AND grain = 'fiscal_year'", (cid,))}
        assert years and all((b.month, b.day) == (4, 1) for b in years)
        _check(conn, cid, company.records, fiscal=4)
