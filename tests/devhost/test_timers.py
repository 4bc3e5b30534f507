"""Durable timers: virtual time jumps to FireAt, real time waits; episodes never start before FireAt."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from azure.durable_functions.models.history import HistoryEventType as T

from devhost.clock import parse_ts
from tests.devhost.conftest import episodes, without_episode_markers


def test_virtual_time_jumps_to_the_timer_without_sleeping(host):
    started = time.monotonic()
    instance_id = host.start_new("timer_wait", input=5)
    status = host.run_until_complete(instance_id, timeout=10)
    assert time.monotonic() - started < 2
    output = status["output"]
    assert datetime.fromisoformat(output["now"]) >= datetime.fromisoformat(output["fire_at"])
    assert without_episode_markers(host.history(instance_id)) == [
        (T.EXECUTION_STARTED, None), (T.TIMER_CREATED, 0), (T.TIMER_FIRED, 0), (T.EXECUTION_COMPLETED, None)]


def test_the_episode_delivering_a_timer_starts_at_or_after_its_fire_time(host):
    instance_id = host.start_new("timer_wait", input=1)
    host.run_until_complete(instance_id, timeout=10)
    for episode in episodes(host.history(instance_id)):
        started = parse_ts(episode[0]["Timestamp"])
        for fired in (e for e in episode if e["EventType"] == T.TIMER_FIRED):
            assert started >= parse_ts(fired["FireAt"])


def test_virtual_clock_survives_a_new_host_on_the_same_store(make_host):
    first = make_host()
    instance_id = first.start_new("timer_wait", input=48)
    first.run_until_complete(instance_id, timeout=10)
    second = make_host()
    assert second.clock.now() >= parse_ts(first.get_status(instance_id)["output"]["fire_at"])


def test_real_time_waits_for_the_timer(make_host):
    host = make_host(virtual_time=False)
    started = time.monotonic()
    instance_id = host.start_new("short_real_timer")
    assert host.run_until_complete(instance_id, timeout=10)["output"] == "fired"
    assert time.monotonic() - started >= 0.3


def test_long_timers_are_split_as_on_azure_storage(host):
    # Over the 6-day maximum, the SDK's LongTimerTask waits in 3-day steps (the envelope says so).
    instance_id = host.start_new("timer_wait", input=24 * 7)
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Completed"
    history = host.history(instance_id)
    created = [e for e in history if e["EventType"] == T.TIMER_CREATED]
    assert [e["EventId"] for e in created] == [0, 1]
    started = parse_ts(history[0]["Timestamp"])
    assert parse_ts(created[0]["FireAt"]) == started + timedelta(days=3)  # one 3-day step...
    assert parse_ts(created[1]["FireAt"]) == parse_ts(status["output"]["fire_at"])  # ...then the rest (4 days)


def test_task_any_event_wins_and_the_timer_is_cancelled(host):
    instance_id = host.start_new("event_or_timeout", "race-event")
    host.driver.step()  # the first episode only: timer armed, no event yet (idle would jump the clock)
    host.raise_event(instance_id, "approval", {"by": "ana"})
    before = host.clock.now()
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == {"approved": {"by": "ana"}}
    # The one-day timer was cancelled, so virtual time did not jump to it.
    assert host.clock.now() - before < timedelta(hours=1)


def test_task_any_timer_wins_when_no_event_comes(host):
    instance_id = host.start_new("event_or_timeout", "race-timer")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["output"] == "timed out"


def test_an_orchestrator_that_goes_on_past_a_yield_the_extension_still_waits_on_fails_with_why(host):
    # The Durable extension replays the SDK's actions one yield at a time, awaiting each before it invokes the next
    # (OutOfProcOrchestrationShim.ProcessAsyncActionsV2), and a task_any's action lists only its tasks not yielded
    # before. Here it would await the second task_any on `later` (10 min) alone while the SDK goes on when `late`
    # fires (5 min): in Azure the activity yielded next would be scheduled only at 10 min, and with a retry between
    # them the SDK's and the extension's task ids part and results reach the wrong tasks (SCALING.md: chains going
    # on independently). This host fails such an orchestrator at once, saying why.
    instance_id = host.start_new("any_over_earlier_tasks", "any-earlier")
    status = host.run_until_complete(instance_id, timeout=10)
    assert status["runtimeStatus"] == "Failed"
    assert "went on past WHEN_ANY" in status["output"] and "Yield each task once" in status["output"]
    history = host.history(instance_id)
    assert not [e for e in history if e["EventType"] == T.TASK_SCHEDULED]  # the activity never ran
    fired = [e for e in history if e["EventType"] == T.TIMER_FIRED]
    start = parse_ts(next(e for e in history if e["EventType"] == T.ORCHESTRATOR_STARTED)["Timestamp"])
    assert [parse_ts(e["FireAt"]) - start for e in fired] == [timedelta(minutes=1), timedelta(minutes=5)]
