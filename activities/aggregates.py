"""Refreshing the business time series after a connection's sync.

A stream's last load already refreshes the buckets its loads touched, in its own transaction; this pass picks up
what transactions without a refresh left marked (a stream that failed before its last load, a sweep, a manual
fix, the streams' ends that left it here: activities/stream_end.py) and rebuilds metrics whose definition or
calendar changed (e.g. the company's fiscal year start arrived in this sync, or its first sync), spread over
METRIC_REFRESH_SESSIONS database sessions (shared/metrics/sessions.py).

refresh_ahead runs the same refresh earlier, once a stream has no more than its last read left: beside a split
stream's read after its chains (what changed while they ran: one request, about a second of the API's time, in
which the database has nothing to do), beside the read a stream's count says is its last (FetchResult.last_next),
or after the last load of a stream whose own transaction left the refresh. When no other stream of the run has
more than such a read left, the rebuild of a first sync (1.1-1.7 s at 100,000 records) runs then instead of after
them all. The loads that follow mark the few days they touch, and the connection's refresh at the end restates
only those.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from plugins import registry
from shared.core.config import load_settings
from shared.core.messages import ConnectionKey, StreamKey
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.db.pool import lend
from shared.metrics.refresh import RefreshResult
from shared.metrics.sessions import refresh_in_sessions

log = logging.getLogger(__name__)


def _refresh(conn: psycopg.Connection, connection_id: str, *, wait: bool) -> RefreshResult | None:
    """The connection's refresh in conn's transaction, spread over METRIC_REFRESH_SESSIONS (None: `wait` off and
    another refresh holds the lock)."""
    connection = get_connection(conn, connection_id)
    return refresh_in_sessions(conn, connection.connection_id, registry.metric_catalogs(),
                               sessions=load_settings().refresh_sessions, connect=connect, wait=wait)


def refresh_aggregates(request: dict[str, Any]) -> None:
    with lend() as conn, conn.transaction():
        _refresh(conn, ConnectionKey.from_json(request).connection_id, wait=True)


def refresh_ahead(request: dict[str, Any]) -> dict[str, bool]:
    """Record that the stream has no more than its last read left, then refresh the connection's series if no other
    stream of the run has more than its last read left and no other refresh holds the lock (module docstring).
    Never fails its stream: whatever it does not do, the marks keep for the connection's refresh."""
    stream = request.get("stream") if isinstance(request, dict) else None
    try:
        key = StreamKey.from_json(request)
        with lend() as conn:
            with conn.transaction():
                runs.mark_chains_ended(conn, key.run_id, key.connection_id, key.stream)
            with conn.transaction():
                if runs.others_reading(conn, key.run_id, key.connection_id, key.stream):
                    return {"refreshed": False}
                return {"refreshed": _refresh(conn, key.connection_id, wait=False) is not None}
    except Exception as exc:  # whatever it was, the marks keep the work for the connection's refresh
        # Its task shares the stream's round with the fetch beside it: a failure here would fail the stream. Only the
        # exception's type is logged: a database error's text may quote what a record held.
        log.warning("the refresh beside %s's last read did not run (%s); the connection's refresh does its work",
                    stream, type(exc).__name__)
        return {"refreshed": False}
