"""Starting a sync: one orchestration per scope at a time, with a run id the caller can poll and cancel.

The API route and the timer both start syncs here. The run is recorded (with who asked) before its orchestration
starts, so every accepted request has a sync_runs row from the first moment and a status the API can show.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df

from shared.core.messages import SyncRequest

ACTIVE = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
          df.OrchestrationRuntimeStatus.ContinuedAsNew}
MODES = ("full", "incremental", "backfill")  # backfill: from a date, shared/core/backfill.py
ALL = "all"


@dataclass(frozen=True)
class SyncStart:
    started: bool
    instance_id: str
    run_id: str | None
    blocking_instance: str | None = None
    blocking_run: str | None = None


def instance_id_for(scope: str) -> str:
    """Deterministic per scope, so a second start of the same scope finds the first."""
    return "sync-all" if scope == ALL else f"sync-{scope}"


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex[:16]}"


class SyncNotStarted(RuntimeError):
    """The run was recorded but its orchestration did not start (a lost race for the instance id, or the task hub
    refused); `run_id` is the recorded run, for the caller to mark failed."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"The orchestration of run {run_id} did not start")
        self.run_id = run_id


def run_of(status: Any) -> str | None:
    """The run id in an orchestration's input (sync_all's and its children's), if it has one."""
    payload = getattr(status, "input_", None)
    return payload.get("run_id") if isinstance(payload, dict) else None


async def start_sync(client: df.DurableOrchestrationClient, scope: str, mode: str, trigger: str,
                     options: dict[str, int] | None = None,
                     record: Callable[[str, str], None] | None = None, since: str | None = None) -> SyncStart:
    """Start sync_all for the scope unless it (or an all-connections sync) is already running.

    `record(run_id, instance_id)` runs before the orchestration starts (the API stores the run and who asked);
    `since` is a backfill's start date (YYYY-MM-DD, checked by the caller).
    This check is the friendly 409 for the obvious cases, not the guarantee: it can race, and an "all" sync
    may start while a one-connection sync runs. Each run claims a lease per connection in begin_sync
    (shared/db/leases.py), so a connection another run holds is skipped and reported on the run.
    """
    instance_id = instance_id_for(scope)
    for candidate in {instance_id, instance_id_for(ALL)}:
        status = await client.get_status(candidate)
        if status and status.runtime_status in ACTIVE:
            return SyncStart(False, instance_id, None, blocking_instance=candidate, blocking_run=run_of(status))
    run_id = new_run_id()
    if record is not None:
        record(run_id, instance_id)
    try:
        await client.start_new("sync_all", instance_id,
                               SyncRequest(run_id, scope, mode, trigger, options or {}, since=since).to_json())
    except Exception as exc:  # any refusal: the recorded run must not stay "running" with nothing behind it
        raise SyncNotStarted(run_id) from exc
    return SyncStart(True, instance_id, run_id)
