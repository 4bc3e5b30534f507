"""The example source through the plugin boundary: found only through the registry's setting, its settings,
plan, responses, table, migration, metric catalog and dashboard, each where the rest of the app looks for it."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from grafana.dashboards import all_dashboards
from plugins import registry
from shared.core.http import Response
from shared.db.connections import Connection
from shared.db.loader import COMMON_HEAD, COMMON_TAIL
from shared.db.migrate import migrate
from shared.metrics.registry import watch_sql
from tests.third_source import PLUGIN, tables
from tests.third_source.conftest import MODULE
from tests.third_source.plugin import _classify
from tests.third_source.simulator import HelpdeskState

GOOD = {"base_url": "http://127.0.0.1:1", "api_token_secret": "helpdesk-token"}


def connection(**config) -> Connection:
    return Connection("helpdesk-unit", "helpdesk", "Helpdesk", config)


def test_it_is_installed_by_the_registry_setting_alone_after_the_built_in_plugins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(registry.EXTRA_SETTING, raising=False)
    assert "helpdesk" not in registry.names()
    monkeypatch.setenv(registry.EXTRA_SETTING, MODULE)
    assert registry.names()[-1] == "helpdesk" and registry.get("helpdesk") is PLUGIN
    assert registry.migration_folders()[-1] == ("helpdesk", PLUGIN.migrations)
    assert list(registry.metric_catalogs())[-1] == "helpdesk"


@pytest.mark.parametrize(("config", "message"), [
    ({"api_token_secret": "s"}, "set base_url"),
    ({"base_url": "http://x"}, "set api_token_secret"),
    ({**GOOD, "page_size": 501}, "page_size must be a whole number from 1 to 500"),
    ({**GOOD, "page_size": "many"}, "page_size must be a whole number"),
])
def test_a_bad_setting_refuses_the_run_saying_what_to_fix(config, message, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HELPDESK_BASE_URL", raising=False)
    plan = PLUGIN.plan(connection(**config), "full", {}, 0)
    assert plan.streams == [] and message in plan.refused


def test_a_complete_read_sweeps_deletes_and_an_incremental_one_starts_at_the_watermark():
    full = PLUGIN.plan(connection(**GOOD), "full", {"tickets": {"since": "2026-03-01T00:00:00Z", "seen": []}}, 0)
    assert [(p.stream, p.sweep, p.cursor["since"]) for p in full.streams] == [("tickets", True, None)]
    first = PLUGIN.plan(connection(**GOOD), "incremental", {}, 0)
    assert [(p.stream, p.sweep) for p in first.streams] == [("tickets", True)]  # no watermark yet: complete
    mark = {"since": "2026-03-01T00:00:00Z", "seen": ["3"]}
    later = PLUGIN.plan(connection(**GOOD), "incremental", {"tickets": mark}, 0)
    assert [(p.stream, p.sweep, p.cursor["since"], p.cursor["seen"]) for p in later.streams] == [
        ("tickets", False, mark["since"], ["3"])]


def test_a_throttle_waits_as_long_as_retry_after_says_and_a_refused_token_names_its_secret_only():
    throttled = _classify(Response(429, {"Retry-After": "45"}, b""), "helpdesk-token")
    assert (throttled.kind, throttled.retry_after) == ("throttle", 45.0)
    refused = _classify(Response(401, {}, b'{"error": "invalid token"}'), "helpdesk-token")
    assert refused.kind == "fail" and "secret helpdesk-token" in refused.message
    assert _classify(Response(503, {}, b""), "s").kind == "retry"


def test_a_ticket_and_its_tombstone_load_into_the_typed_columns_in_the_tables_order():
    raw = PLUGIN.to_raw("tickets", {"id": 5, "title": "Broken", "status": "open", "amount": "12.50",
                                    "created_at": "2026-02-01T09:00:00Z", "updated_at": "2026-02-02T09:00:00Z"})
    assert [c.name for c in PLUGIN.table("tickets").columns] == ["title", "status", "amount"]
    assert (raw.id, raw.typed, raw.deleted) == ("5", ("Broken", "open", tables.as_money("12.50")), False)
    gone = PLUGIN.to_raw("tickets", {"id": 5, "deleted": True, "updated_at": "2026-02-03T09:00:00Z"})
    assert gone.deleted and gone.created_at is None
    with pytest.raises(ValueError, match="without an id"):
        PLUGIN.to_raw("tickets", {"title": "no id", "updated_at": "2026-02-03T09:00:00Z"})


def test_its_migration_creates_the_columns_the_table_declares_and_the_triggers_its_metrics_need(
        pg_dsn: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(registry.EXTRA_SETTING, MODULE)
    migration = (PLUGIN.migrations / "0001_helpdesk_tickets.sql").read_text()
    assert watch_sql(registry.metric_catalogs(), tables.TABLE) in migration
    with psycopg.connect(pg_dsn) as conn:
        migrate(conn, registry.migration_folders())  # the deploy step (python -m plugins.migrate_cli) once it is added
        columns = [name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (tables.TABLE,))]
    declared = [c.name for c in (*COMMON_HEAD, *tables.TICKETS.columns, *COMMON_TAIL)]
    assert columns == [*declared, "loaded_at"]


def test_its_dashboard_is_rendered_with_the_others_and_its_call_quota_is_a_budget(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(registry.EXTRA_SETTING, MODULE)
    dashboards = all_dashboards()
    support = dashboards["support-helpdesk.json"]
    assert "WHERE plugin = 'helpdesk'" in support["templating"]["list"][0]["query"]
    assert len(support["panels"]) == 4  # two totals, then each metric per status
    # Sync health reads budgets from what the planner recorded (budget_state), never from constants ...
    assert "100000" not in json.dumps(dashboards["sync-health.json"])
    # ... and declaring monthly_call_quota is enough to have a monthly budget the planner records.
    now = dt.datetime(2026, 12, 2, 21, 0, tzinfo=dt.UTC)
    [budget] = registry.get("helpdesk").budgets(connection(**GOOD), None, 1234, now)
    assert (budget.name, budget.used, budget.limit, budget.holder) == ("calls_this_month", 1234, 100_000, "")
    assert budget.resets_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_the_simulator_pages_by_keyset_so_a_ticket_changed_mid_read_is_neither_skipped_nor_shifted():
    state = HelpdeskState.generate(tickets=10, token="t")
    first = state.page({"page_size": "4"})
    state.update(first["tickets"][0]["id"], status="solved")  # moves behind the read
    rest, token = [], first["next_page_token"]
    while token:
        page = state.page({"page_size": "4", "page_token": token})
        rest += page["tickets"]
        token = page["next_page_token"]
    ids = [t["id"] for t in first["tickets"] + rest]
    assert sorted(set(ids)) == sorted(state.tickets) and len(ids) == 11  # every ticket, the changed one twice
