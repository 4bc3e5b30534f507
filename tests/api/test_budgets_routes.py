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
from shared.db.connect import connect
from shared.db.connections import Connection, upsert_connection
from shared.db.runs import calls_this_month, count_api_calls
from shared.db.shared_budget import SharedBudgets


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


@pytest.fixture
def busy_minute(db):
    """A monday account and a QuickBooks realm (two companies' connections to it) whose workers are mid-minute: the
    account took points monday reported on and has a request in flight, the realm sent three requests."""
    tag = uuid.uuid4().hex[:8]
    realm = str(uuid.uuid4().int % 10**12)
    account = add(db, "monday", f"mon{tag}", {"api_token_secret": f"conn-mon{tag}-token", "plan": "pro",
                                              "account_id": f"acct-{tag}"})
    companies = [add(db, "quickbooks", f"qbo{n}{tag}", {"realm_id": realm,
                                                         "access_token_secret": f"conn-qbo{n}{tag}-token"})
                 for n in ("x", "y")]
    db.commit()
    monday, quickbooks = registry.get("monday"), registry.get("quickbooks")
    points_key = monday.meter(account)
    realm_key = quickbooks.live_budgets(companies[0])[0].key
    worker = connect(autocommit=True)
    shared = SharedBudgets(worker)
    ticket, _ = shared.take_points(points_key, limit=10_000_000, reserve=1_000_000, cost=3_000, window=61.45, ttl=120)
    assert ticket is not None
    shared.settle_points(points_key, ticket, after=10_000_000 - 2_500, reset_in=30)
    shared.reserve_send(points_key, [(2_250, 61.45)], max_wait=2)
    slot = shared.take_slot(points_key, 100, "worker-a", ttl=30)
    for _ in range(3):
        shared.reserve_send(realm_key, [(500, 61.45)], max_wait=2)
    yield account, companies, points_key, realm_key
    shared.free_slot(points_key, slot, "worker-a")
    worker.close()


def test_the_per_minute_budgets_are_listed_per_account_and_realm_as_the_workers_spent_them(as_caller, busy_minute):
    account, (first, second), points_key, realm_key = busy_minute
    answer = as_caller(METRICS_READ).get("/api/budgets")
    assert answer.status_code == 200
    listed = {(b["holder"], b["name"]): b for b in answer.json()["live"]}
    assert {name for holder, name in listed if holder == points_key} == {
        "complexity_per_minute", "requests_per_minute", "requests_in_flight"}
    points = listed[(points_key, "complexity_per_minute")]
    assert (points["plugin"], points["kind"], points["used"], points["limit"], points["remaining"]) == (
        "monday", "points", 2_500, 10_000_000, 10_000_000 - 2_500)
    assert points["allowance"] == 9_000_000 and points["pending"] == 0 and points["resets_at"]
    assert points["connections"] == [account.connection_id]
    requests = listed[(points_key, "requests_per_minute")]
    assert (requests["used"], requests["limit"], requests["allowance"], requests["window_seconds"]) == (
        1, 2_500, 2_250, 60.0)
    flight = listed[(points_key, "requests_in_flight")]
    assert (flight["used"], flight["limit"], flight["remaining"], flight["window_seconds"]) == (1, 100, 99, None)
    realm = listed[(realm_key, "requests_per_minute")]
    assert (realm["plugin"], realm["used"], realm["limit"], realm["remaining"]) == ("quickbooks", 3, 500, 497)
    assert realm["connections"] == sorted([first.connection_id, second.connection_id])
    assert (realm_key, "requests_in_flight") not in listed  # the realm's governor keeps no such limit
    assert listed[(realm_key, "requests_per_second")]["limit"] == 10

    view = as_caller(METRICS_READ).get(f"/api/connections/{account.connection_id}").json()
    assert {b["name"]: b["used"] for b in view["live_budgets"]} == {
        "complexity_per_minute": 2_500, "requests_per_minute": 1, "requests_in_flight": 1}


def test_a_key_limited_to_one_company_sees_only_its_realms_per_minute_budgets(as_caller, busy_minute):
    _, (first, second), points_key, realm_key = busy_minute
    answer = as_caller(METRICS_READ, connections=(first.connection_id,)).get("/api/budgets")
    assert answer.status_code == 200
    live = answer.json()["live"]
    assert {b["holder"] for b in live} == {realm_key}
    assert all(b["connections"] == [first.connection_id] for b in live)
    assert points_key not in answer.text and second.connection_id not in answer.text
