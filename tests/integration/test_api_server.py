"""`make api`: the local server answers on loopback with the committed contract, refuses anonymous callers, accepts
the local key it wrote, and runs a sync started through it on its own local Durable host."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from shared.changes.notice import ChangeNotice
from shared.changes.queue import QUEUE_NAME, enqueue
from shared.core.config import DEFAULT_STORAGE

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, key: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def change_queue() -> Iterator[str]:
    """The change queue this server reads in place of bizmetrics-changes (Azurite is shared by every session)."""
    name = f"server-changes-{uuid.uuid4().hex[:10]}"
    yield name
    for queue in (name, name + "-poison"):
        with contextlib.suppress(ResourceNotFoundError):
            QueueClient.from_connection_string(DEFAULT_STORAGE, queue).delete_queue()


@pytest.fixture
def server(pg_dsn, landing_container, connection, tmp_path, change_queue):
    port = _free_port()
    # Its own working folder: the server keeps its pepper, key and host store under ./.local there.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_API_KEY_PEPPER": "pepper-for-the-server-test-0123456789",
           "BIZ_CHANGE_DEBOUNCE_SECONDS": "1", "BIZ_CHANGE_MAX_WAIT_SECONDS": "5"}
    process = subprocess.Popen([sys.executable, "-m", "devhost.api_server", "--port", str(port),
                                "--queue", f"{QUEUE_NAME}={change_queue}"], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(f"{base}/api/health/live")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"the API server did not start: {process.stdout.read() if process.stdout else ''}")
    yield base, (tmp_path / ".local" / "api-key").read_text().strip()
    process.terminate()
    process.wait(timeout=20)


def test_the_local_server_serves_the_contract_and_runs_a_sync_started_through_it(server, connection):
    base, key = server
    status, body = _get(f"{base}/api/openapi.json")
    assert status == 200 and json.loads(body) == json.loads((ROOT / "api" / "openapi.json").read_text())
    assert _get(f"{base}/api/docs")[0] == 200
    assert _get(f"{base}/api/connections")[0] == 401
    status, body = _get(f"{base}/api/connections", key)
    assert status == 200 and connection in {c["connection_id"] for c in json.loads(body)["connections"]}
    status, body = _get(f"{base}/api/syncs", key, "POST", {"connection_id": connection, "mode": "full"})
    assert status == 202, body
    run_id = json.loads(body)["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = json.loads(_get(f"{base}/api/syncs/{run_id}", key)[1])
        if run["status"] != "running":
            break
        time.sleep(0.5)
    assert run["status"] == "succeeded" and run["totals"]["fetched"] > 0, run


def test_the_local_server_runs_the_change_queue_trigger_so_a_webhook_syncs_end_to_end(server, connection,
                                                                                      change_queue):
    base, key = server
    listing = f"{base}/api/syncs?trigger=webhook&connection_id={connection}"
    before = {r["run_id"] for r in json.loads(_get(listing, key)[1])["items"]}  # other tests' webhook runs
    queue = QueueClient.from_connection_string(DEFAULT_STORAGE, change_queue,
                                               message_encode_policy=BinaryBase64EncodePolicy(),
                                               message_decode_policy=BinaryBase64DecodePolicy())
    enqueue([ChangeNotice(connection, "quickbooks", "evt-server", dt.datetime.now(dt.UTC).isoformat(), ["Invoice"])],
            queue)
    deadline = time.monotonic() + 120
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = [r for r in json.loads(_get(listing, key)[1])["items"] if r["run_id"] not in before]
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.5)
    assert [(r["status"], r["started_by"]) for r in runs] == [("succeeded", "webhook:quickbooks")], runs
