"""sync_all: one run over every connection in scope, one sub-orchestration per connection."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error
from shared.core.messages import (
    BeginSync,
    Begun,
    ConnectionRequest,
    ConnectionResult,
    FinishSync,
    RunOutcome,
    SyncRequest,
)


@bp.orchestration_trigger(context_name="context")
def sync_all(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    request = SyncRequest.from_json(context.get_input())
    run_id = request.run_id
    try:
        # begin_sync claims each connection's lease: one held by another run is skipped, and says by whom.
        begun = Begun.from_json((yield context.call_activity_with_retry(
            "begin_sync", ACTIVITY_RETRY,
            BeginSync(run_id, request.scope, request.mode, request.trigger, context.instance_id,
                      since=request.since).to_json(),
        )))
    except Exception as exc:
        # The run could not even start (database down, unknown connection): record why, if we can.
        error = short_error(exc)
        context.set_custom_status({"run_id": run_id, "phase": "failed", "error": error})
        outcome = yield context.call_activity("finish_sync", FinishSync(run_id, [], error).to_json())
        return RunOutcome.from_json(outcome).to_json()
    context.set_custom_status({"run_id": run_id, "phase": "syncing", "connections": begun.connections,
                               "skipped": [s.connection_id for s in begun.skipped]})
    children = [
        context.call_sub_orchestrator(
            "sync_connection",
            ConnectionRequest(run_id, cid, request.mode, request.options, request.changed,
                              request.since).to_json(),
            f"{context.instance_id}:{cid}",
        )
        for cid in begun.connections
    ]
    results = [ConnectionResult.from_json(r) for r in (yield context.task_all(children)) or []] + begun.skipped
    outcome = RunOutcome.from_json((yield context.call_activity_with_retry(
        "finish_sync", ACTIVITY_RETRY, FinishSync(run_id, results).to_json()
    )))
    context.set_custom_status({"run_id": run_id, "phase": "done", "status": outcome.status})
    return outcome.to_json()
