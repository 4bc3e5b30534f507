"""sync_stream: the page loop of one stream: fetch -> land -> load, waiting out throttles on durable timers.

History stays bounded: after a fixed number of iterations the loop continues as new with its cursor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error
from shared.core.messages import (
    FetchRequest,
    FetchResult,
    LoadCounts,
    LoadRequest,
    StreamFinished,
    StreamResult,
    StreamState,
    SweepResult,
)

ITERATIONS_PER_EXECUTION = 20
MAX_CONSECUTIVE_THROTTLES = 30


@bp.orchestration_trigger(context_name="context")
def sync_stream(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = StreamState.from_json(context.get_input())
    key = state.key()
    status_head = key.to_json()
    totals, throttles, throttle_waits = state.totals, state.throttles, state.throttle_waits
    cursor, sequence = state.cursor, state.sequence
    # Options let tests and operators shrink the loop (e.g. to exercise continue_as_new).
    iterations = int(state.options.get("iterations_per_execution", ITERATIONS_PER_EXECUTION))
    try:
        for _ in range(iterations):
            fetched = FetchResult.from_json((yield context.call_activity_with_retry(
                "fetch_pages", ACTIVITY_RETRY,
                FetchRequest(*dataclasses.astuple(key), cursor=cursor, sequence=sequence,
                             max_pages=state.options.get("max_pages")).to_json(),
            )))
            if fetched.pages:
                loaded = yield context.call_activity_with_retry("load_pages", ACTIVITY_RETRY, LoadRequest(
                    *dataclasses.astuple(key), pages=fetched.pages, ends_stream=fetched.done).to_json())
                totals += LoadCounts.from_json(loaded)
                sequence += len(fetched.pages)
            cursor = fetched.cursor
            context.set_custom_status({**status_head, "phase": "loading", **totals.to_json()})
            if fetched.retry_after is not None:
                throttles += 1
                throttle_waits += 1
                if throttles > MAX_CONSECUTIVE_THROTTLES:
                    raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                       f"{fetched.throttle_reason}")
                context.set_custom_status({**status_head, "phase": "throttled", "retry_after": fetched.retry_after})
                wake = context.current_utc_datetime + dt.timedelta(seconds=float(fetched.retry_after))
                yield context.create_timer(wake)
                continue
            throttles = 0
            if fetched.done:
                break
        else:
            context.continue_as_new(dataclasses.replace(
                state, cursor=cursor, sequence=sequence, totals=totals, throttles=throttles,
                throttle_waits=throttle_waits).to_json())
            return None
        if state.sweep:
            swept = SweepResult.from_json((yield context.call_activity_with_retry(
                "sweep_deletes", ACTIVITY_RETRY, key.to_json())))
            totals = dataclasses.replace(totals, deleted=totals.deleted + swept.deleted)
            context.set_custom_status({**status_head, "phase": "swept", **totals.to_json()})
    except Exception as exc:
        error = short_error(exc)
        yield context.call_activity_with_retry(
            "finish_stream", ACTIVITY_RETRY,
            StreamFinished(*dataclasses.astuple(key), status="failed", error=error,
                           throttle_waits=throttle_waits).to_json(),
        )
        return StreamResult(key.stream, "failed", error).to_json()
    yield context.call_activity_with_retry(
        "finish_stream", ACTIVITY_RETRY,
        StreamFinished(*dataclasses.astuple(key), status="succeeded", throttle_waits=throttle_waits).to_json(),
    )
    return StreamResult(key.stream, "succeeded").to_json()
