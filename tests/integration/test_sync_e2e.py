"""A sync end to end: HTTP starter -> local Durable host (real SDK replay) -> simulator -> Azurite -> PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import psycopg
import pytest

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app
from shared.db.connections import Connection, upsert_connection
from tests.sim_server import serve

REALM = "9130350000000001"
TOKEN = "test-access-token"
CONNECTION = "qbo-e2e"
TABLES = {"Customer": "qbo_customer", "Invoice": "qbo_invoice", "Payment": "qbo_payment"}


@pytest.fixture
def simulator() -> Iterator[tuple[SimulatorState, str]]:
    company = DemoCompany.generate(realm_id=REALM, seed=11, customers=60, invoices=1100, payments=700)
    state = SimulatorState(companies=[company], clock=SimClock(start="2026-11-01T12:00:00-07:00"),
                           access_tokens={TOKEN})
    with serve(create_app(state)) as url:
        yield state, url


@pytest.fixture
def connection(simulator, pg_dsn, landing_container, monkeypatch) -> str:
    _, url = simulator
    monkeypatch.setenv("SECRET_QBO_E2E_TOKEN", TOKEN)
    with psycopg.connect(pg_dsn) as conn:
        for table in (*TABLES.values(), "stream_state", "metric_points"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "E2E company", {
            "realm_id": REALM, "base_url": url, "access_token_secret": "qbo-e2e-token",
            "page_size": 500, "retry_base_delay": 0.01, "throttle_wait_seconds": 2,
        }))
        conn.commit()
    return CONNECTION


@pytest.fixture
def host(tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    return LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)


def start(host, mode: str, **options) -> tuple[str, str]:
    body = {"connection_id": CONNECTION, "mode": mode}
    if options:
        body["options"] = options
    response = host.invoke_http("start_sync_http", "POST", url="http://localhost/api/syncs",
                                body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.get_body()
    answer = json.loads(response.get_body())
    return answer["instanceId"], answer["runId"]


def sync(host, mode: str, **options) -> dict:
    instance_id, run_id = start(host, mode, **options)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "succeeded", status["output"]
    return streams_of(run_id)


def streams_of(run_id: str) -> dict:
    import os

    with psycopg.connect(os.environ["BIZ_PG_DSN"]) as conn:
        rows = conn.execute(
            "SELECT stream, fetched, inserted, updated, unchanged, deleted, api_calls, status, throttle_waits "
            "FROM sync_run_streams WHERE run_id = %s", (run_id,)
        ).fetchall()
    keys = ("fetched", "inserted", "updated", "unchanged", "deleted", "api_calls", "status", "throttle_waits")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def truth(url: str, entity: str) -> dict[str, dict]:
    """Every record the simulator serves, read through its public query endpoint."""
    out: dict[str, dict] = {}
    position = 1
    active = " WHERE Active IN (true, false)" if entity == "Customer" else ""
    while True:
        query = f"SELECT * FROM {entity}{active} ORDERBY Id STARTPOSITION {position} MAXRESULTS 1000"
        request = urllib.request.Request(
            f"{url}/v3/company/{REALM}/query?query={urllib.parse.quote(query)}&minorversion=75",
            headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            records = json.loads(response.read())["QueryResponse"].get(entity, [])
        out.update({r["Id"]: r for r in records})
        if len(records) < 1000:
            return out
        position += 1000


def database(pg_dsn: str, table: str) -> dict[str, dict]:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            f"SELECT id, payload FROM {table} WHERE connection_id = %s AND deleted_at IS NULL", (CONNECTION,)
        ).fetchall()
    return dict(rows)


def fingerprint(pg_dsn: str) -> str:
    digest = hashlib.sha256()
    with psycopg.connect(pg_dsn) as conn:
        for table in TABLES.values():
            for row in conn.execute(
                f"SELECT id, payload::text, updated_at, deleted_at, run_id, loaded_at FROM {table} "
                "WHERE connection_id = %s ORDER BY id", (CONNECTION,)
            ):
                digest.update(repr(row).encode())
    return digest.hexdigest()


def assert_database_equals_simulator(pg_dsn: str, url: str) -> None:
    for entity, table in TABLES.items():
        expected = truth(url, entity)
        assert expected, entity
        assert database(pg_dsn, table) == expected, entity


def test_full_sync_loads_every_record_and_a_second_full_sync_changes_nothing(host, simulator, connection, pg_dsn):
    _state, url = simulator
    first = sync(host, "full")
    assert_database_equals_simulator(pg_dsn, url)
    assert first["Invoice"]["inserted"] == 1100 and first["Invoice"]["status"] == "succeeded"
    assert first["Invoice"]["api_calls"] >= 3  # 1100 invoices in pages of 500
    before = fingerprint(pg_dsn)
    second = sync(host, "full")
    assert fingerprint(pg_dsn) == before
    assert all(s["inserted"] == 0 and s["updated"] == 0 for s in second.values()), second


def test_incremental_sync_fetches_only_the_changed_records(host, simulator, connection, pg_dsn):
    state, url = simulator
    sync(host, "full")
    invoice_ids = sorted(truth(url, "Invoice"), key=int)[:3]
    for invoice_id in invoice_ids:
        state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed for the incremental test"})
    state.create(REALM, "Customer", {"DisplayName": "Brand New Customer Ltd"})
    streams = sync(host, "incremental")
    assert streams["Invoice"]["fetched"] == 3 and streams["Invoice"]["updated"] == 3
    assert streams["Customer"]["fetched"] == 1 and streams["Customer"]["inserted"] == 1
    assert streams["Payment"]["fetched"] == 0
    assert_database_equals_simulator(pg_dsn, url)
    again = sync(host, "incremental")
    assert sum(s["fetched"] for s in again.values()) == 0


def test_sync_survives_throttling_server_errors_and_truncated_bodies(host, simulator, connection, pg_dsn):
    state, url = simulator
    state.faults.inject("429", count=2, path_contains="/query")
    state.faults.inject("500", count=2, path_contains="/query")
    state.faults.inject("truncated", count=1, path_contains="/query")
    state.faults.inject("429_xml", count=1, path_contains="/query")
    streams = sync(host, "full")
    assert_database_equals_simulator(pg_dsn, url)
    assert sum(s["throttle_waits"] for s in streams.values()) >= 2
    assert sum(s["inserted"] for s in streams.values()) == sum(len(truth(url, e)) for e in TABLES)


def test_long_page_loops_continue_as_new_and_still_load_everything(host, simulator, connection, pg_dsn):
    _, url = simulator
    sync(host, "full", max_pages=1, iterations_per_execution=1)
    assert_database_equals_simulator(pg_dsn, url)


def test_a_second_start_of_a_running_scope_is_refused(host, connection):
    instance_id, _ = start(host, "full")
    response = host.invoke_http("start_sync_http", "POST", url="http://localhost/api/syncs",
                                body=json.dumps({"connection_id": CONNECTION}).encode())
    assert response.status_code == 409
    assert json.loads(response.get_body())["instanceId"] == instance_id
    host.run_until_complete(instance_id, timeout=300)


def test_sync_status_endpoint_reports_the_run(host, connection):
    instance_id, run_id = start(host, "full")
    host.run_until_complete(instance_id, timeout=300)
    response = host.invoke_http("get_sync_http", "GET", url=f"http://localhost/api/syncs/{instance_id}",
                                route_params={"instance_id": instance_id})
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert body["runtimeStatus"] == "Completed" and body["runId"] == run_id
    assert body["run"]["status"] == "succeeded"
    assert {s["stream"] for s in body["run"]["streams"]} == set(TABLES)
    missing = host.invoke_http("get_sync_http", "GET", url="http://localhost/api/syncs/nope",
                               route_params={"instance_id": "nope"})
    assert missing.status_code == 404


def test_bad_credentials_fail_the_stream_with_an_actionable_error_and_keep_loaded_data(
        host, simulator, connection, pg_dsn, monkeypatch):
    _, _url = simulator
    sync(host, "full")
    before = fingerprint(pg_dsn)
    monkeypatch.setenv("SECRET_QBO_E2E_TOKEN", "revoked-token")
    instance_id, run_id = start(host, "incremental")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "failed"
    streams = streams_of(run_id)
    assert all(s["status"] == "failed" for s in streams.values())
    assert "reconnect this company" in json.dumps(status["output"])
    assert "revoked-token" not in json.dumps(status)
    assert fingerprint(pg_dsn) == before
