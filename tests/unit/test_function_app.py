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
    orchestrators = {"sync_all", "sync_connection", "sync_phase", "sync_shard", "sync_stream", "sync_on_change"}
    activities = {"begin_sync", "plan_streams", "read_plan_page", "fetch_pages", "load_pages", "sweep_deletes",
                  "refresh_aggregates", "refresh_ahead", "finish_stream", "finish_connection", "finish_sync",
                  "count_changes", "claim_changes", "release_changes"}
    for name in orchestrators:
        assert "orchestrationTrigger" in bindings(functions[name]), name
    for name in activities:
        assert "activityTrigger" in bindings(functions[name]), name
    assert set(functions) == orchestrators | activities | {"api_http", "scheduled_sync", "dispatch_change"}


def test_the_change_queue_trigger_reads_the_change_queue_with_a_durable_client():
    changes = bindings(index()["dispatch_change"])
    assert changes["queueTrigger"]["queueName"] == "bizmetrics-changes"
    assert changes["queueTrigger"]["connection"] == "AzureWebJobsStorage"
    assert "durableClient" in changes


def test_the_whole_http_api_is_one_function_that_authenticates_for_itself():
    """Anonymous at the Functions layer: the FastAPI app checks every credential (deny by default), so no route
    depends on a shared function key; the Durable client binding is handed to the app per request."""
    api = bindings(index()["api_http"])
    trigger = api["httpTrigger"]
    assert trigger["route"] == "{*path}" and trigger["authLevel"].lower() == "anonymous"
    assert {m.lower() for m in trigger["methods"]} == {"get", "post", "patch", "put", "delete"}
    assert "durableClient" in api
    assert index()["api_http"]["module"] == "api.functions"


def test_an_installed_plugins_routes_are_served_by_the_api_not_as_functions():
    functions = index(extra_plugins="tests.unit.routed_source")
    assert set(functions) == set(index())


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
