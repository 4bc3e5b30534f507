"""Budgets per holder (a developer app, an account): used, remaining, the limit, the reset, what the planner projects
at the reset and what it held back. The same figures appear per connection in GET /api/connections."""

from __future__ import annotations

import datetime as dt

import psycopg
from fastapi import APIRouter, Depends

from api.auth import Principal, requires
from api.auth.principal import METRICS_READ
from api.deps import database
from api.models.budgets import BudgetList, BudgetOut, HeldBack, HolderBudget, LiveBudgetOut
from plugins import registry
from plugins.base import SourcePlugin
from shared.budgets import forecast, live
from shared.budgets.planner import SCHEDULED
from shared.db import budgets as decisions
from shared.db.connections import Connection, connection_records
from shared.db.runs import connection_calls_this_month

router = APIRouter(prefix="/api/budgets", tags=["budgets"])


def _held_back(rows: list[decisions.DecisionRow]) -> list[HeldBack]:
    return [HeldBack(run_id=r.run_id, connection_id=r.connection_id, action=r.action, deferred=r.deferred,
                     reason=r.reason, decided_at=r.decided_at) for r in rows]


def connection_budgets(db: psycopg.Connection, plugin: SourcePlugin, connection: Connection,
                       now: dt.datetime) -> list[BudgetOut]:
    """A connection's budgets with the projection for its next scheduled run and what was held back from it since
    the last reset (ValueError / TypeError: settings to fix)."""
    own = connection_calls_this_month(db, connection.connection_id)
    out = []
    for item in forecast.forecast(db, plugin, connection, now, SCHEDULED):
        budget = item.budget
        rows = decisions.held_back(db, plugin.name, item.holder, budget.name, budget.resets_at,
                                   [connection.connection_id])
        out.append(BudgetOut(name=budget.name, used=budget.used, limit=budget.limit, remaining=budget.remaining,
                             resets_at=budget.resets_at, shared_by=budget.shared_by, holder=item.holder,
                             allowance=budget.allowance, projected_at_reset=item.decision.outlook.projected,
                             connection_calls_this_month=own, held_back=_held_back(rows)))
    return out


def _live_out(plugin: str, reading: live.LiveReading, connections: list[str]) -> LiveBudgetOut:
    budget = reading.budget
    return LiveBudgetOut(plugin=plugin, holder=budget.key, name=budget.name, kind=budget.kind, used=reading.used,
                         limit=budget.limit, remaining=reading.remaining, allowance=budget.allowance,
                         window_seconds=None if budget.kind == live.IN_FLIGHT else budget.window_seconds,
                         resets_at=reading.resets_at, pending=reading.pending, reported_at=reading.reported_at,
                         measured_at=reading.measured_at, connections=connections)


def connection_live_budgets(db: psycopg.Connection, plugin: SourcePlugin,
                            connection: Connection) -> list[LiveBudgetOut]:
    """The connection's per-minute budgets as they stand (ValueError: settings to fix)."""
    return [_live_out(plugin.name, reading, [connection.connection_id])
            for reading in live.read_all(db, plugin.live_budgets(connection))]


@router.get("", response_model=BudgetList, summary="Each metered budget per developer app or account",
            description="One entry per budget and holder (a developer app, an account) that the credential's "
                        "connections spend: used, remaining (of what syncs may spend), limit, reset time, the use "
                        "projected at the reset from the schedule, the webhook rate and recent runs, each "
                        "connection's own calls this month, and what the planner deferred, skipped or refused "
                        "since the last reset; and, under `live`, the per-minute budgets (complexity points, "
                        "requests per minute or second, requests in flight) per account or realm as every worker "
                        "shares them right now. Only enabled connections are counted.")
def list_budgets(principal: Principal = Depends(requires(METRICS_READ)),
                 db: psycopg.Connection = Depends(database)) -> BudgetList:
    now = dt.datetime.now(dt.UTC)
    found: dict[tuple[str, str, str], HolderBudget] = {}
    # The per-minute budgets: each named once per holder, with the connections (in scope) that spend it.
    per_minute: dict[tuple[str, str, str], tuple[live.LiveBudget, list[str]]] = {}
    for record in connection_records(db, principal.connections):
        connection = record.connection
        if not record.enabled:
            continue
        try:
            plugin = registry.get(connection.plugin)
            forecasts = forecast.forecast(db, plugin, connection, now, SCHEDULED)
            named = plugin.live_budgets(connection)
        except (registry.UnknownPlugin, ValueError, TypeError):  # GET /api/connections says what to fix
            continue
        for budget in named:
            per_minute.setdefault((connection.plugin, budget.key, budget.name), (budget, []))[1].append(
                connection.connection_id)
        for item in forecasts:
            budget, key = item.budget, (connection.plugin, item.holder, item.budget.name)
            entry = found.get(key)
            if entry is None:
                visible = [c for c in item.sharing if principal.connections is None or c in principal.connections]
                entry = found[key] = HolderBudget(
                    plugin=connection.plugin, holder=item.holder, name=budget.name, used=budget.used,
                    limit=budget.limit, allowance=budget.allowance,
                    remaining=max(0, budget.allowance - budget.used), resets_at=budget.resets_at,
                    projected_at_reset=item.decision.outlook.projected, shared_by=budget.shared_by,
                    connections=visible,
                    calls_by_connection={c: connection_calls_this_month(db, c) for c in visible},
                    held_back=_held_back(decisions.held_back(db, connection.plugin, item.holder, budget.name,
                                                             budget.resets_at, visible)))
    return BudgetList(budgets=[found[key] for key in sorted(found)],
                      live=[_live_out(key[0], live.read(db, budget), sorted(ids))
                            for key, (budget, ids) in sorted(per_minute.items())])
