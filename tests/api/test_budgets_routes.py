"""GET /api/budgets: each budget per Intuit app or monday account, with the connections spending it, what the planner
held back since the reset, and only what the credential may see."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from api.auth.principal import METRICS_READ
from plugins import registry
from shared.core.secrets import env_name
from shared.db.budgets import DecisionRow, record_decision
from shared.db.connections import Connection, upsert_connection
from shared.db.runs import calls_this_month, count_api_calls


def add(db: psycopg.Connection, plugin: str, cid: str, config: dict) -> Connection:
    connection = Connection(cid, plugin, f"Test {cid}", config)
    upsert_connection(db, connection)
    return connection


@pytest.fixture
def own_app(db, monkeypatch):
    """Two QuickBooks companies connected through one Intuit app of their own (each names its own secret holding the
    same client id), and one through the app-wide app."""
    tag = uuid.uuid4().hex[:8]
    made = []
    for n in ("a", "b"):
        cid = f"qbo{n}{tag}"
        monkeypatch.setenv(env_name(f"conn-{cid}-clientid"), f"own-app-{tag}")
        made.append(add(db, "quickbooks", cid, {"realm_id": "1", "access_token_secret": f"conn-{cid}-token",
                                                "client_id_secret": f"conn-{cid}-clientid"}))
    made.append(add(db, "quickbooks", f"qboc{tag}", {"realm_id": "2", "access_token_secret": f"conn-qboc{tag}-token"}))
    plugin = registry.get("quickbooks")
    for connection, calls in zip(made, (30, 12, 5), strict=True):
        count_api_calls(db, connection.connection_id, "quickbooks", calls, plugin.meter(connection))
    db.commit()
    return made


def test_budgets_are_listed_per_intuit_app_with_each_connections_calls_and_what_was_held_back(as_caller, db,
                                                                                            own_app):
    first, second, app_wide = own_app
    plugin = registry.get("quickbooks")
    app = plugin.meter(first)
    [budget] = plugin.budgets(first, None, 42, dt.datetime.now(dt.UTC))
    used = calls_this_month(db, "quickbooks", app)  # 42, and any calls counted before meters existed
    db.execute("INSERT INTO sync_runs (run_id, scope, mode, trigger) VALUES ('budget-route-run', 'all', "
               "'incremental', 'timer') ON CONFLICT DO NOTHING")
    record_decision(db, DecisionRow(
        run_id="budget-route-run", connection_id=first.connection_id, budget="calls_this_month", plugin="quickbooks",
        holder=app, trigger="timer", action="defer", deferred=["reports"], reason="projected 460,000 of 450,000",
        used=42, quota=500_000, allowance=450_000, projected=460_000, resets_at=budget.resets_at))
    db.commit()

    answer = as_caller(METRICS_READ).get("/api/budgets")

    assert answer.status_code == 200
    listed = {(b["plugin"], b["holder"]): b for b in answer.json()["budgets"]}
    own = listed[("quickbooks", app)]
    assert own["connections"] == sorted([first.connection_id, second.connection_id])
    assert own["calls_by_connection"] == {first.connection_id: 30, second.connection_id: 12}
    assert used >= 42
    assert (own["used"], own["limit"], own["allowance"], own["remaining"]) == (used, 500_000, 450_000, 450_000 - used)
    assert own["shared_by"] == "every connection through this connection's own Intuit app"
    [held] = own["held_back"]
    assert (held["connection_id"], held["action"], held["deferred"]) == (first.connection_id, "defer", ["reports"])
    assert app_wide.connection_id in listed[("quickbooks", plugin.meter(app_wide))]["connections"]
    assert "own-app-" not in answer.text  # the client id itself is never shown

    view = as_caller(METRICS_READ).get(f"/api/connections/{first.connection_id}").json()
    [per_connection] = view["budgets"]
    assert per_connection["holder"] == app and per_connection["connection_calls_this_month"] == 30
    assert per_connection["held_back"][0]["deferred"] == ["reports"]


def test_a_key_limited_to_some_connections_sees_only_their_budgets_and_calls(as_caller, own_app):
    first, second, app_wide = own_app
    answer = as_caller(METRICS_READ, connections=(first.connection_id,)).get("/api/budgets")
    assert answer.status_code == 200
    [only] = answer.json()["budgets"]
    assert only["connections"] == [first.connection_id]
    assert only["calls_by_connection"] == {first.connection_id: 30}
    assert second.connection_id not in answer.text and app_wide.connection_id not in answer.text
