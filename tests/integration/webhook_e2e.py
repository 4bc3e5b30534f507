"""Shared pieces of the webhook end-to-end tests: a change queue of the test's own on Azurite, `make api`'s server
(devhost.api_server) started on it in a subprocess, HTTP calls, polling, and the database's view of webhook runs.

The server reads and writes the test's own queue (`--queue bizmetrics-changes=<own>`: its webhook routes put their
notices there and its queue trigger takes them from there), so no other test session on the shared Azurite takes
this test's notices or hands it theirs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from shared.changes.queue import QUEUE_NAME, queue_client
from shared.core.config import DEFAULT_STORAGE

ROOT = Path(__file__).resolve().parents[2]
PEPPER = "pepper-for-the-e2e-test-0123456789"


@pytest.fixture
def change_queue() -> Iterator[str]:
    """The name of a change queue of this test's own (deleted after it, with its poison queue)."""
    name = f"changes-{uuid.uuid4().hex[:12]}"
    yield name
    for queue in (name, name + "-poison"):
        with contextlib.suppress(ResourceNotFoundError):
            QueueClient.from_connection_string(DEFAULT_STORAGE, queue).delete_queue()


def change_queue_client(name: str) -> QueueClient:
    """What the webhook routes write the queue `name` with (base64, as the trigger reads it)."""
    return queue_client(name=name)


def call(url: str, key: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def until(check: Callable[[], Any], timeout: float = 120.0, every: float = 0.3) -> Any:
    """Poll `check` until it returns something true or the timeout passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return check()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def api_server(tmp_path: Path, queue: str, **env: str) -> Iterator[tuple[str, str]]:
    """`make api`'s server on a free port, reading and writing the change queue `queue`; yields (base URL, the
    local all-scopes API key). `env`: settings and secrets of the test (webhook secrets, the debounce)."""
    port = _free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_API_KEY_PEPPER": PEPPER, **env}
    process = subprocess.Popen([sys.executable, "-m", "devhost.api_server", "--port", str(port),
                                "--queue", f"{QUEUE_NAME}={queue}"], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return call(f"{base}/api/health/live")[0] == 200
        except OSError:
            return False

    if not until(live, timeout=60):
        process.kill()
        pytest.fail(f"the API server did not start: {process.stdout.read() if process.stdout else ''}")
    try:
        yield base, (tmp_path / ".local" / "api-key").read_text().strip()
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_for_run(base: str, key: str, run_id: str) -> dict:
    """The run once it is no longer running (as GET /api/syncs/{run_id} shows it)."""
    def ended() -> dict | None:
        shown = call(f"{base}/api/syncs/{run_id}", key)[1]
        return shown if (shown.get("status") or "running") != "running" else None

    return until(ended) or call(f"{base}/api/syncs/{run_id}", key)[1]


def webhook_runs(pg_dsn: str, connection: str, since: dt.datetime | None = None) -> list[dict]:
    """The connection's webhook runs (since a database time), oldest first."""
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT run_id, status, started_at, ended_at FROM sync_runs WHERE trigger = 'webhook' AND scope = %s "
            "AND started_at >= %s ORDER BY started_at",
            (connection, since or dt.datetime.min.replace(tzinfo=dt.UTC))).fetchall()
    return [dict(zip(("run_id", "status", "started_at", "ended_at"), row, strict=True)) for row in rows]


def db_now(pg_dsn: str) -> dt.datetime:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def driving(pg_dsn: str, connection: str) -> bool:
    """Whether a change driver holds the connection (a webhook run, or the follow-up check after it)."""
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT state FROM pending_changes WHERE connection_id = %s", (connection,)).fetchone()
    return bool(row) and row[0] != "idle"


def settled(pg_dsn: str, connection: str, since: dt.datetime) -> list[dict] | None:
    """The webhook runs since `since` once there is one, all have ended and no driver holds the connection."""
    runs = webhook_runs(pg_dsn, connection, since)
    if runs and all(run["ended_at"] is not None for run in runs) and not driving(pg_dsn, connection):
        return runs
    return None


def assert_never_overlapping(runs: list[dict]) -> None:
    for earlier, later in itertools.pairwise(runs):
        assert earlier["ended_at"] is not None and earlier["ended_at"] <= later["started_at"], (earlier, later)
