"""Activities that open and close a sync run and record how each stream ended (the run audit and leases)."""

from __future__ import annotations

from typing import Any

from plugins import registry
from shared.core import meters
from shared.core.messages import (
    BeginSync,
    Begun,
    ConnectionResult,
    FinishSync,
    RunOutcome,
    StreamFinished,
)
from shared.db import leases, runs
from shared.db.connections import connections_in_scope
from shared.db.migrate import check_schema
from shared.db.pool import lend


def begin_sync(request: dict[str, Any]) -> dict[str, Any]:
    """Record the run and claim the connections it covers, once the database is at this code's schema version.

    The app never migrates (its role may not change the schema): SchemaNotCurrent says what to run.
    Returns the connections this run syncs and, as results, those it skips because another run holds them.
    """
    begin = BeginSync.from_json(request)
    run_id = begin.run_id
    with lend() as conn:
        check_schema(conn, registry.migration_folders())
        with conn.transaction():
            connections = connections_in_scope(conn, begin.scope)
            runs.begin_run(conn, run_id, begin.scope, begin.mode, begin.trigger, begin.instance_id,
                           since=begin.since)
            # Sorted ids: two runs claiming overlapping sets lock the lease rows in the same order.
            claims = [leases.claim(conn, c.connection_id, run_id, begin.instance_id)
                      for c in sorted(connections, key=lambda c: c.connection_id)]
            for taken in (c for c in claims if c.taken_over):
                runs.add_notes(conn, run_id, taken.connection_id, [taken.message()])
    return Begun(
        connections=[c.connection_id for c in claims if c.granted],
        skipped=[ConnectionResult(c.connection_id, "skipped", c.message()) for c in claims if not c.granted],
    ).to_json()


def finish_stream(request: dict[str, Any]) -> None:
    finished = StreamFinished.from_json(request)
    with lend() as conn, conn.transaction():
        runs.end_stream(conn, finished.run_id, finished.connection_id, finished.stream, finished.status,
                        finished.error)
        leases.renew(conn, finished.connection_id, finished.run_id)
        if finished.throttle_waits:
            runs.add_counts(conn, finished.run_id, finished.connection_id, finished.stream,
                            throttle_waits=finished.throttle_waits)


def run_outcome(results: list[ConnectionResult], error: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The run's status and its errors (as stored in the audit) from the connections' results.

    succeeded: every connection synced; skipped: every connection was held by another run; partial: some
    synced and others failed or were skipped; failed: none synced.
    """
    failures = [r for r in results if r.status != "succeeded"]
    if error:
        failures.append(ConnectionResult(None, "failed", error))
    errors = [r.to_json() for r in failures]
    if not errors:
        return "succeeded", errors
    if len(errors) == len(results) and all(e["status"] == "skipped" for e in errors):
        return "skipped", errors
    return ("partial" if len(errors) < len(results) else "failed"), errors


def finish_sync(request: dict[str, Any]) -> dict[str, Any]:
    """Record the run's outcome and release the connections it held, in one transaction; returns the totals."""
    finish = FinishSync.from_json(request)
    status, errors = run_outcome(finish.results, finish.error)
    with lend() as conn, conn.transaction():
        runs.end_run(conn, finish.run_id, status, errors)
        leases.release(conn, finish.run_id)
        summary = runs.run_summary(conn, finish.run_id) or {}
    if summary.get("started_at") and summary.get("ended_at"):
        meters.sync_duration.record((summary["ended_at"] - summary["started_at"]).total_seconds(),
                                    {"scope": "all" if summary["scope"] == "all" else "connection", "status": status})
    return RunOutcome(finish.run_id, status, summary.get("totals", {}),
                      [ConnectionResult.from_json(e) for e in errors]).to_json()
