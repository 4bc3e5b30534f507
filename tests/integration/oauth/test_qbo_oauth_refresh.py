"""QuickBooks tokens survive rotation: one refresh per expiry across threads and processes, proactive refresh,
invalid_grant handled once and reported, rotated tokens never lost. Real PostgreSQL, real simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plugins.quickbooks import oauth
from plugins.quickbooks.oauth import INVALID_GRANT_REASON, bearer_token
from shared.core.http import ApiError
from shared.tokens.crypto import Keyring
from shared.tokens.store import NotConnected, advisory_key, load_tokens, refresh_if_needed, save_consent, utcnow

from .conftest import CODES, REALM, QboConnection, Sim, exception_text

ROOT = Path(__file__).resolve().parents[3]


def stored_refresh_token(made: QboConnection) -> str | None:
    with psycopg.connect(made.dsn) as conn:
        stored = load_tokens(conn, made.connection_id, Keyring.from_secrets())
    assert stored is not None
    return stored.tokens.refresh_token


def counting_factory(dsn: str, statements: list[str]) -> Callable[[], psycopg.Connection]:
    """Real connections that note every statement, to see how often the stored tokens are read."""

    class Counting(psycopg.Connection):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

    return lambda: Counting.connect(dsn)


def token_reads(statements: list[str]) -> int:
    return sum("FROM oauth_tokens" in s for s in statements)


def race(made: QboConnection, *, threads: int, processes: int) -> list[dict[str, Any]]:
    """Every caller asks for a bearer token at the same moment; returns what each got."""
    spec = json.dumps({"connection_id": made.connection_id, "config": made.connection.config})
    procs = [subprocess.Popen([sys.executable, "-m", "tests.integration.oauth.bearer_worker", spec], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(processes)]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise AssertionError(f"a worker process did not start: {proc.communicate()[1][-2000:]}")
    results: list[dict[str, Any]] = []
    start = threading.Barrier(threads + 1)

    def call() -> None:
        start.wait()
        try:
            results.append({"token": bearer_token(made.connection)})
        except Exception as exc:
            results.append({"error": repr(exc)})

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    start.wait()
    for worker in workers:
        worker.join(60)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        lines = out.strip().splitlines()
        results.append(json.loads(lines[-1]) if lines else {"error": f"worker died: {err[-2000:]}"})
    return results


def test_concurrent_threads_and_processes_refresh_once_per_expiry_across_rotations(slow_sim: Sim, qbo_connection):
    made = qbo_connection(slow_sim)
    seen_refresh_tokens = {slow_sim.initial_refresh_token}
    for expiry in (1, 2, 3):
        results = race(made, threads=6, processes=4)
        assert len(results) == 10
        assert all("token" in r for r in results), results
        tokens = {r["token"] for r in results}
        assert len(tokens) == 1, "every caller gets the one refreshed access token"
        assert slow_sim.query_status(tokens.pop()) == 200
        assert slow_sim.refresh_calls() == [200] * expiry, "exactly one refresh reached the token endpoint"
        stored = stored_refresh_token(made)
        assert stored == slow_sim.current_refresh_token()
        assert stored not in seen_refresh_tokens, "the refresh token rotated and the new one was kept"
        seen_refresh_tokens.add(stored)
        assert made.status() == ("ok", None)
        assert made.row()["refresh_count"] == expiry
        made.expire_access_token()


def test_access_token_expiring_within_the_skew_is_refreshed_before_it_expires(sim: Sim, qbo_connection):
    made = qbo_connection(sim, access_expires_in=timedelta(seconds=200))
    token = bearer_token(made.connection)
    assert sim.refresh_calls() == [200]
    assert sim.query_status(token) == 200
    assert made.row()["access_expires_at"] > utcnow() + timedelta(minutes=59)


def test_access_token_valid_beyond_the_skew_is_used_without_a_refresh(sim: Sim, qbo_connection):
    made = qbo_connection(sim, access_expires_in=timedelta(seconds=400))
    made.store("at-still-good", sim.initial_refresh_token, utcnow() + timedelta(seconds=400))
    assert bearer_token(made.connection) == "at-still-good"
    assert sim.token_calls == []


def test_a_clock_moved_to_within_the_skew_of_expiry_refreshes_proactively(sim: Sim, qbo_connection):
    made = qbo_connection(sim, access_expires_in=timedelta(hours=1))
    made.store("at-good-for-an-hour", sim.initial_refresh_token, utcnow() + timedelta(hours=1))
    assert bearer_token(made.connection, now=lambda: utcnow() + timedelta(minutes=54)) == "at-good-for-an-hour"
    assert sim.token_calls == []
    later = bearer_token(made.connection, now=lambda: utcnow() + timedelta(minutes=56))
    assert later != "at-good-for-an-hour" and sim.query_status(later) == 200
    assert sim.refresh_calls() == [200]


def test_refresh_token_superseded_outside_our_store_marks_the_connection_action_required(
        sim: Sim, qbo_connection, pg_dsn: str):
    made = qbo_connection(sim)
    elsewhere = sim.refresh_outside_our_store(sim.initial_refresh_token)
    statements: list[str] = []
    with pytest.raises(ApiError) as caught:
        bearer_token(made.connection, conn_factory=counting_factory(pg_dsn, statements))
    error = caught.value
    assert error.code == "invalid_grant"
    assert str(error) == f"Connection {made.connection_id}: {INVALID_GRANT_REASON}"
    assert made.status() == ("action_required", INVALID_GRANT_REASON)
    assert sim.refresh_calls() == [200, 400], "one refused refresh; the re-read does not call again"
    assert token_reads(statements) == 3, "a read, a re-read under the lock, and one re-read after the refusal"
    text = exception_text(error)
    for secret in (sim.initial_refresh_token, elsewhere["refresh_token"], elsewhere["access_token"]):
        assert secret not in text


def test_invalid_grant_then_a_reread_finds_tokens_a_new_consent_stored_meanwhile(sim: Sim, qbo_connection, pg_dsn):
    made = qbo_connection(sim)
    # The user reconnects while our refresh is in flight: the code exchange supersedes the stored refresh token.
    consent = oauth.exchange_code(CODES[0], REALM, "http://localhost/cb", config=made.connection.config)
    ring = Keyring.from_secrets()
    writer_done = threading.Event()

    def store_consent() -> None:
        with psycopg.connect(pg_dsn) as conn:
            save_consent(conn, made.connection_id, consent, ring)  # waits for the refresh lock
        writer_done.set()

    def refresh(refresh_token: str):
        threading.Thread(target=store_consent).start()
        wait_for_a_lock_waiter(pg_dsn, made.connection_id)
        return oauth.refresh_tokens(refresh_token, made.connection.config)

    token = refresh_if_needed(lambda: psycopg.connect(pg_dsn), made.connection_id, refresh,
                              invalid_grant_reason=INVALID_GRANT_REASON)
    assert writer_done.wait(10)
    assert token == consent.access_token
    assert sim.refresh_calls() == [400]
    assert made.status() == ("ok", None)
    assert stored_refresh_token(made) == sim.current_refresh_token()


# pg_locks spans the whole cluster (other test sessions too): only this database's lock of this connection counts.
REFRESH_LOCK = """FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND classid::bigint = (%(key)s >> 32) & 4294967295 AND objid::bigint = %(key)s & 4294967295"""


def wait_for_a_lock_waiter(dsn: str, connection_id: str) -> None:
    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(f"SELECT count(*) {REFRESH_LOCK} AND NOT granted",
                                   {"key": advisory_key(connection_id)})
            if waiting.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waited for the refresh lock")


def test_rotated_refresh_token_is_kept_when_the_first_commit_is_lost(sim: Sim, qbo_connection, pg_dsn: str):
    made = qbo_connection(sim)

    def refresh_then_lose_the_database(refresh_token: str):
        issued = oauth.refresh_tokens(refresh_token, made.connection.config)
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            killed = admin.execute(f"SELECT pg_terminate_backend(pid) {REFRESH_LOCK} AND granted",
                                   {"key": advisory_key(made.connection_id)}).fetchall()
        assert killed == [(True,)]
        return issued

    token = refresh_if_needed(lambda: psycopg.connect(pg_dsn), made.connection_id, refresh_then_lose_the_database)
    assert sim.query_status(token) == 200
    assert stored_refresh_token(made) == sim.current_refresh_token()
    assert made.row()["refresh_count"] == 1


def test_connection_without_tokens_says_how_to_connect(sim: Sim, qbo_connection, pg_dsn: str):
    made = qbo_connection(sim)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM oauth_tokens WHERE connection_id = %s", (made.connection_id,))
    with pytest.raises(NotConnected, match="has no OAuth tokens: connect it first"):
        bearer_token(made.connection)


def test_a_caller_that_waits_too_long_for_another_refresh_gets_a_transient_error(
        sim: Sim, qbo_connection, pg_dsn: str, monkeypatch: pytest.MonkeyPatch):
    from shared.tokens import store as tokens

    made = qbo_connection(sim)
    monkeypatch.setattr(tokens, "LOCK_WAIT", "200ms")
    with psycopg.connect(pg_dsn) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (tokens.advisory_key(made.connection_id),))
        with pytest.raises(ApiError) as caught:
            bearer_token(made.connection)
    assert (caught.value.code, caught.value.transient) == ("refresh_lock_timeout", True)
    assert sim.token_calls == []


def test_a_refused_access_token_is_refreshed_once_however_long_its_stored_expiry(sim: Sim, qbo_connection):
    made = qbo_connection(sim, access_expires_in=timedelta(hours=1))
    refused = bearer_token(made.connection)
    assert sim.refresh_calls() == []  # the stored token looks good for an hour
    fresh = bearer_token(made.connection, rejected=refused)
    assert fresh != refused and sim.refresh_calls() == [200] and sim.query_status(fresh) == 200
    # Another fetch refused the same token meanwhile: it takes the new one, without a second refresh.
    assert bearer_token(made.connection, rejected=refused) == fresh and sim.refresh_calls() == [200]
