"""Flattened QuickBooks reports in real PostgreSQL: loading a report again updates its rows, never duplicates them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from plugins.quickbooks import PLUGIN
from plugins.quickbooks.reports import flatten_report, report_query, report_record, report_windows
from shared.db.loader import UpsertCounts, upsert_records
from tests.reference import cassette
from tests.sim_server import serve

REALM = "9130350000000077"
TOKEN = "report-rows-token"
CONNECTION = "qbo-report-rows-test"


@pytest.fixture
def simulator() -> Iterator[tuple[Any, str]]:
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=5, customers=40, invoices=300, payments=200)
    state = SimulatorState(companies=[company], clock=SimClock(start="2026-11-01T12:00:00-07:00", frozen=True),
                           access_tokens={TOKEN}, limits=ThrottleLimits(per_second=None, per_minute=None))
    with serve(create_app(state)) as url:
        yield state, url


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn) as c:
        for table in ("qbo_report", "qbo_report_row"):
            c.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        c.commit()
        yield c
        c.rollback()
        for table in ("qbo_report", "qbo_report_row"):
            c.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        c.commit()


def _fetch(url: str, report: str, start: date, end: date, method: str) -> dict[str, Any]:
    query = urlencode(report_query(report, start, end, method))
    request = urllib.request.Request(f"{url}/v3/company/{REALM}/reports/{report}?{query}",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _load(conn: psycopg.Connection, records: list[dict[str, Any]], run_id: str) -> UpsertCounts:
    raws = [PLUGIN.to_raw("Report", record) for record in records]
    with conn.transaction():
        return upsert_records(conn, PLUGIN.table("Report"), CONNECTION, run_id, raws)


def _count(conn: psycopg.Connection) -> tuple[int, int]:
    return conn.execute(
        "SELECT count(*), count(DISTINCT (report_id, position, column_index)) FROM qbo_report_row "
        "WHERE connection_id = %s", (CONNECTION,)).fetchone()


def _income(conn: psycopg.Connection, month: date) -> tuple[Decimal, str]:
    return conn.execute(
        "SELECT r.value, p.run_id FROM qbo_report_row r JOIN qbo_report p "
        "ON p.connection_id = r.connection_id AND p.id = r.report_id WHERE r.connection_id = %s "
        "AND r.report = 'ProfitAndLoss' AND r.basis = 'Accrual' AND r.period_start = %s AND r.row_kind = 'Summary' "
        "AND r.row_group = 'Income'", (CONNECTION, month)).fetchone()


def _fetch_all(url: str, wanted: list[tuple[str, date, date, str]]) -> list[dict[str, Any]]:
    return [report_record(report, method, start, end, _fetch(url, report, start, end, method))
            for report, start, end, method in wanted]


@pytest.mark.integration
def test_reloading_reports_upserts_and_a_newer_run_replaces_values(simulator, conn: psycopg.Connection) -> None:
    state, url = simulator
    windows = report_windows(date(2026, 3, 10), date(2026, 10, 31))
    assert windows == [(date(2026, 3, 1), date(2026, 8, 31)), (date(2026, 9, 1), date(2026, 10, 31))]
    wanted = [(report, start, end, method) for report in ("ProfitAndLoss", "BalanceSheet")
              for method in ("Accrual", "Cash") for start, end in windows]
    docs = _fetch_all(url, wanted)
    rows = sum(len(flatten_report(record["doc"])) for record in docs)

    first = _load(conn, docs, "run-1")
    assert (first.inserted, first.updated) == (len(wanted), 0)
    again = _load(conn, _fetch_all(url, wanted), "run-2")  # same report time: nothing newer
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(wanted))
    assert _count(conn) == (rows, rows)
    august = date(2026, 8, 1)
    before, _ = _income(conn, august)

    invoice = next(r for r in state.records(REALM, "Invoice")
                   if r["TxnDate"].startswith("2026-08") and r["TotalAmt"] and r.get("ExchangeRate", 1) == 1)
    state.void(REALM, "Invoice", invoice["Id"])
    state.clock.advance(60)
    newer = _fetch_all(url, wanted)
    assert {d["doc"]["Header"]["Time"] for d in newer} != {d["doc"]["Header"]["Time"] for d in docs}
    third = _load(conn, newer, "run-3")
    # Reports whose content the void changed are replaced; the others stay as they were.
    assert third.inserted == 0 and third.updated >= 2 and third.updated + third.unchanged == len(wanted)
    newer_rows = sum(len(flatten_report(record["doc"])) for record in newer)
    assert _count(conn) == (newer_rows, newer_rows)
    after, run = _income(conn, august)
    assert before - after == Decimal(str(invoice["TotalAmt"])) and run == "run-3"


@pytest.mark.integration
def test_the_recorded_general_ledger_loads_once_per_row_and_column(conn: psycopg.Connection) -> None:
    doc = json.loads(cassette("quickbooks/vcr/reports/gl.yml")[0].body)
    rows = flatten_report(doc)
    record = report_record("GeneralLedger", "Accrual", date(2020, 9, 1), date(2020, 9, 30), doc)
    assert _load(conn, [record], "run-gl").inserted == 1
    assert _load(conn, [record], "run-gl-again").unchanged == 1
    assert _count(conn) == (len(rows), len(rows))
    amount = conn.execute(
        "SELECT value, account_id, section_path FROM qbo_report_row WHERE connection_id = %s "
        "AND report = 'GeneralLedger' AND column_key = 'subt_nat_amount' AND position = %s",
        (CONNECTION, next(r["position"] for r in rows if r["value_id"] == "17"))).fetchone()
    assert amount == (Decimal("337.50"), "4", "Undeposited Funds > 2020-09-29")


@pytest.mark.integration
def test_rows_a_newer_run_no_longer_has_do_not_linger(conn: psycopg.Connection) -> None:
    doc = json.loads(cassette("quickbooks/vcr/reports/profit_and_loss.yml")[0].body)
    record = report_record("ProfitAndLoss", "Accrual", date(2020, 9, 1), date(2020, 9, 30), doc)
    _load(conn, [record], "run-1")
    shorter = json.loads(json.dumps(doc))
    shorter["Header"]["Time"] = "2030-01-01T00:00:00-08:00"
    shorter["Rows"]["Row"] = shorter["Rows"]["Row"][:1]
    _load(conn, [report_record("ProfitAndLoss", "Accrual", date(2020, 9, 1), date(2020, 9, 30), shorter)], "run-2")
    assert _count(conn)[0] == len(flatten_report(shorter)) < len(flatten_report(doc))
