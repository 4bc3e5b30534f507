"""An input an older version wrote still runs through the real orchestrator replay (devhost, real SDK)."""

from __future__ import annotations

import psycopg

from activities.runs import begin_sync, finish_sync
from tests.integration.helpers import CONNECTION, TABLES, database, streams_of, truth


def test_a_stream_continued_as_new_by_an_older_version_finishes_and_loads_everything(host, simulator, connection,
                                                                                     pg_dsn):
    state, _ = simulator
    run_id = "run-older-stream-state"
    begin_sync({"run_id": run_id, "scope": CONNECTION, "mode": "full", "instance_id": "test"})
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO sync_run_streams (run_id, connection_id, stream) VALUES (%s, %s, 'Invoice')",
                     (run_id, CONNECTION))
    # The state an older sync_stream handed to continue_as_new: it carried server_time, since retired.
    older = {"run_id": run_id, "connection_id": CONNECTION, "stream": "Invoice",
             "cursor": {"ts": "1970-01-01T00:00:00+00:00", "seen": []}, "sweep": True, "sequence": 0,
             "options": {"iterations_per_execution": 1, "max_pages": 1},
             "totals": {"pages": 0, "fetched": 0, "inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0,
                        "quarantined": 0},
             "throttles": 0, "throttle_waits": 0, "server_time": "2026-01-01T10:00:00.000-08:00"}
    try:
        status = host.run_until_complete(host.start_new("sync_stream", "older-stream", older), timeout=300)
    finally:
        finish_sync({"run_id": run_id, "results": []})  # releases the connection's lease for the tests after
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"stream": "Invoice", "status": "succeeded", "error": None}
    assert database(pg_dsn, TABLES["Invoice"]) == truth(state, "Invoice")
    counted = streams_of(run_id)["Invoice"]
    assert (counted["status"], counted["fetched"], counted["inserted"]) == ("succeeded", 1100, 1100)
