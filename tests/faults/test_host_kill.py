"""The local host killed with SIGKILL in the middle of a load transaction, then a new host on the same store: it
finds the killed run, resumes it, and the run ends with the database equal to the source, records deleted since
the last sync tombstoned, nothing loaded twice.

The kill lands inside a load for sure: the test holds a lock on the stream's table, so the child's load waits in
its transaction (after COPY into the stage, at the upsert) until the child is killed; the orphaned transaction
never commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from api.starting import instance_id_for
from tests.faults.conftest import a_load_waits_on_a_lock, run_to_success
from tests.faults.sources import (
    MONDAY_CONNECTION,
    monday_connection,
    monday_sim,
    monday_state,
    qbo_connection,
    qbo_state,
    serving,
    top_level_items,
)
from tests.faults.truth import assert_each_page_loaded_once, assert_monday_exact, assert_qbo_exact
from tests.integration import monday_helpers

ROOT = Path(__file__).resolve().parents[2]


def kill_in_a_load(pg_dsn: str, store: Path, connection_id: str, table: str) -> None:
    """Start a full sync in a child host, SIGKILL it while a load of `table` waits in its transaction."""
    with psycopg.connect(pg_dsn) as holder:
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # readers go on, writers wait
        child = subprocess.Popen([sys.executable, "-m", "tests.integration.crash_target", str(store), connection_id],
                                 cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not a_load_waits_on_a_lock(pg_dsn):
            assert child.poll() is None, child.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no load reached the locked table"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        holder.rollback()


def resume(store: Path, connection_id: str) -> dict:
    from devhost import LocalDurableHost
    from function_app import app

    host = LocalDurableHost(app, store, virtual_time=True)
    host.resume()
    status = host.run_until_complete(instance_id_for(connection_id), timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
    return status["output"]


def first_sync(run: Callable[..., object], tmp_path: Path) -> None:
    from devhost import LocalDurableHost
    from function_app import app

    run(LocalDurableHost(app, tmp_path / "first.sqlite", virtual_time=True))


def test_quickbooks_host_killed_mid_load_resumes_and_ends_exact(pg_dsn, landing_container, tmp_path):
    from sandbox.quickbooks import create_app

    state = qbo_state(2_000)
    with serving(create_app(state)) as url:
        connection = qbo_connection(pg_dsn, url, page_size=100)
        first_sync(lambda host: run_to_success(host, "full"), tmp_path)
        invoices = sorted(r["Id"] for r in state.records("9130350000000001", "Invoice"))
        deleted = set(invoices[::97])
        for ident in deleted:
            state.delete("9130350000000001", "Invoice", ident)
        for ident in invoices[1::89]:
            state.update("9130350000000001", "Invoice", ident, {"PrivateNote": "edited before the killed run"})

        store = tmp_path / "devhost.sqlite"
        kill_in_a_load(pg_dsn, store, connection, "qbo_invoice")
        output = resume(store, connection)
    assert_qbo_exact(pg_dsn, state, tombstoned={"Invoice": deleted})
    assert_each_page_loaded_once(pg_dsn, output["run_id"])


def test_monday_host_killed_mid_load_resumes_and_ends_exact(pg_dsn, landing_container, tmp_path):
    from sandbox.monday import create_app

    state = monday_state(600)
    with serving(create_app(state)) as url:
        sim = monday_sim(state, url)
        connection = monday_connection(pg_dsn, url, item_page_size=25)
        first_sync(lambda host: monday_helpers.sync(host, connection, "full"), tmp_path)
        items = top_level_items(sim.account)
        deleted = set(items[::23])
        for ident in deleted:
            state.delete_item(ident)
        for ident in items[1::19]:
            state.rename_item(ident, "renamed before the killed run")

        store = tmp_path / "devhost.sqlite"
        kill_in_a_load(pg_dsn, store, MONDAY_CONNECTION, "monday_item")
        output = resume(store, connection)
    assert_monday_exact(pg_dsn, connection, sim.account, tombstoned=deleted)
    assert_each_page_loaded_once(pg_dsn, output["run_id"])
