"""Starting a sync: one orchestration per scope at a time, with an id the caller can poll."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df

from shared.core.messages import SyncRequest
from shared.db.connections import validate_connection_id

ACTIVE = {df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
          df.OrchestrationRuntimeStatus.ContinuedAsNew}
MODES = ("full", "incremental")


class BadSyncRequest(ValueError):
    """A sync request the caller must correct."""


@dataclass(frozen=True)
class SyncStart:
    started: bool
    instance_id: str
    run_id: str | None
    blocking_instance: str | None = None


def instance_id_for(scope: str) -> str:
    """Deterministic per scope, so a second start of the same scope finds the first."""
    return "sync-all" if scope == "all" else f"sync-{scope}"


def parse_request(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(scope, mode, options) from a POST /api/syncs body; raises BadSyncRequest with what to fix."""
    if not isinstance(body, dict):
        raise BadSyncRequest("The body must be a JSON object such as {\"mode\": \"incremental\"}")
    unknown = set(body) - {"connection_id", "mode", "options"}
    if unknown:
        raise BadSyncRequest(f"Unknown fields {sorted(unknown)}; allowed: connection_id, mode, options")
    mode = body.get("mode", "incremental")
    if mode not in MODES:
        raise BadSyncRequest(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    scope = body.get("connection_id") or "all"
    if scope != "all":
        try:
            validate_connection_id(scope)
        except ValueError as exc:
            raise BadSyncRequest(str(exc)) from exc
    options = body.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(v, int) and v > 0 for v in options.values()):
        raise BadSyncRequest("options must map names to positive whole numbers")
    return scope, mode, options


async def start_sync(client: df.DurableOrchestrationClient, scope: str, mode: str, trigger: str,
                     options: dict[str, Any] | None = None) -> SyncStart:
    """Start sync_all for the scope unless it (or an all-connections sync) is already running.

    This check is the friendly 409 for the obvious cases, not the guarantee: it can race, and an "all" sync
    may start while a one-connection sync runs. Each run claims a lease per connection in begin_sync
    (shared/db/leases.py), so a connection another run holds is skipped and reported on the run.
    """
    instance_id = instance_id_for(scope)
    for candidate in {instance_id, instance_id_for("all")}:
        status = await client.get_status(candidate)
        if status and status.runtime_status in ACTIVE:
            return SyncStart(False, instance_id, None, blocking_instance=candidate)
    run_id = f"run-{uuid.uuid4().hex[:16]}"
    await client.start_new(
        "sync_all",
        instance_id,
        SyncRequest(run_id, scope, mode, trigger, options or {}).to_json(),
    )
    return SyncStart(True, instance_id, run_id)
