"""The planner fed from the database: a connection's budgets as its plugin measures them, the recent runs of every
connection that shares them, and the timer's schedule, turned into an outlook and a decision per budget.

Used by the plan_streams activity (before each run) and the API (what is projected now). A plugin is reached only
through the protocol's hooks (budgets, meter, deferrable, storage), so this module names no source.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from shared.budgets.ncrontab import parse
from shared.budgets.planner import DEFAULT_WINDOW, Allowance, Decision, RunCost, decide, summarize
from shared.db import budgets as store
from shared.db.connections import Connection, connections_in_scope
from shared.db.runs import calls_this_month

log = logging.getLogger(__name__)
SCHEDULE_SETTING = "SYNC_SCHEDULE"


class MeteredSource(Protocol):
    """What the planner asks of a plugin (plugins.base.SourcePlugin has all of it)."""

    name: str

    def storage(self, db: psycopg.Connection) -> Any: ...

    def budgets(self, connection: Connection, store: Any, calls_this_month: int, now: dt.datetime) -> list[Any]: ...

    def meter(self, connection: Connection) -> str: ...

    def deferrable(self, stream: str) -> bool: ...


@dataclass(frozen=True)
class Forecast:
    """One budget of a connection, measured now, with what the planner would decide for a run of `trigger`."""

    budget: Any  # plugins.base.Budget
    decision: Decision
    sharing: tuple[str, ...]  # the connections that spend it
    holder: str  # who owns it (the budget's holder, else the plugin)


def schedule() -> str | None:
    """SYNC_SCHEDULE when it is a schedule this planner reads; None (no scheduled runs projected) otherwise."""
    expression = os.environ.get(SCHEDULE_SETTING, "").strip()
    if not expression:
        return None
    try:
        parse(expression)
    except ValueError as exc:
        log.warning("%s is not read by the budget planner (%s): scheduled runs are not projected",
                    SCHEDULE_SETTING, exc)
        return None
    return expression


def holder_of(plugin: MeteredSource, budget: Any) -> str:
    """Who owns a budget: its holder, or the plugin as a whole when it names none."""
    return budget.holder or plugin.name


def _allowance(budget: Any, holder: str) -> Allowance:
    return Allowance(budget.name, holder, budget.used, budget.limit, budget.allowance, budget.resets_at)


def sharing(conn: psycopg.Connection, plugin: MeteredSource, connection: Connection) -> tuple[str, ...]:
    """The enabled connections of the plugin metered like this one (itself included), by id."""
    meter = plugin.meter(connection)
    ids = {connection.connection_id}
    for other in connections_in_scope(conn, "all"):
        if other.plugin != plugin.name or other.connection_id in ids:
            continue
        try:
            if plugin.meter(other) == meter:
                ids.add(other.connection_id)
        except (ValueError, KeyError):  # settings the plugin refuses: that connection cannot sync anyway
            continue
    return tuple(sorted(ids))


def history(conn: psycopg.Connection, plugin: MeteredSource, connection_ids: tuple[str, ...], now: dt.datetime,
            window: dt.timedelta = DEFAULT_WINDOW) -> list[RunCost]:
    """What each recent run spent, split by the plugin's word on which streams are deferrable."""
    runs: dict[str, dict[str, Any]] = {}
    for spend in store.recent_spend(conn, connection_ids, now - window):
        run = runs.setdefault(spend.run_id, {"started_at": spend.started_at, "trigger": spend.trigger,
                                             "essential": 0, "deferrable": 0})
        run["deferrable" if spend.stream and plugin.deferrable(spend.stream) else "essential"] += spend.calls
    return [RunCost(**run) for run in runs.values()]


def measure(conn: psycopg.Connection, plugin: MeteredSource, connection: Connection, now: dt.datetime) -> list[Any]:
    """The connection's budgets as its plugin measures them now (ValueError: settings to fix)."""
    used = calls_this_month(conn, plugin.name, plugin.meter(connection))
    return plugin.budgets(connection, plugin.storage(conn), used, now)


def forecast(conn: psycopg.Connection, plugin: MeteredSource, connection: Connection, now: dt.datetime,
             trigger: str) -> list[Forecast]:
    """Each budget of the connection projected to its reset, with the decision for a run of `trigger` now."""
    measured = measure(conn, plugin, connection, now)
    if not measured:
        return []
    ids = sharing(conn, plugin, connection)
    rates = summarize(history(conn, plugin, ids, now), now)
    expression = schedule()
    forecasts = []
    for budget in measured:
        holder = holder_of(plugin, budget)
        decision = decide(_allowance(budget, holder), rates, now, expression, trigger,
                          budget.remedy or "make SYNC_SCHEDULE less frequent")
        forecasts.append(Forecast(budget, decision, ids, holder))
    return forecasts


def record_state(conn: psycopg.Connection, plugin: MeteredSource, forecasts: list[Forecast]) -> None:
    for item in forecasts:
        budget = item.budget
        store.save_state(conn, plugin.name, item.holder, budget.name, used=budget.used,
                         quota=budget.limit, allowance=budget.allowance, resets_at=budget.resets_at,
                         projected=item.decision.outlook.projected, shared_by=budget.shared_by)
