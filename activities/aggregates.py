"""Refreshing the business time series after a connection's sync.

A stream's last load already refreshes the buckets its loads touched, in its own transaction; this pass picks up
what transactions without a refresh left marked (a stream that failed before its last load, a sweep, a manual
fix, the streams' ends that left it here: activities/stream_end.py) and rebuilds metrics whose definition or
calendar changed (e.g. the company's fiscal year start arrived in this sync, or its first sync), spread over
METRIC_REFRESH_SESSIONS database sessions (shared/metrics/sessions.py).
"""

from __future__ import annotations

from typing import Any

from plugins import registry
from shared.core.config import load_settings
from shared.core.messages import ConnectionKey
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.metrics.sessions import refresh_in_sessions


def refresh_aggregates(request: dict[str, Any]) -> None:
    sessions = load_settings().refresh_sessions
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, ConnectionKey.from_json(request).connection_id)
        refresh_in_sessions(conn, connection.connection_id, registry.metric_catalogs(), sessions=sessions,
                            connect=connect)
