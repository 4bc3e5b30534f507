"""The store outlives the process: other hosts and processes read it; a SIGKILLed run is resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from azure.durable_functions.models.history import HistoryEventType as T

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.devhost.sample_app:app"


def cli(store: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devhost", "--app", APP, "--store", str(store), *args],
                          cwd=ROOT, env=env or os.environ.copy(), capture_output=True, text=True, timeout=60)


def test_status_and_history_are_readable_from_another_host(make_host):
    first = make_host()
    instance_id = first.start_new("sequence", "shared", 6)
    status = first.run_until_complete(instance_id, timeout=10)
    second = make_host()
    assert second.get_status(instance_id) == status
    assert second.history(instance_id) == first.history(instance_id)
    assert [s["instanceId"] for s in second.list_instances()] == ["shared"]


def test_another_task_hub_in_the_same_file_is_isolated(make_host):
    make_host().start_new("sequence", "hub-a", 1)
    other = make_host(task_hub="other")
    assert other.get_status("hub-a") is None and other.list_instances() == []


def test_cli_starts_runs_and_inspects_in_other_processes(store_path):
    started = cli(store_path, "start", "sequence", "--id", "cli-1", "--input", "21")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) == {"instanceId": "cli-1"}
    ran = cli(store_path, "--virtual-time", "run", "--timeout", "30")
    assert ran.returncode == 0, ran.stderr
    status = cli(store_path, "status", "cli-1")
    assert json.loads(status.stdout)["output"] == {"doubled": 42, "echoed": {"echo": {"n": 42, "text": "héllo"}}}
    history = json.loads(cli(store_path, "history", "cli-1").stdout)
    assert history[1]["EventType"] == T.EXECUTION_STARTED and history[-2]["EventType"] == T.EXECUTION_COMPLETED
    listed = json.loads(cli(store_path, "list").stdout)
    assert [(i["instanceId"], i["runtimeStatus"]) for i in listed] == [("cli-1", "Completed")]
    assert cli(store_path, "status", "nope").returncode == 1


def test_a_run_killed_with_sigkill_is_resumed_by_a_new_host(store_path, make_host, tmp_path):
    assert cli(store_path, "start", "crash_target", "--id", "crash").returncode == 0
    marker = tmp_path / "slow-started"
    env = {**os.environ, "DEVHOST_TEST_SLOW_MARKER": str(marker)}
    child = subprocess.Popen([sys.executable, "-m", "devhost", "--app", APP, "--store", str(store_path), "run"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the slow activity never started"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    host = make_host()
    # What the killed process left: the first activity's result, the slow one scheduled and dispatched.
    assert host.get_status("crash")["runtimeStatus"] == "Running"
    assert host.store.dispatch_counts("crash") == {1: 1}
    repaired = host.resume()
    assert repaired["instances"] == 1 and repaired["activities"] == 1
    status = host.run_until_complete("crash", timeout=20)
    assert status["runtimeStatus"] == "Completed" and status["output"] == [2, 102, 204]
    history = host.history("crash")
    assert [e["EventId"] for e in history if e["EventType"] == T.TASK_SCHEDULED] == [0, 1, 2]
    assert sum(e["EventType"] == T.TASK_COMPLETED and e["TaskScheduledId"] == 1 for e in history) == 1


def test_resume_recreates_work_missing_from_the_store(make_host):
    host = make_host()
    host.start_new("timer_wait", "lost-timer", 1)
    host.driver.step()  # first episode: timer scheduled
    host.store._db.execute("DELETE FROM timers")  # as if the work item had been lost
    assert host.resume()["timers"] == 1
    assert host.run_until_complete("lost-timer", timeout=10)["runtimeStatus"] == "Completed"


def test_resume_reconnects_a_lost_child_and_a_lost_completion(make_host):
    host = make_host()
    host.start_new("nested", "top", {"depth": 1})
    host.driver.step()  # the parent's first episode creates the child
    child_id = next(e["InstanceId"] for e in host.history("top")
                    if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_CREATED)
    host.store._db.execute("DELETE FROM instances WHERE instance_id = ?", (child_id,))
    host.store._db.execute("DELETE FROM inbox WHERE instance_id = ?", (child_id,))
    assert host.resume()["children"] == 1  # the child is started again
    while host.get_status(child_id)["runtimeStatus"] != "Completed":
        host.driver.step()
    host.store._db.execute("DELETE FROM inbox WHERE instance_id = 'top'")  # the child's answer is lost
    assert host.resume()["children"] == 1  # ...and delivered again from the child's final state
    assert host.run_until_complete("top", timeout=10)["output"] == ["top", child_id, 2]
