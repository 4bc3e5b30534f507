"""The finance dashboard: QuickBooks' finance metrics, their breakdowns, and the Profit and Loss reconciliation."""

from __future__ import annotations

from plugins.quickbooks.metrics import METRICS, PLUGIN
from shared.metrics.dashboards import Charts, Dashboard, QueryPanel, Row

FINANCE = tuple(m for m in METRICS if "finance" in m.dashboards)
RECONCILIATION_SQL = """SELECT month::timestamp AS "time", measure AS "metric", difference AS value
FROM metric_reconciliation
WHERE connection_id = '$connection' AND month <= $__timeTo()::date AND month_end > $__timeFrom()::date
ORDER BY 1"""
RECONCILIATION_TABLE_SQL = """SELECT month, measure, computed, reported, difference
FROM metric_reconciliation
WHERE connection_id = '$connection' AND month <= $__timeTo()::date AND month_end > $__timeFrom()::date
ORDER BY month DESC, measure"""

RECONCILIATION = Row((
    QueryPanel("timeseries", "Reconciliation: computed minus Profit and Loss", RECONCILIATION_SQL, 12, 9,
               description="Monthly net revenue and expenses from the raw records minus QuickBooks' own Profit and "
                           "Loss (accrual). Zero is agreement; empty until the P&L report is synced.",
               custom={"drawStyle": "bars", "fillOpacity": 60}),
    QueryPanel("table", "Reconciliation by month", RECONCILIATION_TABLE_SQL, 12, 9, fmt="table"),
))

DASHBOARDS = (
    Dashboard("finance-quickbooks.json", "bizmetrics-finance-qbo", "Finance (QuickBooks)", PLUGIN,
              ("finance", "quickbooks"), (Charts.totals(FINANCE), Charts.breakdowns(FINANCE), RECONCILIATION)),
)
