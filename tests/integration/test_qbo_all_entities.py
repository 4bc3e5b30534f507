"""Every QuickBooks entity end to end: a complete read, then changes, deletes and voids through CDC."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from plugins.quickbooks.streams import RECORD_ID, STREAMS
from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection
from tests.integration.helpers import start
from tests.sim_server import serve

REALM = "9130350000000303"
TOKEN = "all-entities-token"
CONNECTION = "qbo-e2e"  # helpers.start() syncs this connection


def truth(state, entity: str) -> dict[str, dict]:
    name = RECORD_ID.get(entity, lambda r: str(r["Id"]))
    return {name(r): r for r in state.records(REALM, entity)}


def loaded(conn, entity: str) -> dict[str, dict]:
    return dict(conn.execute(f"SELECT id, payload FROM {STREAMS[entity].table.table} "
                             "WHERE connection_id = %s AND deleted_at IS NULL", (CONNECTION,)).fetchall())


def run(host, mode: str) -> dict:
    instance_id, _ = start(host, mode)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "succeeded", status["output"]
    return status


@pytest.fixture
def world(pg_dsn, landing_container, tmp_path, monkeypatch):
    from devhost import LocalDurableHost
    from function_app import app
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=31, customers=40, invoices=200, payments=150)
    state = SimulatorState(companies=[company], clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={TOKEN}, limits=ThrottleLimits(per_second=None, per_minute=None))
    monkeypatch.setenv(env_name(f"conn-{CONNECTION}-token"), TOKEN)
    with serve(create_app(state)) as url, psycopg.connect(pg_dsn) as conn:
        for entity in STREAMS:
            conn.execute(f"DELETE FROM {STREAMS[entity].table.table} WHERE connection_id = %s", (CONNECTION,))
        conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))
        conn.execute("DELETE FROM stream_state WHERE connection_id = %s", (CONNECTION,))
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "All entities", {
            "realm_id": REALM, "base_url": url, "access_token_secret": f"conn-{CONNECTION}-token", "reports": False,
            "retry_base_delay": 0.01}))
        conn.commit()
        yield state, LocalDurableHost(app, tmp_path / "store.sqlite", virtual_time=True), conn


def test_every_entity_matches_the_simulator_after_a_complete_read_and_after_changes(world):
    state, host, conn = world
    run(host, "full")
    for entity in STREAMS:
        expected = truth(state, entity)
        assert expected, f"the demo company has no {entity}"
        assert loaded(conn, entity) == expected, entity

    bill = next(iter(truth(state, "Bill")))
    state.update(REALM, "Bill", bill, {"PrivateNote": "approved"})
    state.delete(REALM, "CreditMemo", next(iter(truth(state, "CreditMemo"))))
    receipt = next(i for i, r in truth(state, "SalesReceipt").items() if r.get("TotalAmt"))
    state.void(REALM, "SalesReceipt", receipt)
    state.create(REALM, "Vendor", {"DisplayName": "New Vendor LLC"})
    journal = next(iter(truth(state, "JournalEntry")))
    state.update(REALM, "JournalEntry", journal, {"PrivateNote": "reviewed"})
    status = run(host, "incremental")
    streams = dict(conn.execute("SELECT stream, fetched FROM sync_run_streams WHERE run_id = %s",
                                (status["output"]["run_id"],)).fetchall())
    assert streams["cdc"] >= 5
    for entity in STREAMS:
        assert loaded(conn, entity) == truth(state, entity), entity
    voided = conn.execute("SELECT voided FROM qbo_sales_receipt WHERE connection_id = %s AND id = %s",
                          (CONNECTION, receipt)).fetchone()
    assert voided == (True,)
    lines = conn.execute("SELECT count(*) FROM qbo_txn_line WHERE connection_id = %s AND txn_type = 'Bill' "
                         "AND txn_id = %s", (CONNECTION, bill)).fetchone()[0]
    assert lines == len(truth(state, "Bill")[bill]["Line"])
