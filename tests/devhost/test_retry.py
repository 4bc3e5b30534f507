"""-WithRetry calls: the runtime's attempt / timer / attempt numbering, including the extra last timer.

The SDK (models/Task.py RetryAbleTask) allocates an id for the timer after every failed attempt and for
every new attempt, and only reports the failure after the timer following the last attempt has fired;
DTFx's RetryInterceptor does the same on the extension side. A wrong id makes the SDK ignore the
completion ("Potential duplicate Task completion") and the instance would never finish.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from azure.durable_functions.models.history import HistoryEventType as T

from devhost.clock import parse_ts
from tests.devhost.conftest import episodes, without_episode_markers


def test_retry_schedules_timer_then_new_attempt_with_new_ids(host):
    payload = {"key": uuid.uuid4().hex, "fail_times": 2}
    instance_id = host.start_new("retry_then_next", input=payload)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == ["ok after 3", 42]
    history = host.history(instance_id)
    assert without_episode_markers(history) == [
        (T.EXECUTION_STARTED, None),
        (T.TASK_SCHEDULED, 0), (T.TASK_FAILED, 0), (T.TIMER_CREATED, 1), (T.TIMER_FIRED, 1),
        (T.TASK_SCHEDULED, 2), (T.TASK_FAILED, 2), (T.TIMER_CREATED, 3), (T.TIMER_FIRED, 3),
        (T.TASK_SCHEDULED, 4), (T.TASK_COMPLETED, 4),
        (T.TASK_SCHEDULED, 5), (T.TASK_COMPLETED, 5),  # the next activity gets the next id
        (T.EXECUTION_COMPLETED, None)]
    # Intervals are constant: each retry timer is due first_retry_interval after the failure's episode.
    for episode in episodes(history):
        for created in (e for e in episode if e["EventType"] == T.TIMER_CREATED):
            started = parse_ts(episode[0]["Timestamp"])
            assert parse_ts(created["FireAt"]) - started == timedelta(seconds=1)


def test_after_the_last_failed_attempt_one_more_timer_fires_before_the_failure(host):
    instance_id = host.start_new("retry_exhausted")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"]["error"].startswith("Activity function 'always_fail' failed: ValueError: nope")
    assert status["output"]["after"] == 4
    assert without_episode_markers(host.history(instance_id)) == [
        (T.EXECUTION_STARTED, None),
        (T.TASK_SCHEDULED, 0), (T.TASK_FAILED, 0), (T.TIMER_CREATED, 1), (T.TIMER_FIRED, 1),
        (T.TASK_SCHEDULED, 2), (T.TASK_FAILED, 2), (T.TIMER_CREATED, 3), (T.TIMER_FIRED, 3),
        (T.TASK_SCHEDULED, 4), (T.TASK_COMPLETED, 4),
        (T.EXECUTION_COMPLETED, None)]


def test_retries_inside_a_fan_out_interleave_ids_in_history_order(host):
    keys = [uuid.uuid4().hex for _ in range(3)]
    instance_id = host.start_new("retry_in_fan_out", input=keys)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == {"values": ["ok after 1", "ok after 2", "ok after 3"], "after": 10}
    history = host.history(instance_id)
    scheduled = sorted(e["EventId"] for e in history if e["EventType"] in (T.TASK_SCHEDULED, T.TIMER_CREATED))
    assert scheduled == list(range(len(scheduled)))  # dense, no id skipped or reused
    first_attempts = [e["EventId"] for e in history if e["EventType"] == T.TASK_SCHEDULED][:3]
    assert first_attempts == [0, 1, 2]  # compound leaves depth-first, in yield order
    last = [e for e in history if e["EventType"] == T.TASK_SCHEDULED][-1]
    assert last["Name"] == "double" and last["EventId"] == max(scheduled)


def test_sub_orchestrator_with_retry_numbers_attempts_and_timers(host):
    payload = {"key": uuid.uuid4().hex, "fail_times": 1}
    instance_id = host.start_new("sub_retry", "subretry", payload)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == {"child": "subretry-child", "value": "ok after 2", "parent": "subretry"}
    assert without_episode_markers(host.history(instance_id)) == [
        (T.EXECUTION_STARTED, None),
        (T.SUB_ORCHESTRATION_INSTANCE_CREATED, 0), (T.SUB_ORCHESTRATION_INSTANCE_FAILED, 0),
        (T.TIMER_CREATED, 1), (T.TIMER_FIRED, 1),
        (T.SUB_ORCHESTRATION_INSTANCE_CREATED, 2), (T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, 2),
        (T.EXECUTION_COMPLETED, None)]
    failed = next(e for e in host.history(instance_id) if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_FAILED)
    assert failed["Reason"].startswith("Orchestrator function 'flaky_child' failed: Activity function 'flaky'")
