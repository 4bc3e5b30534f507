"""sync_connection: plan the streams of one connection, sync each in its own sub-orchestration, aggregate.

A plugin may plan in phases (e.g. item streams per board, once the boards are loaded).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error

MAX_PHASES = 5


@bp.orchestration_trigger(context_name="context")
def sync_connection(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    request = context.get_input()
    run_id, connection_id = request["run_id"], request["connection_id"]
    results: list[dict[str, Any]] = []
    plan_context: dict[str, Any] = {}
    # A failure here is this connection's alone: report it instead of failing the siblings' parent.
    try:
        for phase in range(MAX_PHASES):
            plan = yield context.call_activity_with_retry(
                "plan_streams", ACTIVITY_RETRY,
                {"run_id": run_id, "connection_id": connection_id, "mode": request["mode"], "phase": phase,
                 "failed": {r["stream"]: r.get("error") or "no reason given" for r in results
                            if r.get("status") != "succeeded"}},
            )
            if plan["refused"]:
                return {"connection_id": connection_id, "status": "failed", "error": plan["refused"]}
            plan_context.update(plan["context"])
            streams = [
                context.call_sub_orchestrator(
                    "sync_stream",
                    {"run_id": run_id, "connection_id": connection_id, "stream": stream["stream"],
                     "cursor": stream["cursor"], "sweep": stream["sweep"], "sequence": 0,
                     "options": request.get("options", {})},
                    f"{context.instance_id}:{stream['stream']}",
                )
                for stream in plan["streams"]
            ]
            results += (yield context.task_all(streams)) or []
            # A failed stream does not stop the next phase: the plugin plans it knowing the failure (it leaves
            # out only what depends on the failed stream, and notes what it left out).
            if not plan.get("next_phase"):
                break
        failed = [r for r in results if r.get("status") != "succeeded"]
        if not failed:
            yield context.call_activity_with_retry(
                "finish_connection", ACTIVITY_RETRY,
                {"run_id": run_id, "connection_id": connection_id, "context": plan_context, "results": results},
            )
        yield context.call_activity_with_retry("refresh_aggregates", ACTIVITY_RETRY, {"connection_id": connection_id})
    except Exception as exc:
        return {"connection_id": connection_id, "status": "failed", "error": short_error(exc)}
    return {
        "connection_id": connection_id,
        "status": "failed" if failed else "succeeded",
        "error": "; ".join(f"{r['stream']}: {r.get('error', '')}" for r in failed),
        "streams": results,
    }
