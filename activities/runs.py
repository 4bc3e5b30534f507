"""Activities that open, plan and close a sync run."""

from __future__ import annotations

from typing import Any

from plugins.base import load_plugin
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import connections_in_scope, get_connection, get_watermarks, set_watermark
from shared.db.migrate import migrate


def begin_sync(request: dict[str, Any]) -> list[str]:
    """Record the run and list the connections it covers (migrating the database first, idempotently)."""
    with connect() as conn:
        migrate(conn)
        with conn.transaction():
            connections = connections_in_scope(conn, request["scope"])
            runs.begin_run(conn, request["run_id"], request["scope"], request["mode"],
                           request.get("trigger", "manual"), request.get("instance_id", ""))
    return [c.connection_id for c in connections]


def plan_streams(request: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan for one connection: its streams and where each starts, or why it must not run."""
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, request["connection_id"])
        plugin = load_plugin(connection.plugin)
        plan = plugin.plan(connection, request["mode"], get_watermarks(conn, connection.connection_id),
                           runs.calls_this_month(conn, connection.plugin), int(request.get("phase", 0)))
        for stream_plan in plan.streams:
            runs.begin_stream(conn, request["run_id"], connection.connection_id, stream_plan.stream)
        runs.add_notes(conn, request["run_id"], connection.connection_id, plan.notes)
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
        plugin = load_plugin(connection.plugin)
        marks = plugin.after_run(connection, request.get("context") or {}, request.get("results") or [])
        for stream, watermark in marks.items():
            set_watermark(conn, connection.connection_id, stream, watermark, request["run_id"])
    return {"watermarks": sorted(marks)}


def finish_stream(request: dict[str, Any]) -> None:
    with connect() as conn, conn.transaction():
        runs.end_stream(conn, request["run_id"], request["connection_id"], request["stream"],
                        request["status"], request.get("error"))
        if request.get("throttle_waits"):
            runs.add_counts(conn, request["run_id"], request["connection_id"], request["stream"],
                            throttle_waits=request["throttle_waits"])


def finish_sync(request: dict[str, Any]) -> dict[str, Any]:
    """Close the run: succeeded, partial (some connections failed) or failed; returns the totals."""
    results = request.get("results") or []
    errors = [
        {"connection_id": r["connection_id"], "error": r.get("error", "")}
        for r in results
        if r.get("status") != "succeeded"
    ]
    if request.get("error"):
        errors.append({"connection_id": None, "error": request["error"]})
    if not errors:
        status = "succeeded"
    elif len(errors) < len(results):
        status = "partial"
    else:
        status = "failed"
    with connect() as conn, conn.transaction():
        runs.end_run(conn, request["run_id"], status, errors)
        summary = runs.run_summary(conn, request["run_id"]) or {}
    return {"run_id": request["run_id"], "status": status, "totals": summary.get("totals", {}), "errors": errors}
