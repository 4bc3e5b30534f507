"""Activities that ask a connection's plugin what to read (plan_streams) and, once every stream succeeded, what
to remember from the run (finish_connection)."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from plugins import registry
from shared.core import meters
from shared.core.messages import FinishConnection, PlanRequest, PlanResult
from shared.db import leases, runs
from shared.db.connect import connect
from shared.db.connections import get_connection
from shared.db.watermarks import get_watermarks, set_watermark
from shared.tokens.store import load_info


def plan_streams(request: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan for one connection: its streams and where each starts, or why it must not run."""
    asked = PlanRequest.from_json(request)
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, asked.connection_id)
        plugin = registry.get(connection.plugin)
        # Only a run that names changes or a start date hands them on, so a plugin that takes neither still plans.
        focus = {key: value for key, value in (("changed", asked.changed), ("since", asked.since)) if value}
        if "changed" in focus and not _declares(plugin.plan, "changed"):
            # Hints only narrow a run: a plugin that cannot use them plans its whole incremental run.
            del focus["changed"]
            if asked.phase == 0:
                runs.add_notes(conn, asked.run_id, connection.connection_id,
                               [f"{connection.plugin} does not narrow a run to what changed: every stream was planned"])
        plan = plugin.plan(connection, asked.mode, get_watermarks(conn, connection.connection_id),
                           runs.calls_this_month(conn, connection.plugin), asked.phase, failed=asked.failed,
                           store=plugin.storage(conn), **focus)
        for stream_plan in plan.streams:
            runs.begin_stream(conn, asked.run_id, connection.connection_id, stream_plan.stream)
        runs.add_notes(conn, asked.run_id, connection.connection_id, plan.notes)
        leases.renew(conn, connection.connection_id, asked.run_id)
    return PlanResult(plan.streams, plan.context, plan.refused, plan.next_phase).to_json()


def _declares(method: Any, keyword: str) -> bool:
    parameters = inspect.signature(method).parameters
    return keyword in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def finish_connection(request: dict[str, Any]) -> None:
    """After every stream of a connection succeeded: store the watermarks the plugin derives from the run.

    The plugin is offered what this run's streams stored (e.g. a source's clock at the start of each complete
    read, kept in its own watermarks), so its private state never travels through the orchestrators.
    """
    finished = FinishConnection.from_json(request)
    with connect() as conn, conn.transaction():
        connection = get_connection(conn, finished.connection_id)
        plugin = registry.get(connection.plugin)
        stored = get_watermarks(conn, connection.connection_id)
        marks = plugin.after_run(connection, finished.context,
                                 {stream: stored[stream] for stream in finished.streams if stream in stored})
        for stream, watermark in marks.items():
            set_watermark(conn, connection.connection_id, stream, watermark, finished.run_id)
        _report_allowances(conn, connection, plugin)


def _report_allowances(conn: Any, connection: Any, plugin: Any) -> None:
    """After a successful run: what the source's budgets have left and when its stored tokens expire (gauges)."""
    now = dt.datetime.now(dt.UTC)
    attributes = {"source": connection.plugin, "connection_id": connection.connection_id}
    try:
        budgets = plugin.budgets(connection, plugin.storage(conn), runs.calls_this_month(conn, connection.plugin), now)
    except ValueError:  # settings the plugin refuses: the listing warns about them; nothing to measure
        budgets = []
    for budget in budgets:
        meters.budget_remaining.set(budget.remaining, {**attributes, "budget": budget.name})
        if budget.limit:
            meters.budget_used_share.set(round(budget.used / budget.limit, 4), {**attributes, "budget": budget.name})
    info = load_info(conn, connection.connection_id)
    if info is not None:
        for token, expires in (("access", info.access_expires_at), ("refresh", info.refresh_expires_at)):
            if expires is not None:
                meters.token_days.set(round((expires - now).total_seconds() / 86400, 2), {**attributes, "token": token})
