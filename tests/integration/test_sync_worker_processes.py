"""A full sync with the local host's activities in two worker processes (as FUNCTIONS_WORKER_PROCESS_COUNT=2): the
same database as with threads, the realm's request windows kept in PostgreSQL across the processes."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.integration.helpers import REALM, assert_database_equals_simulator, sync


@pytest.fixture
def host(tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    with LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True, activity_processes=2,
                          app_ref="function_app:app") as host:
        yield host


def test_a_full_sync_through_worker_processes_loads_every_record(host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:
        began = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    streams = sync(host, "full")
    assert streams["Invoice"]["inserted"] == 1100 and streams["Invoice"]["status"] == "succeeded"
    assert_database_equals_simulator(pg_dsn, state)
    workers = host.workers.process_ids()
    assert len(workers) == 2 and os.getpid() not in workers
    with psycopg.connect(pg_dsn) as conn:
        latest = conn.execute("SELECT max(t) FROM rate_budgets, unnest(sent) AS t WHERE budget_key = %s",
                              (f"quickbooks-realm:{REALM}",)).fetchone()[0]
    # The fetches, in the worker processes, reserved their sends in the realm's budget in PostgreSQL.
    assert latest is not None and latest > began
