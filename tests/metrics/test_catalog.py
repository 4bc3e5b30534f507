"""The catalog is consistent with the database: every table a metric reads has dirty-marking triggers that
mark the metric's business dates and watch what it reads; the API's metric list is complete."""

from __future__ import annotations

import psycopg
import pytest

from plugins.registry import metric_catalogs
from shared.metrics import list_metrics
from shared.metrics.registry import all_metrics, required_watches, watch_sql

CATALOGS = metric_catalogs()

QUICKBOOKS = {"qbo.revenue_invoiced", "qbo.sales_receipts", "qbo.credits_and_refunds", "qbo.net_revenue",
              "qbo.payments_received", "qbo.expenses", "qbo.net_cash_flow", "qbo.open_receivables",
              "qbo.overdue_receivables", "qbo.new_customers", "qbo.invoice_count", "qbo.average_invoice_value",
              "qbo.active_customers"}
MONDAY = {"monday.items_created", "monday.items_completed", "monday.open_items", "monday.cycle_time",
          "monday.cycle_time_median"}


def _trigger_args(conn: psycopg.Connection, table: str) -> tuple[set[str], str] | None:
    row = conn.execute("SELECT tgargs FROM pg_trigger WHERE tgname = 'metric_dirty_update' AND tgrelid = %s::regclass",
                       (table,)).fetchone()
    if row is None:
        return None
    dates, watched = bytes(row[0]).decode().split("\x00")[:2]
    return set(dates.split("|")), watched


@pytest.mark.parametrize("table", sorted(required_watches(CATALOGS)))
def test_every_table_a_metric_reads_marks_its_dates_and_watches_its_columns(db, table):
    needed_dates, needed_reads = required_watches(CATALOGS)[table]
    installed = _trigger_args(db, table)
    hint = f"add to a migration:\n{watch_sql(CATALOGS, table)}"
    assert installed is not None, hint
    dates, watched = installed
    assert set(needed_dates) <= dates, hint
    assert all(expr in watched.split(", ") for expr in needed_reads), hint
    # Every expression is valid SQL over the table.
    db.execute(f"SELECT {', '.join(needed_reads)}, {', '.join(d.removesuffix('@ts') for d in needed_dates)} "
               f"FROM {table} r LIMIT 0")


def test_the_api_metric_list_has_every_quickbooks_metric_once_with_its_unit_and_grains():
    listed = list_metrics(CATALOGS, "quickbooks")
    assert {m["name"] for m in listed} == QUICKBOOKS == {
        m.name for m in all_metrics(CATALOGS) if m.plugin == "quickbooks"}
    for entry in listed:
        assert entry["title"] and entry["description"] and entry["unit"] in ("home_currency", "count")
        assert entry["grains"] == ["day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year"]
    receivables = next(m for m in listed if m["name"] == "qbo.open_receivables")
    assert receivables["aggregation"] == "balance" and receivables["dimensions"] == []
    net = next(m for m in listed if m["name"] == "qbo.net_revenue")
    assert net["dimensions"] == ["source"] and net["sources"] == [
        "qbo_invoice", "qbo_sales_receipt", "qbo_credit_memo", "qbo_refund_receipt"]


def test_the_api_metric_list_has_every_monday_metric_with_its_unit_and_breakdowns():
    listed = {m["name"]: m for m in list_metrics(CATALOGS, "monday")}
    assert set(listed) == MONDAY == {m.name for m in all_metrics(CATALOGS) if m.plugin == "monday"}
    assert all(m["sources"] == ["monday_item"] for m in listed.values())
    assert listed["monday.open_items"]["aggregation"] == "balance" and listed["monday.open_items"]["dimensions"] == []
    assert listed["monday.items_completed"]["dimensions"] == ["board", "group", "person"]
    assert listed["monday.cycle_time_median"]["aggregation"] == "median"
    assert {listed[n]["unit"] for n in ("monday.cycle_time", "monday.cycle_time_median")} == {"days"}
