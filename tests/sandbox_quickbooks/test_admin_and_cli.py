"""The /_sim control plane and the command line, for runs outside the test process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from sandbox.quickbooks import SimulatorState

from .conftest import REALM, Api

REPO = Path(__file__).resolve().parents[2]


async def _admin(api: Api, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    response = await api.client.request(method, path, json=body)
    return response.status, await response.json()


async def test_health_lists_realms(api: Api) -> None:
    status, body = await _admin(api, "GET", "/_sim/health")
    assert status == 200 and body["status"] == "ok" and body["realms"] == [REALM]


async def test_admin_changes_are_visible_through_the_api(api: Api, state: SimulatorState) -> None:
    invoice_id = min(state.records(REALM, "Invoice"), key=lambda r: int(r["Id"]))["Id"]
    status, body = await _admin(api, "POST", f"/_sim/{REALM}/update",
                                {"entity": "Invoice", "id": invoice_id, "fields": {"PrivateNote": "via admin"}})
    assert status == 200 and body["record"]["PrivateNote"] == "via admin"
    status, body = await _admin(api, "POST", f"/_sim/{REALM}/create",
                                {"entity": "Customer", "fields": {"DisplayName": "Admin Made Co"}})
    new_id = body["id"]
    rows = await api.rows(f"SELECT * FROM Customer WHERE Id = '{new_id}'", "Customer")
    assert rows[0]["DisplayName"] == "Admin Made Co"
    assert (await _admin(api, "POST", f"/_sim/{REALM}/void", {"entity": "Invoice", "id": invoice_id}))[0] == 200
    assert (await _admin(api, "POST", f"/_sim/{REALM}/delete", {"entity": "Invoice", "id": invoice_id}))[0] == 200
    assert state.get(REALM, "Invoice", invoice_id) is None
    assert (await _admin(api, "POST", f"/_sim/{REALM}/delete", {"entity": "Invoice", "id": invoice_id}))[0] == 404
    assert (await _admin(api, "POST", f"/_sim/{REALM}/create", {"entity": "Nope", "fields": {}}))[0] == 400


async def test_faults_clock_stats_and_tokens_over_http(api: Api, state: SimulatorState) -> None:
    status, body = await _admin(api, "POST", "/_sim/faults", {"kind": "500", "count": 1, "path_contains": "/query"})
    assert status == 200 and body["pending"] == [{"kind": "500", "remaining": 1, "path_contains": "/query"}]
    assert (await _admin(api, "POST", "/_sim/faults", {"kind": "bogus"}))[0] == 400
    assert (await api.query("SELECT COUNT(*) FROM Item"))[0] == 500
    assert (await api.query("SELECT COUNT(*) FROM Item"))[0] == 200
    await _admin(api, "POST", "/_sim/faults", {"kind": "503", "count": 5})
    assert (await _admin(api, "DELETE", "/_sim/faults"))[1] == {"pending": []}
    before = state.clock.now()
    status, body = await _admin(api, "POST", "/_sim/clock", {"advance_seconds": 90})
    assert status == 200 and (state.clock.now() - before).total_seconds() == 90
    status, stats = await _admin(api, "GET", f"/_sim/{REALM}/stats")
    assert stats["calls"] == 2 and stats["by_status"] == {"200": 1, "500": 1}  # /_sim calls are not metered
    status, tokens = await _admin(api, "GET", f"/_sim/{REALM}/tokens")
    assert tokens["refresh_token"] == "refresh-token-0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=2) as response:
        return json.loads(response.read())


def test_command_line_serves_the_demo_company() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.quickbooks", "--host", "127.0.0.1", "--port", str(port), "--seed", "7",
         "--customers", "20", "--invoices", "100", "--payments", "60"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = _get_json(f"http://127.0.0.1:{port}/_sim/health")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert health["realms"] == [REALM]
        query = urllib.parse.urlencode({"query": "SELECT COUNT(*) FROM Invoice", "minorversion": "75"})
        body = _get_json(f"http://127.0.0.1:{port}/v3/company/{REALM}/query?{query}",
                         {"Authorization": "Bearer demo-access-token", "Accept": "application/json"})
        assert body["QueryResponse"] == {"totalCount": 100}
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_the_cdc_selection_is_read_and_set_over_http(api: Api, state: SimulatorState) -> None:
    assert await _admin(api, "GET", "/_sim/cdc") == (200, {"selection": "oldest", "seed": 0})
    status, body = await _admin(api, "POST", "/_sim/cdc", {"selection": "random", "seed": 9})
    assert status == 200 and body == {"selection": "random", "seed": 9}
    assert (state.cdc_selection.mode, state.cdc_selection.seed) == ("random", 9)
    status, body = await _admin(api, "POST", "/_sim/cdc", {"selection": "sideways"})
    assert status == 400 and "by_entity" in body["error"] and state.cdc_selection.mode == "random"


def test_the_command_line_takes_the_cdc_selection_from_a_flag_or_the_environment(monkeypatch) -> None:
    from sandbox.quickbooks.__main__ import _parser

    assert _parser().parse_args([]).cdc_selection == "oldest"
    assert _parser().parse_args(["--cdc-selection", "newest", "--cdc-seed", "3"]).cdc_seed == 3
    monkeypatch.setenv("QBO_SIM_CDC_SELECTION", "by_entity")
    assert _parser().parse_args([]).cdc_selection == "by_entity"
