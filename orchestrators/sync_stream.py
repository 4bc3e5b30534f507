"""sync_stream: the page loop of one stream: fetch -> land -> load, waiting out throttles on durable timers.

History stays bounded: after a fixed number of iterations the loop continues as new with its cursor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error

ITERATIONS_PER_EXECUTION = 20
MAX_CONSECUTIVE_THROTTLES = 30
COUNTS = ("pages", "fetched", "inserted", "updated", "unchanged", "deleted", "quarantined")


@bp.orchestration_trigger(context_name="context")
def sync_stream(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = context.get_input()
    key = {"run_id": state["run_id"], "connection_id": state["connection_id"], "stream": state["stream"]}
    totals = dict.fromkeys(COUNTS, 0) | state.get("totals", {})
    throttles = int(state.get("throttles", 0))
    throttle_waits = int(state.get("throttle_waits", 0))
    cursor = state["cursor"]
    server_time = state.get("server_time")
    sequence = int(state.get("sequence", 0))
    # Options let tests and operators shrink the loop (e.g. to exercise continue_as_new).
    options = state.get("options") or {}
    iterations = int(options.get("iterations_per_execution", ITERATIONS_PER_EXECUTION))
    try:
        for _ in range(iterations):
            fetched = yield context.call_activity_with_retry(
                "fetch_pages", ACTIVITY_RETRY,
                {**key, "cursor": cursor, "sequence": sequence, "max_pages": options.get("max_pages")},
            )
            if fetched["pages"]:
                loaded = yield context.call_activity_with_retry(
                    "load_pages", ACTIVITY_RETRY, {**key, "pages": fetched["pages"]}
                )
                totals = {name: totals[name] + loaded.get(name, 0) for name in COUNTS}
                sequence += len(fetched["pages"])
            cursor = fetched["cursor"]
            server_time = server_time or fetched.get("server_time")
            context.set_custom_status({**key, "phase": "loading", **totals})
            if fetched["retry_after"] is not None:
                throttles += 1
                throttle_waits += 1
                if throttles > MAX_CONSECUTIVE_THROTTLES:
                    raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                       f"{fetched.get('throttle_reason')}")
                context.set_custom_status({**key, "phase": "throttled", "retry_after": fetched["retry_after"]})
                wake = context.current_utc_datetime + dt.timedelta(seconds=float(fetched["retry_after"]))
                yield context.create_timer(wake)
                continue
            throttles = 0
            if fetched["done"]:
                break
        else:
            context.continue_as_new({**state, "cursor": cursor, "sequence": sequence, "totals": totals,
                                     "throttles": throttles, "throttle_waits": throttle_waits,
                                     "server_time": server_time})
            return None
        if state.get("sweep"):
            swept = yield context.call_activity_with_retry("sweep_deletes", ACTIVITY_RETRY, key)
            totals["deleted"] += swept["deleted"]
    except Exception as exc:
        error = short_error(exc)
        yield context.call_activity_with_retry(
            "finish_stream", ACTIVITY_RETRY, {**key, "status": "failed", "error": error,
                                              "throttle_waits": throttle_waits}
        )
        return {**key, "status": "failed", "error": error, **totals}
    yield context.call_activity_with_retry(
        "finish_stream", ACTIVITY_RETRY, {**key, "status": "succeeded", "throttle_waits": throttle_waits}
    )
    return {**key, "status": "succeeded", "server_time": server_time, **totals}
