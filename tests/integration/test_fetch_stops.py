"""fetch_pages reads nothing for a stream whose run has recorded its end: the other chains of a split stream stop
there once one of them has failed (orchestrators/sync_stream.py), against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import psycopg

from activities.fetch import fetch_pages
from activities.planning import plan_streams
from activities.runs import begin_sync, finish_stream
from shared.db.connections import Connection, upsert_connection

CONNECTION = "qbo-fetch-stops"


def test_a_chain_of_a_stream_that_ended_failed_reads_nothing_and_says_why(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        # Nothing listens at this address: a fetch that asked the source anything would fail.
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "Fetch stops", {
            "realm_id": "1", "base_url": "http://127.0.0.1:9", "streams": ["Invoice"], "reports": False}))
        conn.commit()
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    begin_sync({"run_id": run_id, "scope": CONNECTION, "mode": "full", "instance_id": "test"})
    plan_streams({"run_id": run_id, "connection_id": CONNECTION, "mode": "full"})
    # A sibling chain failed and recorded its stream's failure.
    finish_stream({"run_id": run_id, "connection_id": CONNECTION, "stream": "Invoice", "status": "failed",
                   "error": "HTTP 400 reading a page"})
    chain = {"ts": "2026-01-01T00:00:00+00:00", "seen": [], "before": "2026-06-01T00:00:00+00:00"}
    fetched = asyncio.run(fetch_pages({"run_id": run_id, "connection_id": CONNECTION, "stream": "Invoice",
                                       "cursor": chain, "sequence": 100001}))
    assert fetched["pages"] == [] and fetched["cursor"] == chain and not fetched["done"]
    assert fetched["stopped"] == f"Invoice already ended failed in run {run_id}: nothing more is read for it"
    with psycopg.connect(pg_dsn) as conn:
        calls, status = conn.execute("SELECT api_calls, status FROM sync_run_streams WHERE run_id = %s",
                                     (run_id,)).fetchone()
    assert (calls, status) == (0, "failed")
