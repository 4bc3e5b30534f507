"""What the API and the demo read of QuickBooks' own tables, and the only QuickBooks module that runs SQL.

The reconciliation compares the metrics with QuickBooks' Profit and Loss (the view metric_reconciliation,
migration 0007 of this plugin)."""

from __future__ import annotations

from decimal import Decimal

import psycopg

from plugins.base import ReconciliationRow

_RECONCILIATION = """SELECT month, measure, computed, reported, difference FROM metric_reconciliation
                     WHERE connection_id = %s ORDER BY month, measure"""


def reconciliation(db: psycopg.Connection, connection_id: str) -> list[ReconciliationRow]:
    """Monthly revenue and expenses, computed against the newest reported P&L totals, oldest month first."""
    return [ReconciliationRow(*row) for row in db.execute(_RECONCILIATION, (connection_id,)).fetchall()]


def invoice_versions(db: psycopg.Connection, connection_id: str, ids: list[str]) -> dict[str, tuple[str, Decimal]]:
    """The stored (SyncToken, TotalAmt) of each of the invoices `ids` the connection has (the demo's webhook step)."""
    rows = db.execute("SELECT id, sync_token::text, total_amt FROM qbo_invoice WHERE connection_id = %s "
                      "AND id = ANY(%s)", (connection_id, ids)).fetchall()
    return {ident: (token, Decimal(str(total))) for ident, token, total in rows}
