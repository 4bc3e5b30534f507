"""Several QuickBooks companies are separate connections: one run syncs each into its own rows."""

from __future__ import annotations

import datetime as dt

import psycopg

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app
from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection
from tests.sim_server import serve

TOKEN = "two-company-token"
REALMS = {"qbo-acme": "9130350000000101", "qbo-globex": "9130350000000202"}
TABLES = {"Customer": "qbo_customer", "Invoice": "qbo_invoice", "Payment": "qbo_payment"}


def test_one_run_syncs_each_company_into_its_own_rows(pg_dsn, landing_container, tmp_path, monkeypatch):
    from devhost import LocalDurableHost
    from function_app import app

    companies = [DemoCompany.generate(realm_id=realm, seed=seed, customers=30, invoices=300, payments=200)
                 for seed, realm in enumerate(REALMS.values(), start=21)]
    state = SimulatorState(companies=companies, clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={TOKEN})
    for connection_id in REALMS:
        monkeypatch.setenv(env_name(f"conn-{connection_id}-token"), TOKEN)
    with serve(create_app(state)) as url, psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET enabled = false")
        for connection_id, realm in REALMS.items():
            upsert_connection(conn, Connection(connection_id, "quickbooks", connection_id, {
                "realm_id": realm, "base_url": url, "access_token_secret": f"conn-{connection_id}-token",
                "environment": "sandbox", "streams": list(TABLES), "retry_base_delay": 0.01,
                "reports": False}))
        conn.commit()
        host = LocalDurableHost(app, tmp_path / "store.sqlite", virtual_time=True)
        host.start_new("sync_all", "sync-all", {"run_id": "run-two-companies", "scope": "all", "mode": "full"})
        status = host.run_until_complete("sync-all", timeout=300)
        assert status["output"]["status"] == "succeeded", status["output"]
        for connection_id, realm in REALMS.items():
            for entity, table in TABLES.items():
                expected = {r["Id"]: r for r in state.records(realm, entity)}
                loaded = dict(conn.execute(
                    f"SELECT id, payload FROM {table} WHERE connection_id = %s AND deleted_at IS NULL",
                    (connection_id,)).fetchall())
                assert loaded == expected, (connection_id, entity)
        streams = conn.execute("SELECT connection_id, count(*) FROM sync_run_streams WHERE run_id = %s "
                               "GROUP BY 1 ORDER BY 1", ("run-two-companies",)).fetchall()
        assert streams == [("qbo-acme", 3), ("qbo-globex", 3)]
        conn.execute("UPDATE connections SET enabled = true")
        conn.commit()
