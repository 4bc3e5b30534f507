"""sync_all: one run over every connection in scope, one sub-orchestration per connection."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error


@bp.orchestration_trigger(context_name="context")
def sync_all(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    request = context.get_input()
    run_id, mode = request["run_id"], request["mode"]
    base = {"run_id": run_id, "scope": request["scope"], "mode": mode,
            "trigger": request.get("trigger", "manual"), "instance_id": context.instance_id}
    try:
        # begin_sync claims each connection's lease: one held by another run is skipped, and says by whom.
        begun = yield context.call_activity_with_retry("begin_sync", ACTIVITY_RETRY, base)
    except Exception as exc:
        # The run could not even start (database down, unknown connection): record why, if we can.
        error = short_error(exc)
        context.set_custom_status({"run_id": run_id, "phase": "failed", "error": error})
        outcome = yield context.call_activity("finish_sync", {"run_id": run_id, "results": [], "error": error})
        return outcome
    connection_ids, skipped = begun["connections"], begun["skipped"]
    context.set_custom_status({"run_id": run_id, "phase": "syncing", "connections": connection_ids,
                               "skipped": [s["connection_id"] for s in skipped]})
    children = [
        context.call_sub_orchestrator(
            "sync_connection",
            {"run_id": run_id, "connection_id": cid, "mode": mode, "options": request.get("options", {})},
            f"{context.instance_id}:{cid}",
        )
        for cid in connection_ids
    ]
    results = ((yield context.task_all(children)) or []) + skipped
    outcome = yield context.call_activity_with_retry(
        "finish_sync", ACTIVITY_RETRY, {"run_id": run_id, "results": results}
    )
    context.set_custom_status({"run_id": run_id, "phase": "done", "status": outcome["status"]})
    return outcome
