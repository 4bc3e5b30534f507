"""The reconciliation view: computed monthly revenue and expenses minus QuickBooks' Profit and Loss, from
report rows written here by hand (accrual, month columns, the group totals only, the newest report run)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

from tests.metrics.loading import register

MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


def _report(conn: psycopg.Connection, cid: str, report_id: str, run_at: str, basis: str = "Accrual",
            report_filter: str = "") -> None:
    conn.execute("""INSERT INTO qbo_report (connection_id, id, updated_at, report, basis, window_start, window_end,
                                            report_filter, payload, run_id)
                    VALUES (%s, %s, %s, 'ProfitAndLoss', %s, '2026-01-01', '2026-06-30', %s, '{}', 'r')""",
                 (cid, report_id, run_at, basis, report_filter))


def _row(conn: psycopg.Connection, cid: str, report_id: str, position: int, month: dt.date, group: str, path: str,
         value: str, *, kind: str = "Summary", column_key: str | None = None, basis: str = "Accrual") -> None:
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    conn.execute("""INSERT INTO qbo_report_row (connection_id, report_id, position, column_index, report, basis,
                        period_start, period_end, column_key, section_path, row_kind, row_group, value)
                    VALUES (%s, %s, %s, %s, 'ProfitAndLoss', %s, %s, %s, %s, %s, %s, %s, %s)""",
                 (cid, report_id, position, month.month, basis, month, end, column_key or month.strftime("%b %Y"),
                  path, kind, group, Decimal(value)))


def _points(conn: psycopg.Connection, cid: str, metric: str, month: dt.date, value: str) -> None:
    conn.execute("""INSERT INTO metric_points (connection_id, metric, grain, bucket, bucket_end, value, count, total)
                    VALUES (%s, %s, 'month', %s, %s, %s, 1, %s)""",
                 (cid, metric, month, (month + dt.timedelta(days=32)).replace(day=1), Decimal(value), Decimal(value)))


def test_the_difference_is_computed_minus_the_newest_reported_group_totals(pg_dsn, cid):
    with psycopg.connect(pg_dsn) as conn:
        register(conn, cid)
        _points(conn, cid, "qbo.net_revenue", MARCH, "1000.00")
        _points(conn, cid, "qbo.expenses", MARCH, "400.00")
        _report(conn, cid, "old", "2026-04-02T10:00:00Z")
        _row(conn, cid, "old", 9, MARCH, "Income", "Income > Total Income", "900.00")
        _report(conn, cid, "new", "2026-05-02T10:00:00Z")
        _row(conn, cid, "new", 3, MARCH, "Income", "Income > Services > Total Services", "600.00")  # sub-total
        _row(conn, cid, "new", 9, MARCH, "Income", "Income > Total Income", "990.00")
        _row(conn, cid, "new", 12, MARCH, "COGS", "Cost of Goods Sold > Total Cost of Goods Sold", "50.00")
        _row(conn, cid, "new", 20, MARCH, "Expenses", "Expenses > Total Expenses", "330.00")
        _row(conn, cid, "new", 21, MARCH, "Expenses", "Expenses > Total Expenses", "9999", column_key="total")
        _row(conn, cid, "new", 30, APRIL, "Income", "Income > Total Income", "70.00")
        _report(conn, cid, "cash", "2026-05-02T10:00:00Z", basis="Cash")
        _row(conn, cid, "cash", 9, MARCH, "Income", "Income > Total Income", "1.00", basis="Cash")
        _report(conn, cid, "one-customer", "2026-05-03T10:00:00Z", report_filter="Customer=7")
        _row(conn, cid, "one-customer", 9, MARCH, "Income", "Income > Total Income", "5.00")
        rows = conn.execute("""SELECT month, measure, computed, reported, difference FROM metric_reconciliation
                               WHERE connection_id = %s ORDER BY month, measure""", (cid,)).fetchall()
    assert rows == [
        (MARCH, "expenses", Decimal("400.00"), Decimal("380.00"), Decimal("20.00")),
        (MARCH, "revenue", Decimal("1000.00"), Decimal("990.00"), Decimal("10.00")),
        (APRIL, "revenue", Decimal("0"), Decimal("70.00"), Decimal("-70.00")),
    ]
