"""sync_on_change: the one driver of a connection's event-driven syncs (started by the change queue's trigger).

Each execution: wait until no notice arrived for a quiet window (at most max_wait), claim what is pending with the
connection's lease, run ONE incremental sync of it (sync_all, trigger "webhook", the claimed hints), then let go of
the connection, or, when notices arrived during the run, continue as new for a follow-up run (history stays
bounded). A connection another run holds is tried again after max_wait: its notices stay pending meanwhile.
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
    ChangeDrive,
    ChangeKey,
    ChangesClaimed,
    ChangesReleased,
    ClaimChanges,
    PendingEvents,
    SyncRequest,
)


@bp.orchestration_trigger(context_name="context")
def sync_on_change(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    drive = ChangeDrive.from_json(context.get_input())
    key = ChangeKey(drive.connection_id, context.instance_id)
    status = {"connection_id": drive.connection_id, "runs": drive.runs}

    # Debounce: a burst of notices becomes one run. Quiet = the pending count did not move during a window.
    context.set_custom_status({**status, "phase": "waiting"})
    seen = yield from _count(context, key)
    waited = 0.0
    while waited < drive.max_wait_seconds:
        step = min(drive.window_seconds, drive.max_wait_seconds - waited)
        yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=step))
        waited += step
        now = yield from _count(context, key)
        if now == seen:
            break
        seen = now

    run_id = f"run-{context.new_uuid().replace('-', '')[:16]}"
    run_instance = f"{context.instance_id}:{run_id}"
    claimed = ChangesClaimed.from_json((yield context.call_activity_with_retry(
        "claim_changes", ACTIVITY_RETRY,
        ClaimChanges(key.connection_id, key.instance_id, run_id, run_instance).to_json())))
    if claimed.status == "not_driver":
        return {**status, "phase": "replaced"}
    if claimed.status == "busy":
        # Another run (timer, API) holds the connection: the notices stay pending; try again later.
        context.set_custom_status({**status, "phase": "busy", "holder": claimed.holder})
        yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=drive.max_wait_seconds))
        context.continue_as_new(drive.to_json())
        return None
    if claimed.status == "claimed":
        context.set_custom_status({**status, "phase": "syncing", "run_id": run_id, "events": claimed.events})
        try:
            yield context.call_sub_orchestrator(
                "sync_all",
                SyncRequest(run_id, key.connection_id, "incremental", "webhook", changed=claimed.changed).to_json(),
                run_instance)
        except Exception as exc:
            # The run's own audit says how it failed; its notices are not claimed again (the next scheduled run
            # reads everything that changed anyway), and the driver goes on with what arrived since.
            context.set_custom_status({**status, "phase": "run_failed", "run_id": run_id, "error": short_error(exc)})
        drive = dataclasses.replace(drive, runs=drive.runs + 1)

    released = ChangesReleased.from_json((yield context.call_activity_with_retry(
        "release_changes", ACTIVITY_RETRY, key.to_json())))
    if not released.released:
        # Notices arrived while the run ran: one follow-up run for all of them, in a fresh history.
        context.continue_as_new(drive.to_json())
        return None
    context.set_custom_status({"connection_id": drive.connection_id, "runs": drive.runs, "phase": "released"})
    return {"connection_id": drive.connection_id, "runs": drive.runs}


def _count(context: df.DurableOrchestrationContext, key: ChangeKey) -> Generator[Any, Any, int]:
    result = yield context.call_activity_with_retry("count_changes", ACTIVITY_RETRY, key.to_json())
    return PendingEvents.from_json(result).events
