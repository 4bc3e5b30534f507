"""Activities that ask a connection's plugin what to read (plan_streams) and, once every stream succeeded, what
to remember from the run (finish_connection)."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

from activities import budgeting, plan_shards
from plugins import registry
from shared.budgets import forecast
from shared.budgets.planner import SCHEDULED
from shared.core import meters
from shared.core.backfill import MODE as BACKFILL
from shared.core.messages import FinishConnection, PlanRequest, PlanResult
from shared.db import leases, runs
from shared.db.connections import get_connection
from shared.db.pool import lend
from shared.db.watermarks import get_watermarks, set_watermark
from shared.tokens.store import load_info


def plan_streams(request: dict[str, Any]) -> dict[str, Any]:
    """The plugin's plan for one connection: its streams and where each starts, or why it must not run."""
    asked = PlanRequest.from_json(request)
    with lend() as conn, conn.transaction():
        connection = get_connection(conn, asked.connection_id)
        plugin = registry.get(connection.plugin)
        if (asked.since or asked.mode == BACKFILL) and not _declares(plugin.plan, "since"):
            return PlanResult(refused=f"the {connection.plugin} plugin cannot backfill from a date (its plan takes no "
                                      "`since`): run a full sync of this connection instead").to_json()
        # Only a run that names changes or a start date hands them on, so a plugin that takes neither still plans;
        # hints a plugin does not take are dropped: its normal incremental run covers them.
        focus = {key: value for key, value in (("changed", asked.changed), ("since", asked.since))
                 if value and _declares(plugin.plan, key)}
        if asked.changed and "changed" not in focus and asked.phase == 0:
            runs.add_notes(conn, asked.run_id, connection.connection_id,
                           [f"{connection.plugin} does not narrow a run to what changed: every stream was planned"])
        # The budget planner first: a run that would run a budget out is refused, a scheduled one may be skipped.
        gate = budgeting.decide(conn, plugin, connection, asked.run_id, asked.phase)
        if gate.stops:
            leases.renew(conn, connection.connection_id, asked.run_id)
            refused, skipped = (gate.reason, None) if gate.action == "refuse" else (None, gate.reason)
            return PlanResult(refused=refused, skipped=skipped).to_json()
        plan = plugin.plan(connection, asked.mode, get_watermarks(conn, connection.connection_id),
                           runs.calls_this_month(conn, connection.plugin, _meter(plugin, connection)), asked.phase,
                           failed=_failed(conn, asked), store=plugin.storage(conn), **focus)
        plan = budgeting.apply(conn, plugin, connection, asked.run_id, gate, plan)
        for stream_plan in plan.streams:
            runs.begin_stream(conn, asked.run_id, connection.connection_id, stream_plan.stream)
        runs.add_notes(conn, asked.run_id, connection.connection_id, plan.notes)
        # Landed before the commit: a planning that fails to land its shards records no stream either.
        sharded = plan_shards.store_plan(asked.run_id, connection.connection_id, asked.phase, plan.streams)
        leases.renew(conn, connection.connection_id, asked.run_id)
    if sharded is not None:
        return PlanResult([], plan.context, plan.refused, plan.next_phase, sharded=sharded).to_json()
    return PlanResult(plan.streams, plan.context, plan.refused, plan.next_phase).to_json()


def _failed(conn: Any, asked: PlanRequest) -> dict[str, str]:
    """The streams of earlier phases that failed, with why: those the orchestrator names, and those of a sharded
    phase it only counted (the audit has them all)."""
    if asked.phase == 0:
        return asked.failed
    recorded = runs.ended_streams(conn, asked.run_id, asked.connection_id, "failed")
    return {**asked.failed, **{stream: error or "no reason given" for stream, error in recorded.items()
                               if stream not in asked.failed}}


def _declares(function: Callable[..., Any], name: str) -> bool:
    """Whether `function` names the keyword `name`. A **kwargs catch-all does not count: a plan that takes any keyword
    has not said it understands this one, and a plugin that read mode "backfill" as a complete read would sweep."""
    parameter = inspect.signature(function).parameters.get(name)
    return parameter is not None and parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)


def _meter(plugin: Any, connection: Any) -> str | None:
    """Who meters the connection's calls; None (the whole plugin) while its settings are refused."""
    try:
        return plugin.meter(connection)
    except ValueError:
        return None


def finish_connection(request: dict[str, Any]) -> None:
    """After every stream of a connection succeeded: store the watermarks the plugin derives from the run.

    The plugin is offered what this run's streams stored (e.g. a source's clock at the start of each complete
    read, kept in its own watermarks), so its private state never travels through the orchestrators.
    """
    finished = FinishConnection.from_json(request)
    with lend() as conn, conn.transaction():
        connection = get_connection(conn, finished.connection_id)
        plugin = registry.get(connection.plugin)
        stored = get_watermarks(conn, connection.connection_id)
        streams = list(finished.streams)
        if finished.streams_in_audit:
            streams += runs.ended_streams(conn, finished.run_id, finished.connection_id, "succeeded")
        marks = plugin.after_run(connection, finished.context,
                                 {stream: stored[stream] for stream in streams if stream in stored})
        for stream, watermark in marks.items():
            set_watermark(conn, connection.connection_id, stream, watermark, finished.run_id)
        _report_allowances(conn, connection, plugin)


def _report_allowances(conn: Any, connection: Any, plugin: Any) -> None:
    """After a successful run: what the source's budgets have left and when its stored tokens expire (gauges)."""
    now = dt.datetime.now(dt.UTC)
    attributes = {"source": connection.plugin, "connection_id": connection.connection_id}
    try:
        forecasts = forecast.forecast(conn, plugin, connection, now, SCHEDULED)
    except ValueError:  # settings the plugin refuses: the listing warns about them; nothing to measure
        forecasts = []
    forecast.record_state(conn, plugin, forecasts)
    budgets = [f.budget for f in forecasts]
    for budget in budgets:
        meters.budget_remaining.set(budget.remaining, {**attributes, "budget": budget.name})
        if budget.limit:
            meters.budget_used_share.set(round(budget.used / budget.limit, 4), {**attributes, "budget": budget.name})
    info = load_info(conn, connection.connection_id)
    if info is not None:
        for token, expires in (("access", info.access_expires_at), ("refresh", info.refresh_expires_at)):
            if expires is not None:
                meters.token_days.set(round((expires - now).total_seconds() / 86400, 2), {**attributes, "token": token})
