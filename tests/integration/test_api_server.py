"""`make api`: the local server answers on loopback with the committed contract, refuses anonymous callers, accepts
the local key it wrote, and runs a sync started through it on its own local Durable host."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

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
def server(pg_dsn, landing_container, connection, tmp_path):
    port = _free_port()
    # Its own working folder: the server keeps its pepper, key and host store under ./.local there.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SECRET_API_KEY_PEPPER": "pepper-for-the-server-test-0123456789"}
    process = subprocess.Popen([sys.executable, "-m", "devhost.api_server", "--port", str(port)], cwd=tmp_path,
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
