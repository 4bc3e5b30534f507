"""The whole near-real-time path on the local stack: the QuickBooks simulator sends a signed CloudEvents webhook to
the local server (`make api`), the route verifies and queues it on Azurite, the queue trigger starts the debounced
incremental sync, and the changed record lands in PostgreSQL. A forged delivery of the same kind changes nothing.

The server reads the real change queue here (the route writes it): the queue is emptied first, and the test looks
only at runs started after its own change.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.changes.queue import queue_client
from tests.integration.helpers import REALM

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
VERIFIER = "verifier-of-the-e2e-test-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, key: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _until(check, timeout: float = 120.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


@pytest.fixture
def server(pg_dsn, landing_container, connection, tmp_path) -> Iterator[tuple[str, str]]:
    queue = queue_client()
    # Notices other tests left: this server takes whatever the queue holds.
    with contextlib.suppress(ResourceNotFoundError):
        queue.clear_messages()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_API_KEY_PEPPER": "pepper-for-the-e2e-test-0123456789",
           "SECRET_QBO_WEBHOOK_VERIFIER": VERIFIER, "BIZ_CHANGE_DEBOUNCE_SECONDS": "1",
           "BIZ_CHANGE_MAX_WAIT_SECONDS": "5"}
    process = subprocess.Popen([sys.executable, "-m", "devhost.api_server", "--port", str(port)], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return _call(f"{base}/api/health/live")[0] == 200
        except OSError:
            return False

    if not _until(live, timeout=60):
        process.kill()
        pytest.fail(f"the API server did not start: {process.stdout.read() if process.stdout else ''}")
    try:
        yield base, (tmp_path / ".local" / "api-key").read_text().strip()
    finally:
        process.terminate()
        process.wait(timeout=20)


def _doc_number(pg_dsn: str, connection: str, ident: str) -> str | None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT payload->>'DocNumber' FROM qbo_invoice WHERE connection_id = %s AND id = %s",
                           (connection, ident)).fetchone()
    return row[0] if row else None


def _webhook_runs(pg_dsn: str, connection: str) -> list[tuple[str, str]]:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT run_id, status FROM sync_runs WHERE trigger = 'webhook' AND scope = %s "
                            "ORDER BY started_at", (connection,)).fetchall()


def test_a_signed_webhook_syncs_the_changed_record_and_a_forged_one_does_not(server, simulator, connection, pg_dsn):
    base, key = server
    state, sim_url = simulator
    status, body = _call(f"{base}/api/syncs", key, "POST", {"connection_id": connection, "mode": "full"})
    assert status == 202, body
    done = _until(lambda: (_call(f"{base}/api/syncs/{body['run_id']}", key)[1].get("status") or "running")
                  != "running" and _call(f"{base}/api/syncs/{body['run_id']}", key)[1])
    assert done["status"] == "succeeded", done
    with psycopg.connect(pg_dsn) as conn:
        (ident,) = conn.execute("SELECT id FROM qbo_invoice WHERE connection_id = %s ORDER BY id LIMIT 1",
                                (connection,)).fetchone()

    state.webhooks.subscribe(f"{base}/api/webhooks/quickbooks", VERIFIER)
    _call(f"{sim_url}/_sim/webhooks/settings", method="POST", body={"retry_delays": [0.1]})
    before = _webhook_runs(pg_dsn, connection)
    state.update(REALM, "Invoice", ident, {"DocNumber": "WEBHOOK-1"})
    assert state.webhooks.outbox.flush(10)
    assert _until(lambda: _doc_number(pg_dsn, connection, ident) == "WEBHOOK-1"), "the change never landed"
    started = [run for run in _webhook_runs(pg_dsn, connection) if run not in before]
    assert started and _until(lambda: all(s == "succeeded" for _, s in _webhook_runs(pg_dsn, connection)
                                          if (_, s) not in before) or None, timeout=60)

    # Forged: the same kind of change, signed with another secret: refused (401), queued nothing, synced nothing.
    settled = _webhook_runs(pg_dsn, connection)
    assert _call(f"{sim_url}/_sim/webhooks/faults", method="POST", body={"kind": "bad_signature", "count": 1})[0] < 300
    _call(f"{sim_url}/_sim/webhooks/deliveries", method="DELETE")
    state.update(REALM, "Invoice", ident, {"DocNumber": "FORGED-1"})
    assert state.webhooks.outbox.flush(10)
    deliveries = _call(f"{sim_url}/_sim/webhooks/deliveries")[1]
    attempts = deliveries.get("deliveries", deliveries) if isinstance(deliveries, dict) else deliveries
    assert attempts and all(a.get("status") == 401 for a in attempts), attempts
    time.sleep(4)  # past the debounce window and the max wait's first step: a run would have been recorded
    assert _webhook_runs(pg_dsn, connection) == settled
    assert _doc_number(pg_dsn, connection, ident) == "WEBHOOK-1"
