"""The budget planner around a plugin's plan (plan_streams): before a run's first phase it decides per budget (go,
defer low-priority streams, skip this scheduled run, refuse); every phase's plan then leaves out the streams a
deferring decision holds back. Decisions are recorded per run (budget_decisions, and as run notes); the budgets as
measured go to budget_state for the dashboards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg

from plugins.base import Plan, SourcePlugin
from shared.budgets import forecast
from shared.budgets.planner import Decision, strictest
from shared.core.config import int_setting
from shared.db import budgets, runs
from shared.db.connections import Connection

# A deferrable stream is deferred for at most this long: then a run reads it even while deferring, so that a busy
# budget leaves the directories and reports late, never stale for good.
MAX_DEFER_SETTING = "BIZ_DEFER_MAX_HOURS"
DEFAULT_MAX_DEFER_HOURS = 24


@dataclass
class Gate:
    """What the planner lets this run do: its action and why; `stop` is set when the run must not read at all."""

    action: str = "go"
    reason: str = ""
    decisions: list[tuple[forecast.Forecast, Decision]] = field(default_factory=list)

    @property
    def stops(self) -> bool:
        return self.action in ("skip", "refuse")


def decide(conn: psycopg.Connection, plugin: SourcePlugin, connection: Connection, run_id: str, phase: int,
           now: dt.datetime | None = None) -> Gate:
    """Phase 0: the planner's decision for this run (recorded); later phases: the one phase 0 made."""
    if phase > 0:
        earlier = budgets.run_decision(conn, run_id, connection.connection_id)
        return Gate(earlier.action, earlier.reason) if earlier else Gate()
    moment = now or dt.datetime.now(dt.UTC)
    trigger = budgets.run_trigger(conn, run_id)
    try:
        forecasts = forecast.forecast(conn, plugin, connection, moment, trigger)
    except (ValueError, TypeError):  # settings the plugin refuses: its plan says what to fix
        return Gate()
    if not forecasts:
        return Gate()
    forecast.record_state(conn, plugin, forecasts)
    binding = strictest(f.decision for f in forecasts)
    assert binding is not None
    gate = Gate(binding.action, binding.reason, [(f, f.decision) for f in forecasts])
    for item, decision in gate.decisions:
        _record(conn, plugin, connection, run_id, trigger, item, decision.action, decision.reason, [])
    if gate.stops:
        runs.add_notes(conn, run_id, connection.connection_id, [_note(gate.action, gate.reason)])
    return gate


def apply(conn: psycopg.Connection, plugin: SourcePlugin, connection: Connection, run_id: str, gate: Gate,
          plan: Plan) -> Plan:
    """The plan without the streams a deferring decision holds back; the deferral noted on the run and recorded."""
    if gate.action != "defer" or plan.refused:
        return plan
    deferrable = [s.stream for s in plan.streams if plugin.deferrable(s.stream)]
    hours = int_setting(MAX_DEFER_SETTING, DEFAULT_MAX_DEFER_HOURS, minimum=1, unit=" (hours)")
    fresh = budgets.synced_within(conn, connection.connection_id, deferrable, hours)
    held = [stream for stream in deferrable if stream in fresh]
    overdue = [stream for stream in deferrable if stream not in fresh]
    if overdue:
        plan.notes = [*plan.notes, _note("defer", f"{', '.join(overdue)} read although the budget is short: not "
                                                  f"synced in the last {hours} h ({MAX_DEFER_SETTING})")]
    if not held:
        return plan
    plan.streams = [s for s in plan.streams if s.stream not in set(held)]
    plan.notes = [*plan.notes, _note("defer", f"{', '.join(held)} deferred: {gate.reason}")]
    budgets.add_deferred(conn, run_id, connection.connection_id, held)
    return plan


def _record(conn: psycopg.Connection, plugin: SourcePlugin, connection: Connection, run_id: str, trigger: str,
            item: forecast.Forecast, action: str, reason: str, deferred: list[str]) -> None:
    budget, outlook = item.budget, item.decision.outlook
    budgets.record_decision(conn, budgets.DecisionRow(
        run_id=run_id, connection_id=connection.connection_id, budget=budget.name, plugin=plugin.name,
        holder=item.holder, trigger=trigger, action=action, deferred=deferred,
        reason=reason, used=budget.used, quota=budget.limit, allowance=budget.allowance,
        projected=outlook.projected, resets_at=budget.resets_at))


def _note(action: str, reason: str) -> str:
    words = {"defer": "budget planner", "skip": "budget planner skipped this scheduled run",
             "refuse": "budget planner refused this run"}
    return f"{words.get(action, 'budget planner')}: {reason}"
