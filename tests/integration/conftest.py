"""Fixtures for the end-to-end tests: an in-process QuickBooks simulator, a connection to it, a local host."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest

from shared.db import runs
from shared.db.connections import Connection, upsert_connection
from tests.integration.helpers import CONNECTION, REALM, TABLES, TOKEN, UNMETERED
from tests.sim_server import serve


@pytest.fixture(autouse=True)
def no_run_outlives_its_test(request) -> Iterator[None]:
    """Each test's Durable host ends with the test, so a run it left 'running' can never finish: mark it cancelled,
    or its connection would answer every later test's start with 409 sync_running (one timed-out test failing
    dozens after it)."""
    yield
    if "pg_dsn" not in request.fixturenames:
        return
    with psycopg.connect(request.getfixturevalue("pg_dsn")) as conn:
        for (run_id,) in conn.execute("SELECT run_id FROM sync_runs WHERE status = 'running'").fetchall():
            runs.cancel_run(conn, run_id, "test teardown")


@pytest.fixture
def simulator() -> Iterator[tuple[object, str]]:
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=11, customers=60, invoices=1100, payments=700)
    # The clock starts now: change data capture reaches back 30 days from the real date.
    state = SimulatorState(companies=[company], clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={TOKEN})
    with serve(create_app(state)) as url:
        yield state, url




@pytest.fixture
def connection(simulator, pg_dsn, landing_container, monkeypatch) -> str:
    _, url = simulator
    monkeypatch.setenv("SECRET_CONN_QBO_E2E_TOKEN", TOKEN)
    with psycopg.connect(pg_dsn) as conn:
        for table in (*TABLES.values(), "qbo_txn_line", "stream_state", "metric_points"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "E2E company", {
            "realm_id": REALM, "base_url": url, "access_token_secret": f"conn-{CONNECTION}-token",
            "page_size": 500, "retry_base_delay": 0.01, "throttle_wait_seconds": 2, "streams": list(TABLES),
            "reports": False, **UNMETERED,
        }))
        conn.commit()
    return CONNECTION


@pytest.fixture
def host(tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    return LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)
