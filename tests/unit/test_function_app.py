"""Importing function_app indexes every function as the Python worker would (worker indexing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: get_functions() may be called once per app, as the worker does.
INDEX = """
import json, function_app
out = {}
for f in function_app.app.get_functions():
    out[f.get_function_name()] = {**json.loads(f.get_function_json()), "module": f.get_user_function().__module__}
print(json.dumps(out))
"""


def index(extra_plugins: str = "") -> dict:
    env = {**os.environ, "BIZ_EXTRA_PLUGINS": extra_plugins}
    done = subprocess.run([sys.executable, "-c", INDEX], cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


def bindings(fn: dict) -> dict[str, dict]:
    return {b["type"]: b for b in fn["bindings"]}


def test_every_function_is_indexed_with_its_trigger():
    functions = index()
    orchestrators = {"sync_all", "sync_connection", "sync_stream"}
    activities = {"begin_sync", "plan_streams", "fetch_pages", "load_pages", "sweep_deletes", "refresh_aggregates",
                  "finish_stream", "finish_connection", "finish_sync"}
    for name in orchestrators:
        assert "orchestrationTrigger" in bindings(functions[name]), name
    for name in activities:
        assert "activityTrigger" in bindings(functions[name]), name
    # The QuickBooks consent routes moved to the plugin's FastAPI router (plugin.router), served by the API app.
    http = {"start_sync_http", "get_sync_http", "scheduled_sync", "list_connections_http", "list_metrics_http",
            "get_metric_http"}
    assert set(functions) == orchestrators | activities | http
    for name in ("list_metrics_http", "get_metric_http"):
        assert bindings(functions[name])["httpTrigger"]["authLevel"].lower() == "function"


def test_the_connection_list_needs_a_function_key_and_no_plugin_registers_functions():
    functions = index()
    trigger = bindings(functions["list_connections_http"])["httpTrigger"]
    assert (trigger["route"], trigger["authLevel"].lower()) == ("connections", "function")
    assert not [name for name, f in functions.items() if f["module"].startswith("plugins.")]
    assert {f["module"] for f in functions.values() if f["module"].startswith("api.")} == {
        "api.connections", "api.metrics", "api.schedule", "api.syncs"}


def test_http_starters_route_methods_and_auth():
    functions = index()
    start = bindings(functions["start_sync_http"])
    assert start["httpTrigger"]["route"] == "syncs"
    assert [m.lower() for m in start["httpTrigger"]["methods"]] == ["post"]
    assert start["httpTrigger"]["authLevel"].lower() == "function"
    assert "durableClient" in start
    get = bindings(functions["get_sync_http"])
    assert get["httpTrigger"]["route"] == "syncs/{instance_id}"


def test_timer_schedule_comes_from_an_app_setting():
    timer = bindings(index()["scheduled_sync"])
    assert timer["timerTrigger"]["schedule"] == "%SYNC_SCHEDULE%"
    assert "durableClient" in timer


def test_host_json_bundle_and_task_hub():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["extensions"]["durableTask"]["hubName"] == "%TASKHUB_NAME%"
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert {"TASKHUB_NAME", "SYNC_SCHEDULE", "AzureWebJobsStorage"} <= set(sample)
