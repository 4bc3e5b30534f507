"""A first, minimal metric catalog and its SQL aggregation (the full catalog is its own piece of work).

Each metric is declared once: its plugin, raw table, business date and value. Buckets are calendar
periods of the business date (weeks from Monday), never the sync time.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

GRAINS = ("day", "week", "month", "quarter")


@dataclass(frozen=True)
class Metric:
    name: str
    plugin: str
    table: str
    business_date: str
    value: str  # SQL expression over the raw table's typed columns
    unit: str


CATALOG: tuple[Metric, ...] = (
    Metric("qbo.revenue_invoiced", "quickbooks", "qbo_invoice", "txn_date", "total_amt", "currency"),
    Metric("qbo.payments_received", "quickbooks", "qbo_payment", "txn_date", "total_amt", "currency"),
)


def refresh_connection(conn: psycopg.Connection, connection_id: str, plugin: str) -> int:
    """Recompute every bucket of the connection's metrics in the caller's transaction; returns rows written."""
    written = 0
    for metric in (m for m in CATALOG if m.plugin == plugin):
        conn.execute(
            "DELETE FROM metric_points WHERE connection_id = %s AND metric = %s", (connection_id, metric.name)
        )
        for grain in GRAINS:
            cur = conn.execute(
                sql.SQL(
                    """INSERT INTO metric_points (connection_id, metric, grain, bucket, value, count)
                       SELECT %s, %s, %s, date_trunc(%s, {date})::date, sum({value}), count(*)
                       FROM {table}
                       WHERE connection_id = %s AND deleted_at IS NULL AND {date} IS NOT NULL
                       GROUP BY 4"""
                ).format(
                    date=sql.Identifier(metric.business_date),
                    value=sql.SQL(metric.value),
                    table=sql.Identifier(metric.table),
                ),
                (connection_id, metric.name, grain, grain, connection_id),
            )
            written += cur.rowcount
    return written
