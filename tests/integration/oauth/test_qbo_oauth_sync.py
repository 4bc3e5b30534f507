"""A sync of an OAuth-connected company refreshes its expired access token once and keeps the rotated one."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg

from plugins.quickbooks.streams import STREAMS
from shared.tokens.store import utcnow
from tests.integration.oauth.conftest import REALM
from tests.integration.oauth.test_qbo_oauth_refresh import stored_refresh_token


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


def _connected_with_live_tokens(sim, qbo_connection, pg_dsn):
    """A connection whose stored tokens are the simulator's live ones (access token valid for the next hour)."""
    made = qbo_connection(sim)
    issued = sim.refresh_outside_our_store(sim.initial_refresh_token)
    made.store(issued["access_token"], issued["refresh_token"], utcnow() + timedelta(hours=1))
    sim.token_calls.clear()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || %s WHERE connection_id = %s",
                     (json.dumps({"streams": ["Customer", "Invoice"], "reports": False, "retry_base_delay": 0.01,
                                  "page_size": 5}), made.connection_id))
        conn.commit()
    return made


def _sync(made, tmp_path) -> dict:
    from devhost import LocalDurableHost
    from function_app import app

    host = LocalDurableHost(app, tmp_path / "store.sqlite", virtual_time=True)
    iid = host.start_new("sync_all", f"sync-{made.connection_id}",
                         {"run_id": f"run-{made.connection_id}", "scope": made.connection_id, "mode": "full"})
    return host.run_until_complete(iid, timeout=300)


def test_an_access_token_that_expires_during_a_fetch_is_refreshed_and_the_call_asked_again(
        sim, qbo_connection, pg_dsn, landing_container, tmp_path):
    made = _connected_with_live_tokens(sim, qbo_connection, pg_dsn)
    # Its hour ends at the first query: the stored expiry still says it is good for an hour.
    sim.state.faults.inject("expire_token", count=1, path_contains="/query")
    status = _sync(made, tmp_path)
    assert status["output"]["status"] == "succeeded", status["output"]
    assert sim.refresh_calls() == [200]  # one refresh, then the same call again with the new token
    assert made.row()["refresh_count"] == 1 and made.status() == ("ok", None)
    with psycopg.connect(pg_dsn) as conn:
        invoices = conn.execute(f"SELECT count(*) FROM {STREAMS['Invoice'].table.table} WHERE connection_id = %s",
                                (made.connection_id,)).fetchone()[0]
    assert invoices == len(sim.state.records(REALM, "Invoice")) > 5  # several pages, all loaded
    assert sim.current_refresh_token() not in json.dumps(status)


def test_only_a_refused_refresh_token_during_a_fetch_asks_to_reconnect(
        sim, qbo_connection, pg_dsn, landing_container, tmp_path):
    made = _connected_with_live_tokens(sim, qbo_connection, pg_dsn)
    # Another client rotates the refresh token: the one we store is dead from now on.
    sim.refresh_outside_our_store(stored_refresh_token(made))
    sim.state.faults.inject("expire_token", count=1, path_contains="/query")
    status = _sync(made, tmp_path)
    assert status["output"]["status"] == "failed"
    assert "reconnect this company" in json.dumps(status["output"])
    assert made.status()[0] == "action_required"
    assert 400 in sim.refresh_calls()

