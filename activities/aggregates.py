"""Refreshing the business time series after a connection's sync.

A stream's last load already refreshes the buckets its loads touched, in its own transaction; this pass picks up
what transactions without a refresh left marked (a stream that failed before its last load, a sweep, a manual
fix) and rebuilds metrics whose definition or calendar changed (e.g. the company's fiscal year start arrived in
this sync).
"""

from __future__ import annotations

from typing import Any

from plugins import registry
from shared.core.messages import ConnectionKey
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.metrics import refresh_dirty


def refresh_aggregates(request: dict[str, Any]) -> None:
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, ConnectionKey.from_json(request).connection_id)
        refresh_dirty(conn, connection.connection_id, registry.metric_catalogs())
