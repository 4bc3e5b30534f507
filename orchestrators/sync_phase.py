"""sync_phase and sync_shard: a phase of more streams than one history should hold (PlanResult.sharded).

sync_connection -> sync_phase (the phase) -> sync_shard (at most StoredPlan.shard_size streams) -> sync_stream.
sync_phase starts StoredPlan.shards_at_once shards side by side and, once that wave has ended, continues as new
with the next one: its history holds one wave, a shard's its own streams, and at most shards_at_once * shard_size
streams sync at once. Only counts and the first failures travel back (ShardResult); the audit (sync_run_streams)
has every stream, and the activities that need the whole list read it there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from shared.core.messages import (
    PhaseRequest,
    PlanPage,
    ShardRequest,
    ShardResult,
    StreamPlan,
    StreamRequest,
    StreamResult,
)


def wave(request: PhaseRequest) -> range:
    """The shards this execution of sync_phase runs."""
    first = request.next_shard
    return range(first, min(first + request.plan.shards_at_once, request.plan.shards))


@bp.orchestration_trigger(context_name="context")
def sync_phase(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    request = PhaseRequest.from_json(context.get_input())
    plan, shards = request.plan, wave(request)
    done = request.done
    tasks = [context.call_sub_orchestrator(
        "sync_shard",
        ShardRequest(request.run_id, request.connection_id, plan.ref, shard, request.streams_prefix,
                     request.options).to_json(),
        f"{context.instance_id}:shard{shard}",
    ) for shard in shards]
    for result in (yield context.task_all(tasks)) or []:
        done += ShardResult.from_json(result)
    context.set_custom_status({"run_id": request.run_id, "connection_id": request.connection_id, "phase": "shards",
                               "shards_done": shards.stop, "shards": plan.shards, "streams": plan.streams,
                               "failed": done.failed})
    if shards.stop < plan.shards:
        context.continue_as_new(dataclasses.replace(request, next_shard=shards.stop, done=done).to_json())
        return None
    return done.to_json()


@bp.orchestration_trigger(context_name="context")
def sync_shard(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    request = ShardRequest.from_json(context.get_input())
    page = PlanPage.from_json((yield context.call_activity_with_retry(
        "read_plan_page", ACTIVITY_RETRY, ShardRequest(request.run_id, request.connection_id, request.ref,
                                                       request.shard).to_json())))
    streams = stream_tasks(context, request.run_id, request.connection_id, page.streams, request.options,
                           request.streams_prefix)
    results = [StreamResult.from_json(r) for r in (yield context.task_all(streams)) or []]
    return ShardResult.of(results).to_json()


def stream_tasks(context: df.DurableOrchestrationContext, run_id: str, connection_id: str,
                 streams: list[StreamPlan], options: dict[str, int], prefix: str) -> list[Any]:
    """A sync_stream sub-orchestration per planned stream, named `<prefix>:<stream>` whether sync_connection starts
    it or a shard does: the API finds a stream's instance by that id."""
    return [
        context.call_sub_orchestrator(
            "sync_stream",
            StreamRequest(run_id, connection_id, stream.stream, stream.cursor, stream.sweep, 0, options).to_json(),
            f"{prefix}:{stream.stream}",
        )
        for stream in streams
    ]
