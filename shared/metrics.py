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
    """Bring every bucket of the connection's metrics up to date in the caller's transaction.

    Only buckets whose value changed are written (and vanished ones deleted), so an unchanged
    sync leaves the table exactly as it was. Returns the rows written or deleted.
    """
    written = 0
    for metric in (m for m in CATALOG if m.plugin == plugin):
        for grain in GRAINS:
            cur = conn.execute(
                sql.SQL(
                    """WITH fresh AS (
                           SELECT date_trunc(%(grain)s, {date})::date AS bucket, sum({value}) AS value,
                                  count(*) AS count
                           FROM {table}
                           WHERE connection_id = %(cid)s AND deleted_at IS NULL AND {date} IS NOT NULL
                           GROUP BY 1),
                       gone AS (
                           DELETE FROM metric_points m
                           WHERE m.connection_id = %(cid)s AND m.metric = %(metric)s AND m.grain = %(grain)s
                             AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.bucket = m.bucket)
                           RETURNING 1),
                       written AS (
                           INSERT INTO metric_points AS m (connection_id, metric, grain, bucket, value, count)
                           SELECT %(cid)s, %(metric)s, %(grain)s, bucket, value, count FROM fresh
                           ON CONFLICT (connection_id, metric, grain, bucket) DO UPDATE
                           SET value = EXCLUDED.value, count = EXCLUDED.count, computed_at = now()
                           WHERE (m.value, m.count) IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.count)
                           RETURNING 1)
                       SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM written)"""
                ).format(
                    date=sql.Identifier(metric.business_date),
                    value=sql.SQL(metric.value),
                    table=sql.Identifier(metric.table),
                ),
                {"grain": grain, "cid": connection_id, "metric": metric.name},
            )
            written += cur.fetchone()[0]
    return written
