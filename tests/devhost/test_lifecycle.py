"""Instance lifecycle: continue_as_new, custom status, failures, non-determinism, replacing instances."""

from __future__ import annotations

import pytest
from azure.durable_functions.models.history import HistoryEventType as T

from devhost.store import InstanceExistsError
from tests.devhost import sample_app


def test_continue_as_new_keeps_the_id_and_starts_a_fresh_bounded_history(host):
    instance_id = host.start_new("counter", "loop", {"i": 0, "n": 6, "total": 0})
    seen = set()
    for _ in range(200):
        host.driver.step()
        seen.add(host.get_status(instance_id)["runtimeStatus"])
        if "Completed" in seen:
            break
    assert "ContinuedAsNew" in seen
    status = host.get_status(instance_id)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == sum(2 * i for i in range(6))
    assert status["input"] == {"i": 5, "n": 6, "total": sum(2 * i for i in range(5))}
    history = host.history(instance_id)
    assert len(history) <= 10  # only the last execution: one activity
    assert [e["EventType"] for e in history].count(T.EXECUTION_STARTED) == 1
    assert next(e for e in history if e["EventType"] == T.TASK_SCHEDULED)["EventId"] == 0


def test_custom_status_is_reported_and_a_falsy_one_is_dropped(host):
    instance_id = host.start_new("wait_event", "custom")
    host.run_until_idle()
    waiting = host.get_status(instance_id)
    assert waiting["runtimeStatus"] == "Running"
    assert waiting["customStatus"] == {"stage": "waiting"}
    host.raise_event(instance_id, "approval", {"ok": True})
    done = host.run_until_complete(instance_id, timeout=10)
    assert done["output"] == {"ok": True}
    assert done["customStatus"] is None  # set_custom_status(0) is dropped by the SDK


def test_an_uncaught_orchestrator_exception_fails_the_instance_with_a_bounded_message(host):
    instance_id = host.start_new("failing")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'failing' failed: boom xxx")
    assert len(status["output"]) <= 8192
    assert "$OutOfProcData$" not in status["output"]
    error = host.store.get_instance(instance_id).error
    assert "ValueError" in error and "sample_app.py" in error


def test_non_deterministic_replay_fails_the_instance_naming_both_actions(host, monkeypatch):
    instance_id = host.start_new("drifting", "drift")
    host.run_until_idle()  # the first activity ran; the orchestrator waits for "go"
    monkeypatch.setitem(sample_app.FIRST_ACTIVITY, "name", "async_echo")  # "code changed" between episodes
    host.raise_event(instance_id, "go")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Failed"
    message = status["output"]
    assert "Non-deterministic orchestrator 'drifting'" in message
    assert "CALL_ACTIVITY 'double'" in message and "CALL_ACTIVITY 'async_echo'" in message


def test_history_conflict_is_caught_even_without_the_recorded_actions(host, monkeypatch):
    instance_id = host.start_new("drifting", "drift-2")
    host.run_until_idle()
    # Forget the recorded actions: the check against TaskScheduled events in history must still catch it.
    host.store._db.execute("UPDATE instances SET actions = NULL WHERE instance_id = 'drift-2'")
    monkeypatch.setitem(sample_app.FIRST_ACTIVITY, "name", "async_echo")
    host.raise_event(instance_id, "go")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Failed"
    assert "history has activity 'double' as task 0" in status["output"]


def test_start_new_replaces_a_finished_instance_but_not_a_running_one(host):
    host.start_new("sequence", "same", 1)
    assert host.run_until_complete("same", timeout=10)["output"]["doubled"] == 2
    host.start_new("sequence", "same", 2)  # finished: replaced, like the runtime
    assert host.get_status("same")["runtimeStatus"] == "Pending"
    assert host.run_until_complete("same", timeout=10)["output"]["doubled"] == 4
    host.start_new("wait_event", "busy")
    host.run_until_idle()
    with pytest.raises(InstanceExistsError):
        host.start_new("wait_event", "busy")


def test_terminate_stops_a_running_instance(host):
    host.start_new("wait_event", "stop-me")
    host.run_until_idle()
    host.terminate("stop-me", "no longer needed")
    status = host.run_until_complete("stop-me", timeout=10)
    assert status["runtimeStatus"] == "Terminated" and status["output"] == "no longer needed"


def test_waiting_forever_is_reported_instead_of_hanging(host):
    from devhost import StalledError

    host.start_new("wait_event", "stuck")
    with pytest.raises(StalledError):
        host.run_until_complete("stuck")
    assert host.wait_for("stuck", timeout=0.2)["runtimeStatus"] == "Running"
