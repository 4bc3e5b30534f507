"""Killing a sync with SIGKILL mid-way and starting it again loads every record exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from api.starting import instance_id_for
from tests.api_calls import api_key, call
from tests.integration.helpers import CONNECTION, TABLES, assert_database_equals_simulator, truth

ROOT = Path(__file__).resolve().parents[2]


def pages_loaded(pg_dsn: str) -> int:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pages), 0) FROM sync_run_streams s JOIN sync_runs r USING (run_id) "
            "WHERE r.scope = %s AND r.status = 'running'", (CONNECTION,)
        ).fetchone()
    return int(row[0])


def test_kill_minus_nine_then_start_again_loads_every_record_once(simulator, connection, pg_dsn, tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    state, _ = simulator
    store = tmp_path / "devhost.sqlite"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || '{\"page_size\": 100}' WHERE connection_id = %s",
                     (CONNECTION,))
        conn.commit()
    child = subprocess.Popen([sys.executable, "-m", "tests.integration.crash_target", str(store), CONNECTION],
                             cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while pages_loaded(pg_dsn) < 3:
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the sync made no progress"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    loaded_before = pages_loaded(pg_dsn)
    assert 3 <= loaded_before < 20, "the kill must land mid-way through the sync"

    host = LocalDurableHost(app, store, virtual_time=True)
    response = call(host, "POST", "/api/syncs", {"connection_id": CONNECTION, "mode": "full"}, key=api_key())
    assert response.status_code == 409  # the killed run is still the scope's running instance
    instance_id = instance_id_for(CONNECTION)
    host.resume()
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status

    assert_database_equals_simulator(pg_dsn, state)
    run_id = status["output"]["run_id"]
    with psycopg.connect(pg_dsn) as conn:
        inserted = dict(conn.execute(
            "SELECT stream, inserted FROM sync_run_streams WHERE run_id = %s", (run_id,)).fetchall())
        duplicate_pages = conn.execute(
            "SELECT count(*) - count(DISTINCT page_ref) FROM loaded_pages WHERE run_id = %s", (run_id,)).fetchone()[0]
    # Each record was inserted exactly once across the killed attempt and the resumed one.
    assert inserted == {entity: len(truth(state, entity)) for entity in TABLES}
    assert duplicate_pages == 0
