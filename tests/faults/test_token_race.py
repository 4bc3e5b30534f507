"""Refresh-token rotation raced by two workers: a sync's access token dies mid-sync (401) at the moment another
process finds the stored token expired, both refresh at once against a slow token endpoint that rotates the
refresh token. One refresh reaches the provider, the loser uses the winner's token, nobody presents the rotated-out
refresh token (no invalid_grant, no action_required), and the sync ends with the database equal to the source."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg

from shared.db.connections import Connection, upsert_connection
from shared.tokens.crypto import Keyring
from shared.tokens.store import load_tokens, utcnow
from tests.faults.conftest import pages_loaded
from tests.faults.sources import qbo_state, serving
from tests.faults.truth import assert_qbo_exact
from tests.integration import helpers
from tests.integration.helpers import CONNECTION, REALM, TABLES
from tests.integration.oauth import conftest as oauth

ROOT = Path(__file__).resolve().parents[2]
oauth_env = oauth.oauth_env


def oauth_connection(pg_dsn: str, url: str) -> oauth.QboConnection:
    connection = Connection(CONNECTION, "quickbooks", "Faults company (OAuth)", {
        "realm_id": REALM, "environment": "sandbox", "auth": "oauth", "base_url": url, "page_size": 100,
        "retry_base_delay": 0.01, "streams": list(TABLES), "reports": False})
    with psycopg.connect(pg_dsn) as conn:
        for table in (*TABLES.values(), "qbo_txn_line", "stream_state", "oauth_tokens"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        upsert_connection(conn, connection)
    return oauth.QboConnection(connection, pg_dsn)


def worker(made: oauth.QboConnection) -> subprocess.Popen:
    """A second process that asks for the connection's bearer token when told "go" (tests/integration/oauth)."""
    spec = json.dumps({"connection_id": made.connection_id, "config": made.connection.config})
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.oauth.bearer_worker", spec], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()[1][-2000:]
    return proc


def test_two_workers_racing_a_rotating_refresh_share_one_refresh_and_the_sync_ends_exact(
        oauth_env, pg_dsn, landing_container, host, trigger):
    initial = f"rt-initial-{secrets.token_hex(8)}"
    state = qbo_state(2_000, refresh_tokens={REALM: initial}, client_id=oauth.CLIENT_ID,
                      client_secret=oauth.CLIENT_SECRET)
    sim = oauth.Sim(state, "", initial_refresh_token=initial)
    # The token endpoint answers after 0.5 s, so the two refreshers really overlap.
    with serving(oauth_app(sim)) as url:
        sim.url = url
        made = oauth_connection(pg_dsn, url)
        # Consented: its access token is live for an hour, so the sync starts without a refresh.
        issued = sim.refresh_outside_our_store(initial)
        made.store(issued["access_token"], issued["refresh_token"], utcnow() + timedelta(hours=1))
        sim.token_calls.clear()
        other = worker(made)

        def race() -> None:
            # The hour ends now: the simulator refuses the sync's token at its next query, and the store says so
            # to the other process, which is told to ask for a token at the same moment.
            state.faults.inject("expire_token", 1, path_contains="/query")
            made.expire_access_token()
            assert other.stdin is not None
            other.stdin.write("go\n")
            other.stdin.flush()

        racing = trigger(lambda: pages_loaded(pg_dsn, CONNECTION) >= 2, race)
        helpers.sync(host, "full")
        racing.finish()
        out, _ = other.communicate(timeout=60)
    got = json.loads(out.strip().splitlines()[-1])
    assert "token" in got, got
    assert sim.refresh_calls() == [200]  # one refresh for both workers, no invalid_grant
    with psycopg.connect(pg_dsn) as conn:
        stored = load_tokens(conn, CONNECTION, Keyring.from_secrets())
    assert stored is not None and stored.tokens.access_token == got["token"]  # the loser uses the winner's token
    assert stored.tokens.refresh_token == state.oauth.current_refresh_token(REALM)  # the rotated one
    assert made.status() == ("ok", None) and made.row()["refresh_count"] == 1
    assert state.faults.pending() == []
    assert_qbo_exact(pg_dsn, state)


def oauth_app(sim: oauth.Sim):
    from sandbox.quickbooks import create_app

    app = create_app(sim.state)
    app.middlewares.append(oauth._counting(sim, 0.5))
    return app
