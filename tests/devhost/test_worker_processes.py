"""Activities in worker processes (activity_processes=N, as FUNCTIONS_WORKER_PROCESS_COUNT): real processes."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from azure.durable_functions.models.history import HistoryEventType as T

from devhost.workers import app_reference

SAMPLE_APP = "tests.devhost.sample_app:app"


def processes_host(make_host, **options):
    return make_host(activity_processes=2, app_ref=SAMPLE_APP, **options)


def test_an_orchestration_runs_its_activities_in_the_worker_processes(make_host, caplog):
    host = processes_host(make_host, max_activity_workers=4)
    with caplog.at_level(logging.WARNING, logger="tests.devhost.sample_app"):
        status = host.run_until_complete(host.start_new("where_fan_out", input=8), timeout=120)
        sequence = host.run_until_complete(host.start_new("sequence", "seq", 5), timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    pids = {result["pid"] for result in status["output"]}
    assert [result["value"] for result in status["output"]] == list(range(8))
    assert os.getpid() not in pids
    assert pids <= set(host.workers.process_ids()) and len(host.workers.process_ids()) == 2
    # Async activities (asyncio.run in the worker's thread) and JSON round trips read as with threads.
    assert sequence["output"] == {"doubled": 10, "echoed": {"echo": {"n": 10, "text": "héllo"}}}
    # The worker processes' log records reach this process's loggers, with the process that wrote them.
    forwarded = [r for r in caplog.records if r.getMessage().startswith("where ")]
    assert len(forwarded) == 8 and {r.process for r in forwarded} == pids


def test_an_activity_error_reads_as_it_does_with_threads(make_host, tmp_path):
    host = processes_host(make_host)
    status = host.run_until_complete(host.start_new("activity_failure", "in-process", input=20000), timeout=60)
    assert status["output"].startswith("Activity function 'always_fail' failed: ValueError: yyy")
    failed = next(e for e in host.history("in-process") if e["EventType"] == T.TASK_FAILED)

    from devhost import LocalDurableHost
    from tests.devhost.sample_app import app

    with LocalDurableHost(app, tmp_path / "threads.sqlite", virtual_time=True) as threads:
        threads.run_until_complete(threads.start_new("activity_failure", "in-thread", input=20000), timeout=60)
        expected = next(e for e in threads.history("in-thread") if e["EventType"] == T.TASK_FAILED)
    assert (failed["Reason"], failed["Details"]) == (expected["Reason"], expected["Details"])
    assert "Traceback" in failed["Details"] and "always_fail" in failed["Details"]


def test_a_killed_worker_process_fails_its_activity_and_is_replaced(make_host, tmp_path):
    host = processes_host(make_host)
    marker = tmp_path / "hang.pid"
    instance_id = host.start_new("outlives_its_worker", input=str(marker))
    host.start()
    pid = _wait_for_pid(marker)
    assert pid != os.getpid() and pid in host.workers.process_ids()
    os.kill(pid, signal.SIGKILL)
    status = host.wait_for(instance_id, timeout=60)
    assert status["runtimeStatus"] == "Completed", status
    error = status["output"]["error"]
    assert error.startswith("Activity function 'hang' failed: WorkerProcessExitException: python exited with "
                            f"code {-signal.SIGKILL} (worker process {pid})"), error
    # The next activity ran in a live process: the dead one's slot was filled again.
    assert status["output"]["after"]["pid"] not in (pid, os.getpid())
    assert pid not in host.workers.process_ids() and len(host.workers.process_ids()) == 2


def test_workers_started_ahead_are_the_ones_that_run_the_activities(make_host):
    host = processes_host(make_host)
    host.workers.start(timeout=60)
    started = host.workers.process_ids()
    assert len(started) == 2 and set(host.workers.startup_cpu_seconds()) == set(started)
    status = host.run_until_complete(host.start_new("where_fan_out", input=4), timeout=60)
    assert {result["pid"] for result in status["output"]} <= set(started)
    assert host.workers.process_ids() == started


def test_an_app_the_workers_cannot_import_fails_the_activity(make_host):
    host = make_host(activity_processes=2, app_ref="tests.devhost.no_such_module:app")
    status = host.run_until_complete(host.start_new("sequence", "unloadable", 1), timeout=60)
    assert status["runtimeStatus"] == "Failed"
    assert ("Activity function 'double' failed: the worker process could not load the app: ModuleNotFoundError"
            in status["output"]), status["output"]


def test_the_app_is_found_by_its_module_when_not_named():
    from tests.devhost.sample_app import app

    module, _, attribute = app_reference(app).partition(":")
    assert attribute == "app" and module.startswith("tests.devhost.")


def _wait_for_pid(marker: Path) -> int:
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the hanging activity never started"
        time.sleep(0.05)
    return int(marker.read_text())
