"""The messages between orchestrators and activities: one JSON form each, readable from older versions' histories."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from shared.core import messages
from shared.core.messages import (
    LOAD_COUNTERS,
    NAMED_ERROR_CHARS,
    BeginSync,
    Begun,
    ChainResult,
    ChangeDrive,
    ChangeKey,
    ChangesClaimed,
    ChangesReleased,
    ClaimChanges,
    ConnectionKey,
    ConnectionRequest,
    ConnectionResult,
    FetchRequest,
    FetchResult,
    FinishConnection,
    FinishSync,
    Lane,
    LoadCounts,
    LoadRequest,
    LoadResult,
    Message,
    MessageError,
    PageRef,
    PendingEvents,
    PhaseRequest,
    PlanPage,
    PlanRequest,
    PlanResult,
    RunOutcome,
    ShardRequest,
    ShardResult,
    StoredPlan,
    StreamFinished,
    StreamKey,
    StreamPlan,
    StreamRequest,
    StreamResult,
    StreamState,
    SweepResult,
    SyncRequest,
)
from shared.db.runs import COUNTERS

KEY = ("run-1", "qbo-1", "Invoice")
PAGE = PageRef("qbo-1/Invoice/run-1/000001.jsonl.gz", 500, {"ts": "2026-01-01T10:00:00-08:00", "seen": ["7"]})
SKIPPED = ConnectionResult("qbo-2", "skipped", "held by run run-0")
STORED = StoredPlan("m-1/_plans/run-1/phase1-abc", 300, 8, 40, 2)

# One example of every message, every optional field set to something other than its default.
EXAMPLES: list[Message] = [
    SyncRequest("run-1", "all", "full", "schedule", {"max_pages": 2}),
    BeginSync("run-1", "all", "full", "schedule", "sync-all"),
    Begun(["qbo-1"], [SKIPPED]),
    ConnectionRequest("run-1", "qbo-1", "incremental", {"iterations_per_execution": 3}),
    ConnectionResult("qbo-1", "failed", "Invoice: HTTP 500"),
    ConnectionResult(None, "failed", "database down"),
    PlanRequest("run-1", "qbo-1", "incremental", 1, {"cdc": "HTTP 500"}),
    StreamPlan("Invoice", {"ts": "1970-01-01T00:00:00+00:00", "seen": []}, True),
    PlanResult([StreamPlan("cdc", {"since": "2026-01-01T00:00:00Z"})], {"establishes_cdc": False}, None, True),
    PlanResult([], {}, "read quota used up"),
    PlanResult([], {"boards": 300}, None, False, "budget short", STORED),
    STORED,
    PhaseRequest("run-1", "m-1", STORED, "sync-all:m-1", {"max_pages": 1}, 2,
                 ShardResult(79, 1, [StreamResult("items:7", "failed", "HTTP 500")])),
    ShardRequest("run-1", "m-1", STORED.ref, 3, "sync-all:m-1", {"max_pages": 1}),
    PlanPage([StreamPlan("items:7", {"board": "7"}, True), StreamPlan("items:8", {"board": "8"})]),
    ShardResult(39, 1, [StreamResult("items:7", "failed", "HTTP 500")]),
    StreamKey(*KEY),
    StreamRequest(*KEY, {"ts": "x", "seen": []}, True, 4, {"max_pages": 1}),
    StreamState(*KEY, {"ts": "x", "seen": []}, True, 4, {"max_pages": 1}, LoadCounts(1, 2, 3, 4, 5, 6, 7), 2, 9),
    StreamState(*KEY, None, True, 0, {}, LoadCounts(), 0, 0,
                [Lane({"ts": "x", "seen": []}, 3, True), Lane({"ts": "y", "seen": [], "before": "z"}, 100_002)]),
    StreamState(*KEY, {"ts": "y", "seen": []}, True, 100_001, {}, LoadCounts(), 0, 0,
                [Lane({"ts": "y", "seen": []}, 100_001, doublings=2)], chain=True),
    ChainResult(LoadCounts(3, 3000, 2990, 0, 10, 0, 0), 2),
    Lane(None, 7, True),
    Lane({"ts": "x", "seen": []}, 100_003, False, "2026-12-03T01:40:00", 2),
    StreamResult("Invoice", "failed", "still throttled"),
    FetchRequest(*KEY, None, 3, 2, 1),
    PageRef("qbo-1/Invoice/run-1/000002.jsonl.gz", 0),
    FetchResult([PAGE], {"ts": "y", "seen": ["8"]}, False, 60.0, "HTTP 429"),
    FetchResult([PAGE], {"ts": "z", "seen": []}, False, chains=[{"ts": "y", "seen": ["8"], "before": "z"}],
                seconds=0.25),
    LoadRequest(*KEY, [PAGE, PageRef("qbo-1/Invoice/run-1/000002.jsonl.gz", 0)]),
    LoadCounts(1, 500, 400, 50, 40, 5, 5),
    LoadResult(2, 1000, 900, 50, 40, 5, 5, 1.5),
    SweepResult(3),
    StreamFinished(*KEY, "failed", "boom", 2),
    FinishConnection("run-1", "qbo-1", {"establishes_cdc": True}, ["Invoice", "Customer"]),
    FinishConnection("run-1", "m-1", {}, ["boards"], streams_in_audit=True),
    ConnectionKey("qbo-1"),
    FinishSync("run-1", [ConnectionResult("qbo-1", "succeeded"), SKIPPED], "database down"),
    RunOutcome("run-1", "partial", {"fetched": 500}, [SKIPPED]),
    ChangeDrive("qbo-1", 2, 60, 3),
    ChangeKey("qbo-1", "changes-qbo-1-4"),
    PendingEvents(7),
    ClaimChanges("qbo-1", "changes-qbo-1-4", "run-1", "changes-qbo-1-4:run-1"),
    ChangesClaimed("claimed", ["Invoice", "Customer"], 7),
    ChangesClaimed("busy", holder="not synced: qbo-1 is held by another sync"),
    ChangesReleased(False),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_survives_a_trip_through_json_text(message: Message):
    text = json.dumps(message.to_json())  # what the Durable SDK stores in the history
    assert type(message).from_json(json.loads(text)) == message


def test_every_message_class_has_a_round_trip_example():
    classes = {c for _, c in inspect.getmembers(messages, inspect.isclass)
               if issubclass(c, Message) and c is not Message and c.__module__ == messages.__name__}
    assert classes == {type(m) for m in EXAMPLES}


def test_what_crosses_the_sdk_is_plain_json_without_class_names():
    # A class envelope ({"__module__", "__class__"}) would break old histories once a message moves.
    for message in EXAMPLES:
        text = json.dumps(message.to_json())
        assert "__class__" not in text and "__module__" not in text


def test_messages_whose_fields_did_not_change_keep_the_older_versions_json_key_for_key():
    # The devhost compares each replayed action's input with the recorded one, byte for byte: these
    # are the inputs an older version recorded, in its key order.
    assert list(json.dumps(StreamRequest(*KEY, {"ts": "x"}, False, 0, {}).to_json())) == list(json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "stream": "Invoice", "cursor": {"ts": "x"}, "sweep": False,
         "sequence": 0, "options": {}}))
    assert json.dumps(FetchRequest(*KEY, {"ts": "x"}, 5, None).to_json()) == json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "stream": "Invoice", "cursor": {"ts": "x"}, "sequence": 5,
         "max_pages": None})
    assert json.dumps(PlanRequest("run-1", "qbo-1", "full", 0, {}).to_json()) == json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "mode": "full", "phase": 0, "failed": {}})
    assert json.dumps(BeginSync("run-1", "all", "full", "manual", "sync-all").to_json()) == json.dumps(
        {"run_id": "run-1", "scope": "all", "mode": "full", "trigger": "manual", "instance_id": "sync-all"})
    assert json.dumps(ConnectionRequest("run-1", "qbo-1", "full", {}).to_json()) == json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "mode": "full", "options": {}})
    assert json.dumps(StreamKey(*KEY).to_json()) == json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "stream": "Invoice"})
    # A phase planned without shards, and the finish of a run without one, say what they always said.
    assert json.dumps(PlanResult([StreamPlan("boards", {})], {}, None, True).to_json()) == json.dumps(
        {"streams": [{"stream": "boards", "cursor": {}, "sweep": False}], "context": {}, "refused": None,
         "next_phase": True})
    assert json.dumps(FinishConnection("run-1", "qbo-1", {}, ["Invoice"]).to_json()) == json.dumps(
        {"run_id": "run-1", "connection_id": "qbo-1", "context": {}, "streams": ["Invoice"]})


def test_an_older_versions_stream_state_continues_with_its_progress_and_without_its_server_time():
    older = {"run_id": "run-1", "connection_id": "qbo-1", "stream": "Invoice", "cursor": {"ts": "x", "seen": []},
             "sweep": True, "sequence": 6, "options": {}, "totals": dict.fromkeys(LOAD_COUNTERS, 2),
             "throttles": 1, "throttle_waits": 3, "server_time": "2026-01-01T10:00:00.000-08:00"}
    state = StreamState.from_json(older)
    assert (state.sequence, state.totals, state.throttles, state.throttle_waits) == (
        6, LoadCounts(*[2] * len(LOAD_COUNTERS)), 1, 3)
    assert "server_time" not in state.to_json()


def test_a_first_input_from_sync_connection_starts_the_stream_with_nothing_counted():
    state = StreamState.from_json(StreamRequest(*KEY, {"ts": "x"}).to_json())
    assert (state.totals, state.throttles, state.throttle_waits, state.sweep) == (LoadCounts(), 0, 0, False)


def test_results_recorded_by_an_older_version_are_read_without_their_retired_fields():
    fetched = FetchResult.from_json({
        "pages": [{"ref": "r", "records": 3, "dropped": 1, "watermark": None}], "cursor": None, "done": True,
        "retry_after": None, "throttle_reason": None, "api_calls": 1, "server_time": "2026-01-01T00:00:00Z"})
    assert fetched == FetchResult([PageRef("r", 3)], None, True)
    stream = StreamResult.from_json({"run_id": "run-1", "connection_id": "qbo-1", "stream": "Invoice",
                                     "status": "succeeded", "server_time": "t", **dict.fromkeys(LOAD_COUNTERS, 1)})
    assert stream == StreamResult("Invoice", "succeeded")
    plan = PlanResult.from_json({"streams": [{"stream": "Invoice", "cursor": {}, "sweep": True}], "context": {},
                                 "refused": None, "notes": ["a note"], "next_phase": False})
    assert plan.streams == [StreamPlan("Invoice", {}, True)]
    connection = ConnectionResult.from_json({"connection_id": "qbo-1", "status": "succeeded", "error": "",
                                             "streams": [{"stream": "Invoice"}]})
    assert connection == ConnectionResult("qbo-1", "succeeded")


def test_inputs_an_older_orchestrator_queued_are_read_with_defaults_for_what_they_lack():
    # An activity may run an input queued before a deploy; the old finish_connection sent results, not streams.
    finish = FinishConnection.from_json({"run_id": "run-1", "connection_id": "qbo-1", "context": {"cdc_after": {}},
                                         "results": [{"stream": "Invoice", "server_time": "t"}]})
    assert finish == FinishConnection("run-1", "qbo-1", {"cdc_after": {}}, [])
    assert PlanRequest.from_json({"run_id": "run-1", "connection_id": "qbo-1", "mode": "full"}) == PlanRequest(
        "run-1", "qbo-1", "full", 0, {})
    assert BeginSync.from_json({"run_id": "run-1", "scope": "qbo-1", "mode": "full"}).trigger == "manual"
    assert StreamFinished.from_json({**StreamKey(*KEY).to_json(), "status": "succeeded"}).error is None


def test_a_null_optional_field_takes_its_default():
    assert SyncRequest.from_json({"run_id": "r", "scope": "all", "mode": "full", "options": None}).options == {}


def test_a_missing_required_field_is_named_with_what_did_arrive():
    with pytest.raises(MessageError, match=r"FetchRequest: required field 'cursor' is missing \(got "
                                           r"connection_id, run_id, stream\)"):
        FetchRequest.from_json(StreamKey(*KEY).to_json())
    with pytest.raises(MessageError, match="LoadRequest: expected a JSON object, got list"):
        LoadRequest.from_json([])


def test_counter_names_are_spelled_once():
    assert LOAD_COUNTERS == ("pages", "fetched", "inserted", "updated", "unchanged", "deleted", "quarantined")
    assert COUNTERS[:len(LOAD_COUNTERS)] == LOAD_COUNTERS
    assert LoadCounts(1, 2, 3, 4, 5, 6, 7) + LoadCounts(*[1] * 7) == LoadCounts(2, 3, 4, 5, 6, 7, 8)


def test_fields_added_later_stay_out_of_the_json_until_used() -> None:
    """An orchestration that names no changes and no start date yields the inputs it yielded before those fields
    existed, so histories recorded then still pass the replay check that compares inputs."""
    plain = SyncRequest("run-1", "all", "incremental")
    assert plain.to_json() == {"run_id": "run-1", "scope": "all", "mode": "incremental", "trigger": "manual",
                               "options": {}}
    focused = SyncRequest("run-1", "c1", "backfill", changed=["Invoice"], since="2026-01-01")
    assert focused.to_json()["changed"] == ["Invoice"] and focused.to_json()["since"] == "2026-01-01"
    assert SyncRequest.from_json(focused.to_json()) == focused
    assert PlanRequest.from_json(PlanRequest("r", "c", "incremental").to_json()).changed == []


def test_durations_reported_by_the_activities_keep_the_messages_older_versions_recorded():
    """load_pages always returned the counts alone and fetch_pages no duration: those outputs read as 0 s, a fetch
    that grew nothing asks with the JSON it always had, and a duration never becomes a counter."""
    counts = LoadCounts(1, 500, 400, 50, 40, 5, 5)
    assert LoadResult.from_json(counts.to_json()) == LoadResult(1, 500, 400, 50, 40, 5, 5, 0.0)
    assert LoadResult(*dataclasses.astuple(counts)).to_json() == counts.to_json()
    assert LoadCounts() + LoadResult(*dataclasses.astuple(counts), seconds=2.0) == counts
    assert "seconds" not in LOAD_COUNTERS and "seconds" not in COUNTERS
    assert FetchResult.from_json(FetchResult([PAGE], None, True).to_json()).seconds == 0.0
    assert FetchRequest(*KEY, None, 3).to_json() == {**StreamKey(*KEY).to_json(), "cursor": None, "sequence": 3,
                                                     "max_pages": None}
    assert "doublings" not in Lane(None, 7).to_json()


def test_a_phases_result_counts_every_stream_and_names_only_the_first_failures():
    results = [StreamResult(f"items:{i}", "failed" if i % 2 else "succeeded", f"error {i}") for i in range(100)]
    half = ShardResult.of(results[:50])
    total = half + ShardResult.of(results[50:])
    assert (half.succeeded, half.failed, total.succeeded, total.failed) == (25, 25, 50, 50)
    assert [r.stream for r in total.failures] == [f"items:{i}" for i in range(1, 40, 2)]  # the first 20, in order
    long = ShardResult.of([StreamResult("items:1", "failed", "x" * 5000)])
    assert len(long.failures[0].error or "") == NAMED_ERROR_CHARS  # the run's audit keeps the whole error
