"""Refreshing the business time series after a connection's load."""

from __future__ import annotations

from typing import Any

from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.metrics import refresh_connection


def refresh_aggregates(request: dict[str, Any]) -> dict[str, int]:
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, request["connection_id"])
        written = refresh_connection(conn, connection.connection_id, connection.plugin)
    return {"metric_points": written}
