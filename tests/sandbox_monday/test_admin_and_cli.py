"""The /_sim control plane, the command line and a threaded server, for runs outside the test process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.monday import MondayState, create_app
from tests.sim_server import serve

from .conftest import TOKEN, Api, main_boards

REPO = Path(__file__).resolve().parents[2]


async def _admin(api: Api, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = await api.client.request(method, path, json=body)
    return response.status, await response.json()


async def test_health_reports_accounts_clock_and_plan(api: Api, state: MondayState) -> None:
    status, health = await _admin(api, "GET", "/_sim/health")
    assert status == 200 and health["status"] == "ok" and health["accounts"] == [state.account().id]
    assert health["now"] == "2026-05-04T09:00:00Z" and health["default_version"] == "2026-10"


async def test_faults_clock_and_mutations_over_http(api: Api, state: MondayState) -> None:
    status, listed = await _admin(api, "POST", "/_sim/faults", {"kind": "500", "count": 1})
    assert status == 200 and listed["pending"][0]["kind"] == "500"
    assert (await api.post("query { me { id } }")).status == 500
    assert (await _admin(api, "POST", "/_sim/faults", {"kind": "nope"}))[0] == 400
    await _admin(api, "POST", "/_sim/faults", {"kind": "rate_limited", "count": 3})
    assert (await _admin(api, "DELETE", "/_sim/faults"))[1] == {"pending": []}
    assert (await _admin(api, "POST", "/_sim/clock", {"advance_seconds": 3600}))[1]["now"] == "2026-05-04T10:00:00Z"
    item = next(i for i in state.account().board(main_boards(state)[0]).item_ids
                if state.account().items[i].state == "active")
    status, changed = await _admin(api, "POST", "/_sim/mutations/change_column_value",
                                   {"item_id": item, "column_id": "status", "value": "Stuck"})
    assert status == 200 and changed["record"]["updated_at"] == "2026-05-04T10:00:01Z"
    assert (await _admin(api, "POST", "/_sim/mutations/rename_item", {"item_id": "1", "name": "x"}))[0] == 404
    assert (await _admin(api, "POST", "/_sim/mutations/drop_tables", {}))[0] == 404
    status, stats = await _admin(api, "GET", f"/_sim/{state.account().id}/stats")
    assert stats["calls"] == 1 and stats["by_status"] == {"500": 1}  # /_sim calls are not metered


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(base: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}/v2", data=json.dumps({"query": query}).encode(), method="POST",
                                     headers={"Authorization": TOKEN, "API-Version": "2026-10",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_threaded_server_answers_a_blocking_client(state: MondayState) -> None:
    with serve(create_app(state)) as base:
        body = _post(base, "query { account { id } version { value } }")
    assert body["data"] == {"account": {"id": state.account().id}, "version": {"value": "2026-10"}}


def test_command_line_serves_the_demo_account() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.monday", "--host", "127.0.0.1", "--port", str(port), "--seed", "7",
         "--boards", "4", "--items-per-board", "20"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/health", timeout=2) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert health["accounts"] == ["24000007"]
        body = _post(f"http://127.0.0.1:{port}", "query { boards(limit: 50) { id type } }")
        assert sum(b["type"] == "board" for b in body["data"]["boards"]) == 2  # of 4: one archived, one deleted
    finally:
        process.terminate()
        process.wait(timeout=10)
