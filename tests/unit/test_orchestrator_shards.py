"""The shard split of a large phase, replayed by the real Durable SDK through the local host: sync_connection hands
a stored plan to sync_phase, which runs it a wave of sync_shard instances at a time, each starting its own streams.

The activities are stand-ins (no database, no blobs, no source): what is under test is the orchestrators' split,
what travels back (counts and the first failures), and that no history grows with the number of streams."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest

import orchestrators
from devhost import LocalDurableHost
from orchestrators.sync_phase import wave
from shared.core.messages import (
    FetchResult,
    FinishConnection,
    LoadCounts,
    PhaseRequest,
    PlanPage,
    PlanRequest,
    PlanResult,
    ShardRequest,
    StoredPlan,
    StreamFinished,
    StreamPlan,
)
from tests.history_watch import HistoryWatch

SHARD, AT_ONCE = 10, 3
stand_ins = df.Blueprint()
SEEN: dict[str, Any] = {}
LOCK = threading.Lock()


def _remember(key: str, value: Any) -> None:
    with LOCK:
        SEEN.setdefault(key, []).append(value)


@stand_ins.activity_trigger(input_name="request")
def plan_streams(request: dict[str, Any]) -> dict[str, Any]:
    asked = PlanRequest.from_json(request)
    _remember("plans", asked)
    if asked.phase == SEEN.get("plan_fails_in"):
        raise RuntimeError("the boards' plan could not be read")
    if asked.phase == SEEN.get("refused_in"):
        return PlanResult(refused="the account's token was revoked").to_json()
    if asked.phase == 0:  # an account phase of two streams, passed as they are
        return PlanResult([StreamPlan("boards", {}), StreamPlan("users", {})], {"kept": 1}, next_phase=True).to_json()
    total = SEEN["streams"]
    if total <= SHARD:  # as plan_streams does (activities/plan_shards.py): a phase one shard holds is not split
        return PlanResult([StreamPlan(f"items:{n}", {"board": n}) for n in range(total)]).to_json()
    shards = -(-total // SHARD)
    return PlanResult(sharded=StoredPlan("plan-ref", total, shards, SHARD, AT_ONCE)).to_json()


@stand_ins.activity_trigger(input_name="request")
def read_plan_page(request: dict[str, Any]) -> dict[str, Any]:
    asked = ShardRequest.from_json(request)
    first = asked.shard * SHARD
    return PlanPage([StreamPlan(f"items:{n}", {"board": n})
                     for n in range(first, min(first + SHARD, SEEN["streams"]))]).to_json()


@stand_ins.activity_trigger(input_name="request")
def fetch_pages(request: dict[str, Any]) -> dict[str, Any]:
    if request["stream"] in SEEN["failing"]:
        raise RuntimeError(f"board {request['stream']} is gone")
    return FetchResult([], None, True).to_json()


@stand_ins.activity_trigger(input_name="request")
def load_pages(request: dict[str, Any]) -> dict[str, Any]:
    return LoadCounts().to_json()


@stand_ins.activity_trigger(input_name="request")
def finish_stream(request: dict[str, Any]) -> None:
    _remember("finished", StreamFinished.from_json(request))


@stand_ins.activity_trigger(input_name="request")
def finish_connection(request: dict[str, Any]) -> None:
    _remember("finish_connection", FinishConnection.from_json(request))


@stand_ins.activity_trigger(input_name="request")
def refresh_aggregates(request: dict[str, Any]) -> None:
    _remember("refreshed", request["connection_id"])


app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(orchestrators.bp)
app.register_functions(stand_ins)


@pytest.fixture
def host(tmp_path) -> Iterator[LocalDurableHost]:
    SEEN.clear()
    host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)
    yield host
    host.close()


def run_connection(host: LocalDurableHost, streams: int, failing: set[str] = frozenset()) -> dict[str, Any]:
    SEEN.update(streams=streams, failing=set(failing))
    instance = host.start_new("sync_connection", "run-1:m-1", {"run_id": "run-1", "connection_id": "m-1",
                                                               "mode": "full", "options": {}})
    status = host.run_until_complete(instance, timeout=120)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"]


def test_waves_cover_every_shard_once_and_at_most_shards_at_once_each():
    plan = StoredPlan("ref", 75, 8, 10, 3)
    waves, request = [], PhaseRequest("r", "c", plan, "p")
    while request.next_shard < plan.shards:
        waves.append(list(wave(request)))
        request = PhaseRequest("r", "c", plan, "p", next_shard=waves[-1][-1] + 1)
    assert waves == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_a_sharded_phase_syncs_every_stream_and_no_history_grows_with_their_number(host):
    watch = HistoryWatch(host)
    output = run_connection(host, streams=95)
    assert output == {"connection_id": "m-1", "status": "succeeded", "error": ""}
    finished = {f.stream: f.status for f in SEEN["finished"]}
    assert finished == {"boards": "succeeded", "users": "succeeded",
                        **{f"items:{n}": "succeeded" for n in range(95)}}
    # Every stream keeps the instance id it had when sync_connection started it itself.
    instances = {i.instance_id: i.name for i in host.store.list_instances()}
    assert {iid for iid, name in instances.items() if name == "sync_stream"} == {
        f"run-1:m-1:{stream}" for stream in finished}
    assert {iid for iid, name in instances.items() if name == "sync_shard"} == {
        f"run-1:m-1:phase1:shard{k}" for k in range(10)}
    # The finish hears of the phases' streams from the audit, not through the history.
    (finish,) = SEEN["finish_connection"]
    assert (finish.streams, finish.streams_in_audit, finish.context) == (["boards", "users"], True, {"kept": 1})
    events, instance = watch.largest()
    # Two events per stream of a shard and a few per episode; a fan-out of all 95 in one history holds 190 and more.
    assert events <= 4 * SHARD + 20, (events, instance)


def test_failures_in_shards_fail_the_connection_naming_the_first_and_counting_the_rest(host):
    failing = {f"items:{n}" for n in range(0, 60, 2)}  # 30 of 60
    output = run_connection(host, streams=60, failing=failing)
    assert output["status"] == "failed"
    named = [part.split(":", 2)[1] for part in output["error"].split("; ")[:-1]]
    assert len(named) == 20 and {f"items:{n}" for n in named} <= failing
    assert output["error"].endswith("; and 10 more failed streams (the run's streams list each one)")
    assert "finish_connection" not in SEEN  # only once every stream succeeded
    assert {f.stream for f in SEEN["finished"] if f.status == "failed"} == failing


def test_a_phase_that_fits_one_shard_runs_its_streams_as_it_always_did(host):
    assert run_connection(host, streams=SHARD)["status"] == "succeeded"
    instances = {i.instance_id: i.name for i in host.store.list_instances()}
    assert sorted(instances.values()).count("sync_stream") == SHARD + 2
    assert not {"sync_phase", "sync_shard"} & set(instances.values())
    (finish,) = SEEN["finish_connection"]
    assert (len(finish.streams), finish.streams_in_audit) == (SHARD + 2, False)


@pytest.mark.parametrize("failing_phase", ["plan_fails_in", "refused_in"])
def test_a_connection_that_fails_after_its_first_phase_still_refreshes_what_its_streams_left(host, failing_phase):
    # The first phase's streams loaded and may have left a first sync's rebuild to the connection's refresh.
    SEEN[failing_phase] = 1
    output = run_connection(host, streams=4)
    assert output["status"] == "failed"
    assert output["error"].endswith(("the boards' plan could not be read", "the account's token was revoked"))
    assert {f.stream for f in SEEN["finished"]} == {"boards", "users"}
    assert SEEN["refreshed"] == ["m-1"] and "finish_connection" not in SEEN
