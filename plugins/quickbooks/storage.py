"""What the API reads of QuickBooks' own tables, and the only QuickBooks module that runs SQL.

The reconciliation compares the metrics with QuickBooks' Profit and Loss (the view metric_reconciliation,
migration 0007 of this plugin)."""

from __future__ import annotations

import psycopg

from plugins.base import ReconciliationRow

_RECONCILIATION = """SELECT month, measure, computed, reported, difference FROM metric_reconciliation
                     WHERE connection_id = %s ORDER BY month, measure"""


def reconciliation(db: psycopg.Connection, connection_id: str) -> list[ReconciliationRow]:
    """Monthly revenue and expenses, computed against the newest reported P&L totals, oldest month first."""
    return [ReconciliationRow(*row) for row in db.execute(_RECONCILIATION, (connection_id,)).fetchall()]
