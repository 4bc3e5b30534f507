"""The connections routes on the real app and a real PostgreSQL: listing with health, tokens and budgets; create,
change, reconnect, reconciliation; allow-lists; API tokens stored encrypted and never returned or logged."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import os
import uuid
from decimal import Decimal

import aiohttp
import psycopg
import pytest

from api.auth.principal import CONNECTIONS_ADMIN, METRICS_READ
from plugins import registry
from shared.db.connections import Connection, upsert_connection
from shared.db.runs import calls_this_month, count_api_calls
from shared.tokens.connection_secrets import load_secret
from shared.tokens.crypto import Keyring
from shared.tokens.store import TokenSet, save_consent

TOKEN = "eyJhbGciOiJIUzI1NiJ9.monday-route-test-token.c2lnbmF0dXJl"


@pytest.fixture
def key(monkeypatch) -> Keyring:
    raw = os.urandom(32)
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", base64.b64encode(raw).decode())
    return Keyring.from_keys(raw)


def new_id(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def add(db: psycopg.Connection, plugin: str, config: dict, *, cid: str | None = None, enabled: bool = True) -> str:
    cid = cid or new_id(plugin[:3])
    upsert_connection(db, Connection(cid, plugin, f"Test {cid}", config), enabled=enabled)
    db.commit()
    return cid


def qbo(db: psycopg.Connection, **extra) -> str:
    cid = new_id("qui")
    return add(db, "quickbooks", {"realm_id": "123", "access_token_secret": f"conn-{cid}-token", **extra}, cid=cid)


def monday(db: psycopg.Connection, **extra) -> str:
    cid = new_id("mon")
    return add(db, "monday", {"api_token_secret": f"conn-{cid}-token", "plan": "pro", **extra}, cid=cid)


def audit_rows(db: psycopg.Connection, target: str) -> list[tuple]:
    return db.execute("SELECT actor, action, details FROM audit_log WHERE target = %s ORDER BY id",
                      (target,)).fetchall()


# -- listing ------------------------------------------------------------------------------------------------------
def test_the_listing_shows_health_settings_without_secret_names_and_each_sources_budget(as_caller, db):
    books, board = qbo(db), monday(db, account_id="acct-route-test")
    app = registry.get("quickbooks").meter(Connection(books, "quickbooks", "", {}))  # the app-wide Intuit app
    count_api_calls(db, books, "quickbooks", 42, app)
    db.execute("INSERT INTO monday_api_calls_daily (account_key, day, calls) "
               "VALUES ('acct-route-test', (now() AT TIME ZONE 'UTC')::date, 7)")
    db.commit()
    month_calls = calls_this_month(db, "quickbooks", app)

    answer = as_caller(METRICS_READ).get("/api/connections")

    assert answer.status_code == 200
    listed = {c["connection_id"]: c for c in answer.json()["connections"]}
    today = dt.datetime.now(dt.UTC).date()
    first_next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    books_view, board_view = listed[books], listed[board]
    assert books_view["health"] == {"status": "ok", "reason": None, "changed_at": None, "enabled": True}
    assert books_view["settings"] == {"realm_id": "123"}  # access_token_secret names a secret: left out
    [books_budget] = books_view["budgets"]
    assert {k: v for k, v in books_budget.items() if k not in ("holder", "projected_at_reset")} == {
        "name": "calls_this_month", "used": month_calls, "limit": 500_000, "remaining": 500_000 - month_calls,
        "resets_at": f"{first_next_month.isoformat()}T00:00:00Z", "allowance": 450_000,
        "shared_by": "every QuickBooks connection through the app-wide Intuit app",
        "connection_calls_this_month": 42, "held_back": []}
    assert books_budget["holder"].startswith("intuit-app:")
    assert month_calls >= 42
    assert board_view["settings"] == {"plan": "pro", "account_id": "acct-route-test"}
    assert board_view["budgets"] == [{"name": "calls_today", "used": 7, "limit": 10_000, "remaining": 9_993,
                                      "resets_at": f"{(today + dt.timedelta(days=1)).isoformat()}T00:00:00Z",
                                      "shared_by": "every connection to monday account acct-route-test",
                                      "holder": "monday-account:acct-route-test", "allowance": 9_000,
                                      "projected_at_reset": None, "connection_calls_this_month": 0,
                                      "held_back": []}]
    # These two connections' views whole; every listed connection's settings by their names (the listing also holds
    # whatever connections other tests left in the database, whose ids may say "secret").
    assert "secret" not in json.dumps([books_view, board_view])
    assert not [name for view in listed.values() for name in view["settings"] if "secret" in name]


def test_oauth_token_dates_are_listed_and_a_missing_consent_is_a_warning(as_caller, db, key):
    consented, waiting = (add(db, "quickbooks", {"realm_id": "9", "auth": "oauth"}) for _ in range(2))
    expires = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    save_consent(db, consented, TokenSet("access-xyz", "refresh-xyz", expires, expires + dt.timedelta(days=100)),
                 key)
    db.commit()
    listed = {c["connection_id"]: c for c in as_caller(METRICS_READ).get("/api/connections").json()["connections"]}
    assert listed[consented]["oauth"]["access_expires_at"] == "2031-01-01T00:00:00Z"
    assert listed[consented]["oauth"]["refresh_count"] == 0
    assert "access-xyz" not in str(listed[consented])
    assert listed[waiting]["oauth"] is None
    assert "No OAuth tokens are stored: connect this account" in listed[waiting]["warnings"]


def test_broken_settings_are_a_warning_not_an_error(as_caller, db):
    broken = monday(db, plan="gold")
    answer = as_caller(METRICS_READ).get(f"/api/connections/{broken}")
    assert answer.status_code == 200
    assert answer.json()["budgets"] == []
    assert any("plan must be one of" in w for w in answer.json()["warnings"])


def test_an_allow_list_filters_the_listing_and_refuses_direct_access(as_caller, db):
    mine, other = qbo(db), qbo(db)
    caller = as_caller(METRICS_READ, connections=(mine,))
    assert [c["connection_id"] for c in caller.get("/api/connections").json()["connections"]] == [mine]
    assert caller.get(f"/api/connections/{mine}").status_code == 200
    refused = caller.get(f"/api/connections/{other}")
    assert refused.status_code == 403 and refused.json()["code"] == "connection_forbidden"
    assert caller.get(f"/api/connections/{other}/reconciliation").json()["code"] == "connection_forbidden"


@pytest.mark.parametrize("ident", ["no-such-connection", "zz9"])
def test_an_unknown_connection_is_404_everywhere(as_caller, ident):
    caller = as_caller()
    for path in (f"/api/connections/{ident}", f"/api/connections/{ident}/reconnect-url",
                 f"/api/connections/{ident}/reconciliation"):
        answer = caller.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "connection_not_found", path
    answer = caller.patch(f"/api/connections/{ident}", json={"enabled": False})
    assert answer.status_code == 404 and answer.json()["code"] == "connection_not_found"


@pytest.mark.parametrize("ident", ["acme%0A", "Acme", "-acme", "a" * 64, "acme%00", "%F0%9F%98%80"])
def test_malformed_connection_ids_are_422_never_500(as_caller, ident):
    answer = as_caller().get(f"/api/connections/{ident}")
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"


def test_a_trailing_newline_does_not_reach_an_existing_connection(as_caller, db):
    cid = qbo(db)
    assert as_caller().get(f"/api/connections/{cid}%0A").status_code == 422


# -- creating and changing ----------------------------------------------------------------------------------------
def test_creating_a_connection_with_an_api_token_stores_it_encrypted_and_never_returns_or_logs_it(
        as_caller, db, key, caplog):
    cid = new_id("mon")
    caplog.set_level(logging.DEBUG)
    answer = as_caller(CONNECTIONS_ADMIN).post("/api/connections", json={
        "connection_id": cid, "plugin": "monday", "display_name": "Sales board", "settings": {"plan": "pro"},
        "api_token": TOKEN})

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["connection_id"] == cid and body["display_name"] == "Sales board"
    assert body["stored_credentials"] == ["api_token"] and body["settings"] == {"plan": "pro"}
    assert TOKEN not in answer.text and TOKEN not in caplog.text
    sealed = db.execute("SELECT secret_enc, key_id FROM connection_secrets WHERE connection_id = %s",
                        (cid,)).fetchone()
    assert TOKEN.encode() not in bytes(sealed[0]) and sealed[1] == key.current_id
    assert load_secret(db, cid, "api_token", key) == TOKEN
    config = db.execute("SELECT config FROM connections WHERE connection_id = %s", (cid,)).fetchone()[0]
    assert config == {"plan": "pro", "api_token_stored": True}
    [(actor, action, details)] = audit_rows(db, cid)
    assert actor.startswith("key:") and action == "connection.created"
    assert details["credentials_set"] == ["api_token"] and TOKEN not in str(details)
    assert TOKEN not in as_caller(METRICS_READ).get("/api/connections").text


def test_the_monday_plugin_calls_with_the_stored_token(db, key):
    cid = new_id("mon")
    upsert_connection(db, Connection(cid, "monday", cid, {"api_token_stored": True}))
    from shared.tokens.connection_secrets import save_secret
    save_secret(db, cid, "api_token", TOKEN, key)
    db.commit()
    plugin = registry.get("monday")

    async def opened_headers() -> dict[str, str]:
        async with aiohttp.ClientSession() as session:
            connection = Connection(cid, "monday", cid, {"api_token_stored": True})
            await plugin.open_api(connection, session, store=plugin.storage(db))
            return dict(session.headers)

    assert asyncio.run(opened_headers())["Authorization"] == TOKEN


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"plugin": "nosuch", "settings": {}}, 422, "unknown_plugin"),
    ({"plugin": "monday", "settings": {"plan": "pro"}}, 422, "invalid_settings"),  # neither token nor secret
    ({"plugin": "monday", "settings": {"api_token_secret": "s", "plan": "gold"}}, 422, "invalid_settings"),
    ({"plugin": "monday", "settings": {"api_token_secret": "s", "item_page_size": [1]}}, 422, "invalid_settings"),
    ({"plugin": "quickbooks", "settings": {"realm_id": "12"}, "api_token": "abc"}, 422, "credential_not_supported"),
    ({"plugin": "quickbooks", "settings": {"realm_id": "x1"}}, 422, "invalid_settings"),
    ({"plugin": "quickbooks", "settings": {"note": "nul\u0000"}}, 422, "invalid_input"),
    ({"plugin": "quickbooks", "settings": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, 422, "invalid_input"),
    ({"plugin": "quickbooks", "display_name": "bell\u0007"}, 422, "invalid_input"),
    ({"plugin": "quickbooks", "connection_id": "acme\n"}, 422, "invalid_input"),
    ({"plugin": "quickbooks", "surprise": 1}, 422, "invalid_input"),
    ({"plugin": "monday", "settings": {"plan": "pro"}, "api_token": "has space"}, 422, "invalid_input"),
])
def test_creating_refuses_what_cannot_work(as_caller, key, body, status, code):
    full = {"connection_id": new_id(), "display_name": "X", **body}
    answer = as_caller(CONNECTIONS_ADMIN).post("/api/connections", json=full)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text


def test_creating_a_taken_id_is_409_and_changes_nothing(as_caller, db):
    cid = qbo(db)
    answer = as_caller(CONNECTIONS_ADMIN).post("/api/connections", json={
        "connection_id": cid, "plugin": "quickbooks", "display_name": "Other", "settings": {"realm_id": "5"}})
    assert answer.status_code == 409 and answer.json()["code"] == "connection_exists"
    assert db.execute("SELECT display_name FROM connections WHERE connection_id = %s", (cid,)).fetchone() == (
        f"Test {cid}",)


def test_reading_scopes_cannot_create_or_change(as_caller, db):
    cid = qbo(db)
    reader = as_caller(METRICS_READ)
    assert reader.post("/api/connections", json={"connection_id": new_id(), "plugin": "quickbooks",
                                                 "display_name": "X"}).status_code == 403
    assert reader.patch(f"/api/connections/{cid}", json={"enabled": False}).status_code == 403
    assert reader.get(f"/api/connections/{cid}/reconnect-url").status_code == 403


def test_disabling_renaming_and_rotating_the_token_are_audited(as_caller, db, key):
    cid = new_id("mon")
    admin = as_caller(CONNECTIONS_ADMIN)
    assert admin.post("/api/connections", json={"connection_id": cid, "plugin": "monday", "display_name": "A",
                                                "settings": {"plan": "pro"}, "api_token": TOKEN}).status_code == 201

    disabled = admin.patch(f"/api/connections/{cid}", json={"enabled": False, "display_name": "B"})
    assert disabled.status_code == 200
    assert disabled.json()["health"]["enabled"] is False and disabled.json()["display_name"] == "B"

    rotated = admin.patch(f"/api/connections/{cid}", json={"api_token": TOKEN + "-2",
                                                          "settings": {"plan": "enterprise"}})
    assert rotated.status_code == 200 and TOKEN not in rotated.text
    assert load_secret(db, cid, "api_token", key) == TOKEN + "-2"
    config = db.execute("SELECT config FROM connections WHERE connection_id = %s", (cid,)).fetchone()[0]
    assert config == {"plan": "enterprise", "api_token_stored": True}  # the flag survives a settings change

    unflagged = admin.patch(f"/api/connections/{cid}", json={"settings": {"plan": "pro", "api_token_stored": False}})
    assert unflagged.status_code == 200  # callers cannot unset the flag while a token is stored
    assert db.execute("SELECT config FROM connections WHERE connection_id = %s", (cid,)).fetchone()[0] == {
        "plan": "pro", "api_token_stored": True}

    actions = [(action, details) for _, action, details in audit_rows(db, cid)]
    assert actions[0][0] == "connection.created"
    assert actions[1] == ("connection.changed", {"fields": ["display_name", "enabled"], "enabled": False})
    assert actions[2] == ("connection.changed", {"fields": ["api_token", "settings"]})
    assert TOKEN not in str(actions)


def test_changing_settings_to_something_the_plugin_refuses_is_422_and_changes_nothing(as_caller, db):
    cid = monday(db)
    answer = as_caller(CONNECTIONS_ADMIN).patch(f"/api/connections/{cid}", json={"settings": {"plan": "pro"}})
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_settings"
    assert "api_token_secret" in answer.json()["detail"]
    assert db.execute("SELECT config->>'api_token_secret' FROM connections WHERE connection_id = %s",
                      (cid,)).fetchone() == (f"conn-{cid}-token",)
    assert audit_rows(db, cid) == []


# -- reconnecting and reconciling ---------------------------------------------------------------------------------
def test_the_reconnect_link_of_an_oauth_source_and_409_for_others(as_caller, db):
    books, board = qbo(db), monday(db)
    admin = as_caller(CONNECTIONS_ADMIN)
    answer = admin.get(f"/api/connections/{books}/reconnect-url")
    assert answer.status_code == 200
    assert answer.json() == {
        "connection_id": books,
        "url": f"/api/connections/quickbooks/authorize?connection_id={books}&environment=production"}
    refused = admin.get(f"/api/connections/{board}/reconnect-url")
    assert refused.status_code == 409 and refused.json()["code"] == "not_oauth"


def test_the_reconciliation_compares_metrics_with_the_reported_profit_and_loss(as_caller, db):
    cid, march = qbo(db), dt.date(2026, 3, 1)
    db.execute("""INSERT INTO qbo_report (connection_id, id, updated_at, report, basis, window_start, window_end,
                                          report_filter, payload, run_id)
                  VALUES (%s, 'r1', now(), 'ProfitAndLoss', 'Accrual', '2026-01-01', '2026-06-30', '', '{}', 'r')""",
               (cid,))
    db.execute("""INSERT INTO qbo_report_row (connection_id, report_id, position, column_index, report, basis,
                      period_start, period_end, column_key, section_path, row_kind, row_group, value)
                  VALUES (%s, 'r1', 1, 3, 'ProfitAndLoss', 'Accrual', '2026-03-01', '2026-03-31', 'Mar 2026',
                          'Income > Total Income', 'Summary', 'Income', 990.00)""", (cid,))
    db.execute("""INSERT INTO metric_points (connection_id, metric, grain, bucket, bucket_end, value, count, total)
                  VALUES (%s, 'qbo.net_revenue', 'month', %s, '2026-04-01', 1000.00, 1, 1000.00)""", (cid, march))
    db.commit()
    answer = as_caller(METRICS_READ).get(f"/api/connections/{cid}/reconciliation")
    assert answer.status_code == 200
    assert answer.json() == {"connection_id": cid, "lines": [
        {"month": "2026-03-01", "measure": "revenue", "computed": "1000.00", "reported": "990.00",
         "difference": "10.00"}]}
    assert Decimal(answer.json()["lines"][0]["difference"]) == Decimal("10")


def test_a_source_without_a_report_to_reconcile_is_409(as_caller, db):
    answer = as_caller(METRICS_READ).get(f"/api/connections/{monday(db)}/reconciliation")
    assert answer.status_code == 409 and answer.json()["code"] == "not_supported"


def test_a_refused_change_keeps_the_previous_token(as_caller, db, key):
    cid = new_id("mon")
    admin = as_caller(CONNECTIONS_ADMIN)
    admin.post("/api/connections", json={"connection_id": cid, "plugin": "monday", "display_name": "A",
                                         "settings": {"plan": "pro"}, "api_token": TOKEN})
    refused = admin.patch(f"/api/connections/{cid}", json={"api_token": "other-token", "settings": {"plan": "gold"}})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_settings"
    assert load_secret(db, cid, "api_token", key) == TOKEN


def test_the_listing_counts_stored_secrets_per_encryption_key_for_unrestricted_callers(as_caller, db, key):
    consented = add(db, "quickbooks", {"realm_id": "9", "auth": "oauth"})
    expires = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    save_consent(db, consented, TokenSet("a", "r", expires, expires), key)
    db.commit()
    counts = as_caller(METRICS_READ).get("/api/connections").json()["sealed_with"]
    assert counts[key.current_id] >= 1
    limited = as_caller(METRICS_READ, connections=(consented,)).get("/api/connections").json()
    assert limited["sealed_with"] is None and [c["connection_id"] for c in limited["connections"]] == [consented]
