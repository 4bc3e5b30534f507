"""Activities: sync and async, JSON round trip, concurrent fan-out, batching, failures."""

from __future__ import annotations

from azure.durable_functions.models.history import HistoryEventType as T

from tests.devhost.conftest import episodes, without_episode_markers


def test_sync_and_async_activities_round_trip_json(host):
    instance_id = host.start_new("sequence", "seq-1", 5)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Completed"
    assert status["input"] == 5
    assert status["output"] == {"doubled": 10, "echoed": {"echo": {"n": 10, "text": "héllo"}}}
    assert without_episode_markers(host.history(instance_id)) == [
        (T.EXECUTION_STARTED, None), (T.TASK_SCHEDULED, 0), (T.TASK_COMPLETED, 0),
        (T.TASK_SCHEDULED, 1), (T.TASK_COMPLETED, 1), (T.EXECUTION_COMPLETED, None)]


def test_fan_out_activities_run_concurrently(make_host):
    host = make_host(max_activity_workers=4)
    instance_id = host.start_new("fan_out_together")
    # Each activity waits on a 4-party barrier: this only completes if all four run at once.
    status = host.run_until_complete(instance_id, timeout=20)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == [0, 1, 2, 3]


def test_fan_out_of_many_activities_numbers_tasks_in_order(host):
    instance_id = host.start_new("fan_out", input=70)
    status = host.run_until_complete(instance_id, timeout=20)
    assert status["output"] == sum(2 * i for i in range(70))
    scheduled = [e["EventId"] for e in host.history(instance_id) if e["EventType"] == T.TASK_SCHEDULED]
    assert scheduled == list(range(70))
    for episode in episodes(host.history(instance_id)):
        assert sum(e["EventType"] == T.TASK_COMPLETED for e in episode) <= 32


def test_an_episode_receives_at_most_32_new_events(host):
    instance_id = host.start_new("collect_events", "ticks", 40)
    host.run_until_idle()
    for i in range(40):
        host.raise_event(instance_id, "tick", i)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == list(range(40))
    per_episode = [sum(e["EventType"] == T.EVENT_RAISED for e in ep) for ep in episodes(host.history(instance_id))]
    assert per_episode == [0, 32, 8]


def test_task_all_of_nothing_returns_none(host):
    instance_id = host.start_new("empty_all")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == {"empty": None, "after": 2}
    # An empty task_all schedules nothing, so the next activity is task 0.
    assert [e["EventId"] for e in host.history(instance_id) if e["EventType"] == T.TASK_SCHEDULED] == [0]


def test_activity_failure_reaches_the_orchestrator_as_task_failed_with_bounded_text(host):
    instance_id = host.start_new("activity_failure", input=20000)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"].startswith("Activity function 'always_fail' failed: ValueError: yyy")
    failed = next(e for e in host.history(instance_id) if e["EventType"] == T.TASK_FAILED)
    assert failed["TaskScheduledId"] == 0
    assert len(failed["Reason"]) <= 8192 and "truncated" in failed["Reason"]
    assert "Traceback" in failed["Details"] and "always_fail" in failed["Details"]


def test_calling_an_unknown_activity_fails_the_orchestration_like_the_extension(host):
    instance_id = host.start_new("calls_missing")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Failed"
    assert "The function 'no_such_activity' doesn't exist" in status["output"]
