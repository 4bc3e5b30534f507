"""The metric refresh at a stream's end (its last load, or its sweep when it tombstoned rows).

A stream's changes are refreshed in the transaction that ends it, so its series are consistent with its raw rows
when it commits, unless one of these holds; the marks then wait, committed beside their rows, for the
connection's refresh_aggregates, which sync_connection runs once every stream of the run has ended:

- another stream of the connection in the same run has not ended: its loads go on marking the same tables, and a
  first sync's refresh rebuilds each metric whole from every raw row so far (its marks span every date), so a
  refresh now is repeated after it. Measured in the full-sync benchmark (docs/SCALING.md): one such refresh ran
  14.4 s beside the large streams' loads, and the sync ended 8 s after its last page;
- another refresh of the connection holds its lock: waiting for it held the streams' ends back (fifty boards
  ending together after a budget window refreshed one after another, their loads taking 20-45 s);
- the refresh would rebuild two metrics or more whole (a first sync, a pass that changed most days, a changed
  definition or calendar) and the connection's refresh spreads such rebuilds over database sessions
  (METRIC_REFRESH_SESSIONS, 2 by default): here they would run one after another, in this transaction (at
  100,000 records, 5.6-6.0 s in one session against 2.6-3.4 s in two: shared/metrics/sessions.py).

Metrics whose data PostgreSQL refused at an earlier refresh are left out here (retry_refused=False): each retry is a
whole rebuild, which the connection's refresh does once per sync (shared/metrics/refresh.py).
"""

from __future__ import annotations

import logging

import psycopg

from plugins import registry
from shared.core.config import load_settings
from shared.db import runs
from shared.metrics import refresh_dirty

log = logging.getLogger(__name__)


def refresh_at_stream_end(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> bool:
    """Refresh what the connection's committed and this transaction's marks touched; False when it is left to the
    connection's next refresh (module docstring)."""
    if runs.others_running(conn, run_id, connection_id, stream):
        log.info("the refresh of %s's series waits for the connection's (other streams are still running)", stream)
        return False
    result = refresh_dirty(conn, connection_id, registry.metric_catalogs(), wait=False,
                           leave_rebuilds=load_settings().refresh_sessions > 1, retry_refused=False)
    if result.rebuilds:
        log.info("the rebuild of %d metrics for %s's series waits for the connection's refresh, which spreads it "
                 "over sessions", result.rebuilds, stream)
    elif result.deferred:
        log.info("the refresh of %s's series waits for the connection's next one (another holds it)", stream)
    return not result.deferred
