"""Activities that open, plan and close a sync run."""

from __future__ import annotations

from typing import Any

from plugins import registry
from shared.db import leases, runs
from shared.db.connect import connect
from shared.db.connections import connections_in_scope, get_connection, get_watermarks, set_watermark
from shared.db.migrate import migrate


def begin_sync(request: dict[str, Any]) -> dict[str, Any]:
    """Record the run and claim the connections it covers (migrating the database first, idempotently).

    Returns the connections this run syncs and, as results, those it skips because another run holds them.
    """
    run_id = request["run_id"]
    with connect() as conn:
        migrate(conn, registry.migration_folders())
        with conn.transaction():
            connections = connections_in_scope(conn, request["scope"])
            runs.begin_run(conn, run_id, request["scope"], request["mode"],
                           request.get("trigger", "manual"), request.get("instance_id", ""))
            # Sorted ids: two runs claiming overlapping sets lock the lease rows in the same order.
            claims = [leases.claim(conn, c.connection_id, run_id, request.get("instance_id", ""))
                      for c in sorted(connections, key=lambda c: c.connection_id)]
            for taken in (c for c in claims if c.taken_over):
                runs.add_notes(conn, run_id, taken.connection_id, [taken.message()])
    return {
        "connections": [c.connection_id for c in claims if c.granted],
        "skipped": [{"connection_id": c.connection_id, "status": "skipped", "error": c.message()}
                    for c in claims if not c.granted],
    }


def plan_streams(request: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan for one connection: its streams and where each starts, or why it must not run."""
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, request["connection_id"])
        plugin = registry.get(connection.plugin)
        plan = plugin.plan(connection, request["mode"], get_watermarks(conn, connection.connection_id),
                           runs.calls_this_month(conn, connection.plugin), int(request.get("phase", 0)),
                           failed=request.get("failed") or {}, store=plugin.storage(conn))
        for stream_plan in plan.streams:
            runs.begin_stream(conn, request["run_id"], connection.connection_id, stream_plan.stream)
        runs.add_notes(conn, request["run_id"], connection.connection_id, plan.notes)
        leases.renew(conn, connection.connection_id, request["run_id"])
    return {
        "streams": [{"stream": p.stream, "cursor": p.cursor, "sweep": p.sweep} for p in plan.streams],
        "context": plan.context,
        "refused": plan.refused,
        "notes": plan.notes,
        "next_phase": plan.next_phase,
    }


def finish_connection(request: dict[str, Any]) -> dict[str, Any]:
    """After every stream of a connection succeeded: store the watermarks the plugin derives from the run."""
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, request["connection_id"])
        plugin = registry.get(connection.plugin)
        marks = plugin.after_run(connection, request.get("context") or {}, request.get("results") or [])
        for stream, watermark in marks.items():
            set_watermark(conn, connection.connection_id, stream, watermark, request["run_id"])
    return {"watermarks": sorted(marks)}


def finish_stream(request: dict[str, Any]) -> None:
    with connect() as conn, conn.transaction():
        runs.end_stream(conn, request["run_id"], request["connection_id"], request["stream"],
                        request["status"], request.get("error"))
        leases.renew(conn, request["connection_id"], request["run_id"])
        if request.get("throttle_waits"):
            runs.add_counts(conn, request["run_id"], request["connection_id"], request["stream"],
                            throttle_waits=request["throttle_waits"])


def run_outcome(results: list[dict[str, Any]], error: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The run's status and its per-connection errors from the connections' results.

    succeeded: every connection synced; skipped: every connection was held by another run; partial: some
    synced and others failed or were skipped; failed: none synced.
    """
    errors = [{"connection_id": r["connection_id"], "status": r.get("status", "failed"), "error": r.get("error", "")}
              for r in results if r.get("status") != "succeeded"]
    if error:
        errors.append({"connection_id": None, "status": "failed", "error": error})
    if not errors:
        return "succeeded", errors
    if len(errors) == len(results) and all(e["status"] == "skipped" for e in errors):
        return "skipped", errors
    return ("partial" if len(errors) < len(results) else "failed"), errors


def finish_sync(request: dict[str, Any]) -> dict[str, Any]:
    """Record the run's outcome and release the connections it held, in one transaction; returns the totals."""
    status, errors = run_outcome(request.get("results") or [], request.get("error"))
    with connect() as conn, conn.transaction():
        runs.end_run(conn, request["run_id"], status, errors)
        leases.release(conn, request["run_id"])
        summary = runs.run_summary(conn, request["run_id"]) or {}
    return {"run_id": request["run_id"], "status": status, "totals": summary.get("totals", {}), "errors": errors}
