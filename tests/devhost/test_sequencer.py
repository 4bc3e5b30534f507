"""The extension-side numbering on its own: actions[0] replayed against hand-written histories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devhost import history as ev
from devhost.sequencer import SUCCEEDED, Sequencer, UnsupportedAction

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def activity(name: str) -> dict:
    return {"actionType": 0, "functionName": name, "input": "null"}


def start() -> list[dict]:
    return [ev.orchestrator_started(T0), ev.execution_started(T0, "o", None, "i", "exec")]


def test_compound_leaves_are_numbered_depth_first_then_the_next_action():
    actions = [{"actionType": 12, "compoundActions": [
        activity("a"), {"actionType": 11, "compoundActions": [activity("b"), activity("c")]}, activity("d")]},
        activity("e")]
    seq = Sequencer(actions, "exec").replay(start())
    assert [(leaf.task_id, leaf.name) for leaf in seq.leaves] == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    done = [ev.task_completed(T0, i, "1") for i in range(4)]
    seq = Sequencer(actions, "exec").replay(start() + done)
    assert seq.by_id[4].name == "e"


def test_when_all_waits_for_every_child_even_after_a_failure():
    actions = [{"actionType": 12, "compoundActions": [activity("a"), activity("b")]}, activity("next")]
    failed_first = [*start(), ev.task_failed(T0, 0, "boom", None)]
    assert len(Sequencer(actions, "exec").replay(failed_first).leaves) == 2  # Task.WhenAll still waits for b
    both = [*failed_first, ev.task_completed(T0, 1, "1")]
    assert Sequencer(actions, "exec").replay(both).by_id[2].name == "next"


def test_when_any_moves_on_after_the_first_child():
    actions = [{"actionType": 11, "compoundActions": [activity("a"), activity("b")]}, activity("next")]
    seq = Sequencer(actions, "exec").replay([*start(), ev.task_completed(T0, 1, "1")])
    assert seq.by_id[2].name == "next"


def test_a_cancelled_timer_still_takes_an_id_and_completes_at_once():
    timer = {"actionType": 5, "fireAt": "2024-01-02T00:00:00.000000Z", "isCanceled": True}
    seq = Sequencer([timer, activity("after")], "exec").replay(start())
    assert seq.by_id[0].canceled and seq.by_id[0].state != SUCCEEDED
    assert seq.by_id[1].name == "after"


def test_external_events_take_no_id_and_buffered_events_complete_later_waits():
    wait = {"actionType": 6, "externalEventName": "go", "reason": "ExternalEvent"}
    history = [*start(), ev.event_raised(T0, "go", "1")]
    seq = Sequencer([activity("a"), wait, activity("b")], "exec").replay(history)
    assert [leaf.name for leaf in seq.leaves] == ["a"]
    seq = Sequencer([activity("a"), wait, activity("b")], "exec").replay([*history, ev.task_completed(T0, 0, "1")])
    assert [leaf.name for leaf in seq.leaves] == ["a", "b"]  # the buffered event satisfied the wait


def test_generated_sub_orchestration_ids_follow_dtfx():
    sub = {"actionType": 2, "functionName": "child", "input": "null", "instanceId": None}
    seq = Sequencer([activity("a"), sub], "exec-1").replay([*start(), ev.task_completed(T0, 0, "1")])
    assert seq.by_id[1].instance_id == "exec-1:1"


def test_entities_are_reported_as_unsupported():
    with pytest.raises(UnsupportedAction, match="CALL_ENTITY"):
        Sequencer([{"actionType": 7, "instanceId": "@counter@x", "operation": "add"}], "e").replay(start())


def test_a_completion_of_the_wrong_kind_is_a_conflict():
    seq = Sequencer([activity("a")], "exec").replay([*start(), ev.timer_fired(T0, 0, "2024-01-01T00:00:00Z")])
    assert seq.conflicts and "as a timer" in seq.conflicts[0]
