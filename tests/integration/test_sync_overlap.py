"""A connection is never synced by two orchestrations at once, however the second one was started.

Through the local Durable host (real SDK replay), the HTTP and timer starters, the simulator and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import psycopg
import pytest

from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection
from tests.api_calls import api_key, call, start_sync
from tests.integration.helpers import (
    CONNECTION,
    REALM,
    TABLES,
    TOKEN,
    UNMETERED,
    assert_database_equals_simulator,
    start,
    streams_of,
)

TWIN = "qbo-e2e-twin"  # a second connection (to the same simulated company) that nothing else is syncing


@pytest.fixture
def two_connections(simulator, connection, pg_dsn, monkeypatch) -> Iterator[tuple[str, str]]:
    _, url = simulator
    monkeypatch.setenv(env_name(f"conn-{TWIN}-token"), TOKEN)
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(TWIN, "quickbooks", "E2E twin", {
            "realm_id": REALM, "base_url": url, "access_token_secret": f"conn-{TWIN}-token",
            "page_size": 500, "retry_base_delay": 0.01, "streams": list(TABLES), "reports": False,
            **UNMETERED}))
        # "all" means every enabled connection: other tests' connections point at no simulator.
        conn.execute("UPDATE connections SET enabled = connection_id IN (%s, %s)", (CONNECTION, TWIN))
        conn.commit()
    yield CONNECTION, TWIN
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM connections WHERE connection_id = %s", (TWIN,))
        conn.execute("UPDATE connections SET enabled = true")
        conn.commit()


def drive_until_syncing(host, instance_id: str, connection_id: str, timeout: float = 60) -> str:
    """Drive the host until the instance's run has begun syncing the connection's streams; returns the run id."""
    run_id = host.get_status(instance_id)["input"]["run_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.wait_for(instance_id, timeout=0.05)
        if connection_id in _connections_synced(os.environ["BIZ_PG_DSN"], run_id):
            return run_id
    raise AssertionError(f"{instance_id} never started syncing {connection_id}")


def start_all_over_http(host) -> str:
    instance_id, _ = start_sync(host, {})
    return instance_id


def start_all_by_timer(host) -> str:
    host.invoke_timer("scheduled_sync")
    return "sync-all"


def skipped(output: dict) -> dict[str, str]:
    return {e["connection_id"]: e["error"] for e in output["errors"] if e.get("status") == "skipped"}


@pytest.mark.parametrize("start_all", [start_all_over_http, start_all_by_timer], ids=["http", "timer"])
def test_an_all_sync_started_while_one_connection_syncs_skips_it_and_names_the_run_holding_it(
        host, simulator, two_connections, pg_dsn, start_all):
    state, _ = simulator
    one_instance, one_run = start(host, "full")
    drive_until_syncing(host, one_instance, CONNECTION)
    all_instance = start_all(host)
    everything = host.run_until_complete(all_instance, timeout=300)
    one = host.run_until_complete(one_instance, timeout=300)

    assert one["output"]["status"] == "succeeded"
    assert everything["output"]["status"] == "partial"
    assert set(skipped(everything["output"])) == {CONNECTION}
    assert f"run {one_run} (instance {one_instance})" in skipped(everything["output"])[CONNECTION]
    all_run = everything["output"]["run_id"]
    with psycopg.connect(pg_dsn) as conn:
        synced_by_all = {r[0] for r in conn.execute(
            "SELECT DISTINCT connection_id FROM sync_run_streams WHERE run_id = %s", (all_run,))}
        recorded = conn.execute("SELECT status, errors FROM sync_runs WHERE run_id = %s", (all_run,)).fetchone()
        left = conn.execute("SELECT count(*) FROM connection_leases WHERE run_id IN (%s, %s)",
                            (one_run, all_run)).fetchone()[0]
    assert synced_by_all == {TWIN}
    assert recorded[0] == "partial" and recorded[1] == everything["output"]["errors"]
    assert left == 0  # both runs released what they held
    assert_database_equals_simulator(pg_dsn, state)


def test_a_timer_sync_running_refuses_a_one_connection_start_with_409_and_still_syncs_it_once(
        host, simulator, two_connections, pg_dsn):
    state, _ = simulator
    all_instance = start_all_by_timer(host)
    drive_until_syncing(host, all_instance, CONNECTION)
    response = call(host, "POST", "/api/syncs", {"connection_id": CONNECTION}, key=api_key())
    assert response.status_code == 409
    assert json.loads(response.get_body())["run_id"] == host.get_status(all_instance)["input"]["run_id"]
    assert host.run_until_complete(all_instance, timeout=300)["output"]["status"] == "succeeded"
    assert_database_equals_simulator(pg_dsn, state)


def test_two_orchestrations_started_at_once_past_the_starter_sync_the_connection_once(
        host, simulator, two_connections, pg_dsn):
    """The starter's check-then-start can race; the lease cannot: exactly one run syncs the connection."""
    state, _ = simulator
    inputs = {
        "sync-qbo-e2e": {"run_id": "run-race-one", "scope": CONNECTION, "mode": "full", "trigger": "http"},
        "sync-all": {"run_id": "run-race-all", "scope": "all", "mode": "full", "trigger": "timer"},
    }
    for instance_id, request in inputs.items():
        host.start_new("sync_all", instance_id, request)
    outputs = {i: host.run_until_complete(i, timeout=300)["output"] for i in inputs}

    synced = {run_id for run_id in ("run-race-one", "run-race-all") if CONNECTION in
              {s for s in _connections_synced(pg_dsn, run_id)}}
    assert len(synced) == 1, outputs
    winner = synced.pop()
    loser = next(i for i, r in inputs.items() if r["run_id"] != winner)
    assert f"run {winner}" in skipped(outputs[loser])[CONNECTION]
    assert outputs[loser]["status"] == ("skipped" if loser == "sync-qbo-e2e" else "partial")
    # The API shows both runs as they ended (a skipped run included).
    for instance_id, request in inputs.items():
        shown = call(host, "GET", f"/api/syncs/{request['run_id']}", key=api_key())
        assert shown.status_code == 200 and json.loads(shown.get_body())["status"] == outputs[instance_id]["status"]
    assert streams_of(winner) and all(s["status"] == "succeeded" for s in streams_of(winner).values())
    assert_database_equals_simulator(pg_dsn, state)


def _connections_synced(pg_dsn: str, run_id: str) -> set[str]:
    with psycopg.connect(pg_dsn) as conn:
        return {r[0] for r in conn.execute(
            "SELECT DISTINCT connection_id FROM sync_run_streams WHERE run_id = %s", (run_id,))}
