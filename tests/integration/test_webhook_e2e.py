"""The whole near-real-time path on the local stack: the QuickBooks simulator sends a signed CloudEvents webhook to
the local server (`make api`), the route verifies and queues it on Azurite, the queue trigger starts the debounced
incremental sync, and the changed record lands in PostgreSQL. A forged delivery of the same kind changes nothing; a
burst of 50 signed deliveries gives one or two runs that never overlap.

The server reads and writes a change queue of the test's own (tests/integration/webhook_e2e.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.integration.helpers import REALM
from tests.integration.webhook_e2e import (
    api_server,
    assert_never_overlapping,
    call,
    change_queue,
    db_now,
    settled,
    until,
    wait_for_run,
    webhook_runs,
)

pytestmark = pytest.mark.integration
VERIFIER = "verifier-of-the-e2e-test-0123456789"
BURST = 50
__all__ = ["change_queue"]  # a fixture the tests here use


@pytest.fixture
def max_wait() -> int:
    """BIZ_CHANGE_MAX_WAIT_SECONDS of the server: the longest a notice waits while notices keep coming."""
    return 5


@pytest.fixture
def server(pg_dsn, landing_container, connection, tmp_path, change_queue, max_wait) -> Iterator[tuple[str, str]]:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM pending_changes WHERE connection_id = %s", (connection,))
        conn.commit()
    with api_server(tmp_path, change_queue, SECRET_QBO_WEBHOOK_VERIFIER=VERIFIER, BIZ_CHANGE_DEBOUNCE_SECONDS="1",
                    BIZ_CHANGE_MAX_WAIT_SECONDS=str(max_wait)) as started:
        yield started


def _doc_number(pg_dsn: str, connection: str, ident: str) -> str | None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT payload->>'DocNumber' FROM qbo_invoice WHERE connection_id = %s AND id = %s",
                           (connection, ident)).fetchone()
    return row[0] if row else None


def _full_sync(base: str, key: str, connection: str) -> None:
    status, body = call(f"{base}/api/syncs", key, "POST", {"connection_id": connection, "mode": "full"})
    assert status == 202, body
    done = wait_for_run(base, key, body["run_id"])
    assert done["status"] == "succeeded", done


def test_a_signed_webhook_syncs_the_changed_record_and_a_forged_one_does_not(server, simulator, connection, pg_dsn):
    base, key = server
    state, sim_url = simulator
    _full_sync(base, key, connection)
    with psycopg.connect(pg_dsn) as conn:
        (ident,) = conn.execute("SELECT id FROM qbo_invoice WHERE connection_id = %s ORDER BY id LIMIT 1",
                                (connection,)).fetchone()

    state.webhooks.subscribe(f"{base}/api/webhooks/quickbooks", VERIFIER)
    call(f"{sim_url}/_sim/webhooks/settings", method="POST", body={"retry_delays": [0.1]})
    since = db_now(pg_dsn)
    state.update(REALM, "Invoice", ident, {"DocNumber": "WEBHOOK-1"})
    assert state.webhooks.outbox.flush(10)
    assert until(lambda: _doc_number(pg_dsn, connection, ident) == "WEBHOOK-1"), "the change never landed"
    runs = until(lambda: settled(pg_dsn, connection, since), timeout=60)
    assert runs and all(run["status"] == "succeeded" for run in runs), runs

    # Forged: the same kind of change, signed with another secret: refused (401), queued nothing, synced nothing.
    before = webhook_runs(pg_dsn, connection)
    assert call(f"{sim_url}/_sim/webhooks/faults", method="POST", body={"kind": "bad_signature", "count": 1})[0] < 300
    call(f"{sim_url}/_sim/webhooks/deliveries", method="DELETE")
    state.update(REALM, "Invoice", ident, {"DocNumber": "FORGED-1"})
    assert state.webhooks.outbox.flush(10)
    deliveries = call(f"{sim_url}/_sim/webhooks/deliveries")[1]
    attempts = deliveries.get("deliveries", deliveries) if isinstance(deliveries, dict) else deliveries
    assert attempts and all(a.get("status") == 401 for a in attempts), attempts
    time.sleep(4)  # past the debounce window and the max wait's first step: a run would have been recorded
    assert webhook_runs(pg_dsn, connection) == before
    assert _doc_number(pg_dsn, connection, ident) == "WEBHOOK-1"


# The burst is one burst: its deliveries come closer together than the 1-second quiet window, and it ends before
# the max wait would cut it (on a busy machine 50 deliveries may take several seconds).
@pytest.mark.parametrize("max_wait", [60])
def test_a_burst_of_fifty_signed_deliveries_gives_one_or_two_runs_that_never_overlap(
        server, simulator, connection, pg_dsn):
    base, key = server
    state, sim_url = simulator
    _full_sync(base, key, connection)
    invoices = sorted((r["Id"] for r in state.records(REALM, "Invoice")), key=int)[:BURST]
    state.webhooks.subscribe(f"{base}/api/webhooks/quickbooks", VERIFIER)
    call(f"{sim_url}/_sim/webhooks/settings", method="POST", body={"batch_seconds": 0, "retry_delays": []})
    call(f"{sim_url}/_sim/webhooks/deliveries", method="DELETE")
    since = db_now(pg_dsn)

    # 50 changes, each posted alone as soon as it is made (a flush per change: no batching window gathers two).
    for n, ident in enumerate(invoices):
        state.update(REALM, "Invoice", ident, {"PrivateNote": f"burst {n}"})
        assert state.webhooks.outbox.flush(10)
    attempts = state.webhooks.outbox.attempts()
    assert len(attempts) == BURST and all(a.status == 200 and len(a.events) == 1 for a in attempts), [
        (a.status, len(a.events)) for a in attempts]

    runs = until(lambda: settled(pg_dsn, connection, since), timeout=180)
    assert runs and 1 <= len(runs) <= 2, runs
    assert all(run["status"] == "succeeded" for run in runs), runs
    assert_never_overlapping(runs)
    with psycopg.connect(pg_dsn) as conn:
        notes = dict(conn.execute("SELECT id, payload->>'PrivateNote' FROM qbo_invoice WHERE connection_id = %s "
                                  "AND id = ANY(%s)", (connection, invoices)).fetchall())
    assert notes == {ident: f"burst {n}" for n, ident in enumerate(invoices)}  # every change landed
