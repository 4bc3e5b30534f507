"""A sync of an OAuth-connected company refreshes its expired access token once and keeps the rotated one."""

from __future__ import annotations

import json

import psycopg

from plugins.quickbooks.streams import STREAMS
from tests.integration.oauth.conftest import REALM


def test_a_sync_with_an_expired_access_token_refreshes_once_and_stores_the_rotated_token(
        sim, qbo_connection, pg_dsn, landing_container, tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    made = qbo_connection(sim)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || %s WHERE connection_id = %s",
                     (json.dumps({"streams": ["Customer", "Invoice"], "reports": False, "retry_base_delay": 0.01}),
                      made.connection_id))
        conn.commit()
    host = LocalDurableHost(app, tmp_path / "store.sqlite", virtual_time=True)
    iid = host.start_new("sync_all", f"sync-{made.connection_id}",
                         {"run_id": f"run-{made.connection_id}", "scope": made.connection_id, "mode": "full"})
    status = host.run_until_complete(iid, timeout=300)
    assert status["output"]["status"] == "succeeded", status["output"]
    # Every stream's fetch asked for a token; exactly one refresh reached Intuit's endpoint.
    assert sim.refresh_calls() == [200]
    with psycopg.connect(pg_dsn) as conn:
        customers = conn.execute(f"SELECT count(*) FROM {STREAMS['Customer'].table.table} WHERE connection_id = %s",
                                 (made.connection_id,)).fetchone()[0]
    assert customers == len(sim.state.records(REALM, "Customer")) > 0
    assert made.status() == ("ok", None)
    assert made.row()["refresh_count"] == 1
    assert "at-stale-" not in json.dumps(status) and sim.current_refresh_token() not in json.dumps(status)
