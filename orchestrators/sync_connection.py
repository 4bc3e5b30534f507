"""sync_connection: plan the streams of one connection, sync each in its own sub-orchestration, aggregate.

A plugin may plan in phases (e.g. item streams per board, once the boards are loaded). A phase of more streams than
one history should hold comes back stored (PlanResult.sharded) and runs through sync_phase, a shard at a time: this
history then holds that phase as one sub-orchestration, and its result as counts and the first failures.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error
from orchestrators.sync_phase import stream_tasks
from shared.core.messages import (
    ConnectionKey,
    ConnectionRequest,
    ConnectionResult,
    FinishConnection,
    PhaseRequest,
    PlanRequest,
    PlanResult,
    ShardResult,
    StreamResult,
)

MAX_PHASES = 5


@bp.orchestration_trigger(context_name="context")
def sync_connection(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    request = ConnectionRequest.from_json(context.get_input())
    run_id, connection_id = request.run_id, request.connection_id
    results: list[StreamResult] = []  # the streams of phases run here
    sharded = ShardResult()  # those of phases run through sync_phase: counts, and the first failures by name
    plan_context: dict[str, Any] = {}
    # A failure here is this connection's alone: report it instead of failing the siblings' parent.
    failure: str | None = None
    try:
        for phase in range(MAX_PHASES):
            plan = PlanResult.from_json((yield context.call_activity_with_retry(
                "plan_streams", ACTIVITY_RETRY,
                PlanRequest(run_id, connection_id, request.mode, phase,
                            failed={r.stream: r.error or "no reason given" for r in [*results, *sharded.failures]
                                    if r.status != "succeeded"},
                            changed=request.changed, since=request.since).to_json(),
            )))
            if plan.refused:
                failure = plan.refused
                break
            if plan.skipped:
                return ConnectionResult(connection_id, "skipped", plan.skipped).to_json()
            plan_context.update(plan.context)
            if plan.sharded is not None:
                sharded += ShardResult.from_json((yield context.call_sub_orchestrator(
                    "sync_phase",
                    PhaseRequest(run_id, connection_id, plan.sharded, context.instance_id, request.options).to_json(),
                    f"{context.instance_id}:phase{phase}",
                )))
            else:
                streams = stream_tasks(context, run_id, connection_id, plan.streams, request.options,
                                       context.instance_id)
                results += [StreamResult.from_json(r) for r in (yield context.task_all(streams)) or []]
            # A failed stream does not stop the next phase: the plugin plans it knowing the failure (it leaves
            # out only what depends on the failed stream, and notes what it left out).
            if not plan.next_phase:
                break
        failed = [r for r in results if r.status != "succeeded"]
        if failure is None and not failed and not sharded.failed:
            yield context.call_activity_with_retry(
                "finish_connection", ACTIVITY_RETRY,
                FinishConnection(run_id, connection_id, plan_context, [r.stream for r in results],
                                 streams_in_audit=sharded.succeeded > 0).to_json(),
            )
    except Exception as exc:
        failure = short_error(exc)
    # Whatever failed above, the streams that ended may have left their refresh to this one (a first sync's rebuild:
    # activities/stream_end.py); a refresh with nothing marked changes nothing.
    try:
        yield context.call_activity_with_retry("refresh_aggregates", ACTIVITY_RETRY,
                                               ConnectionKey(connection_id).to_json())
    except Exception as exc:
        failure = failure or short_error(exc)
    if failure is not None:
        return ConnectionResult(connection_id, "failed", failure).to_json()
    return ConnectionResult(
        connection_id,
        "failed" if failed or sharded.failed else "succeeded",
        _errors([*failed, *sharded.failures], sharded.failed - len(sharded.failures)),
    ).to_json()


def _errors(failed: list[StreamResult], unnamed: int) -> str:
    """The failed streams with why; those a sharded phase only counted are left to the run's audit."""
    text = "; ".join(f"{r.stream}: {r.error or ''}" for r in failed)
    if unnamed:
        text += f"; and {unnamed} more failed streams (the run's streams list each one)"
    return text
