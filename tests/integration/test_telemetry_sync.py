"""The custom metrics and spans of a real sync (QuickBooks simulator, local host, PostgreSQL), read back from
in-memory OpenTelemetry readers: names, attributes and values equal to what the run recorded."""

from __future__ import annotations

import psycopg

from plugins import registry
from shared.db.connections import get_connection
from shared.db.runs import calls_this_month
from tests import otel
from tests.integration import monday_helpers
from tests.integration.helpers import CONNECTION, UNMETERED, sync


def _run_totals(pg_dsn: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT sum(fetched), sum(pages), sum(api_calls), sum(inserted), sum(updated), "
                           "sum(unchanged) FROM sync_run_streams WHERE run_id = %s", (run_id,)).fetchone()
    return dict(zip(("fetched", "pages", "api_calls", "inserted", "updated", "unchanged"),
                    (int(v or 0) for v in row), strict=True))


def test_a_sync_reports_its_records_pages_calls_load_rate_duration_budget_and_spans(host, simulator, connection,
                                                                                   pg_dsn):
    who = {"source": "quickbooks", "connection_id": CONNECTION}
    before = {name: otel.metric_sum(name, **who) for name in
              ("bizmetrics.records.fetched", "bizmetrics.api.calls", "bizmetrics.pages")}
    inserted_before = otel.metric_sum("bizmetrics.records.loaded", outcome="inserted", **who)
    otel.SPANS.clear()

    streams = sync(host, "full")
    with psycopg.connect(pg_dsn) as conn:
        (run_id,) = conn.execute("SELECT run_id FROM sync_run_streams WHERE connection_id = %s "
                                 "ORDER BY started_at DESC LIMIT 1", (CONNECTION,)).fetchone()
    totals = _run_totals(pg_dsn, run_id)
    assert totals["fetched"] > 0 and set(streams)

    assert otel.metric_sum("bizmetrics.records.fetched", **who) - before["bizmetrics.records.fetched"] \
        == totals["fetched"]
    assert otel.metric_sum("bizmetrics.api.calls", **who) - before["bizmetrics.api.calls"] == totals["api_calls"]
    assert otel.metric_sum("bizmetrics.pages", phase="loaded", **who) > 0
    assert otel.metric_sum("bizmetrics.records.loaded", outcome="inserted", **who) - inserted_before \
        == totals["inserted"]
    assert otel.metric_count("bizmetrics.load.rows_per_second", stream="Invoice", **who) >= 1
    assert otel.metric_count("bizmetrics.sync.duration", scope="connection", status="succeeded") >= 1
    with psycopg.connect(pg_dsn) as conn:
        # What the connection's Intuit app spent this month (every connection metered by it).
        used = calls_this_month(conn, "quickbooks", registry.get("quickbooks").meter(get_connection(conn, CONNECTION)))
    quota = UNMETERED["monthly_read_quota"]  # the e2e connection's own quota (tests/integration/helpers.py)
    assert otel.last_gauge("bizmetrics.budget.remaining", budget="calls_this_month", **who) == quota - used
    assert otel.last_gauge("bizmetrics.budget.used_share", budget="calls_this_month", **who) == round(used / quota, 4)

    spans = otel.SPANS.get_finished_spans()
    fetches = [s for s in spans if s.name == "fetch_pages" and s.attributes["run_id"] == run_id]
    loads = [s for s in spans if s.name == "load_pages" and s.attributes["run_id"] == run_id]
    assert fetches and loads
    assert {s.attributes["stream"] for s in fetches} == set(streams)
    assert all(s.attributes["connection_id"] == CONNECTION for s in fetches + loads)


def test_days_until_the_stored_tokens_expire_are_a_gauge(pg_dsn, monkeypatch):
    import base64
    import datetime as dt
    import os

    from activities.planning import _report_allowances
    from plugins import registry
    from shared.db.connections import Connection, upsert_connection
    from shared.tokens.crypto import Keyring
    from shared.tokens.store import TokenSet, save_consent

    raw = os.urandom(32)
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", base64.b64encode(raw).decode())
    now = dt.datetime.now(dt.UTC)
    connection = Connection("qbo-gauge", "quickbooks", "Gauge", {"realm_id": "42", "auth": "oauth"})
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, connection)
        save_consent(conn, "qbo-gauge", TokenSet("a", "r", now + dt.timedelta(hours=1), now + dt.timedelta(days=30)),
                     Keyring.from_keys(raw))
        _report_allowances(conn, connection, registry.get("quickbooks"))
    who = {"source": "quickbooks", "connection_id": "qbo-gauge"}
    assert 29.9 < otel.last_gauge("bizmetrics.token.days_to_expiry", token="refresh", **who) <= 30
    assert 0 < otel.last_gauge("bizmetrics.token.days_to_expiry", token="access", **who) <= 0.05


def test_log_records_of_a_sync_carry_the_run_connection_stream_and_instance(host, simulator, connection, caplog,
                                                                            pg_dsn):
    import logging

    caplog.set_level(logging.INFO, logger="activities")
    sync(host, "full")
    loads = [r for r in caplog.records if r.name == "activities.load" and r.getMessage().startswith("loaded ")]
    assert loads
    assert all(r.connection_id == CONNECTION and r.run_id.startswith("run-") for r in loads)
    assert {r.stream for r in loads} >= {"Customer", "Invoice"}
    # The run's orchestration instance, as the run was recorded (sync_all's id, which the API reports).
    with psycopg.connect(pg_dsn) as conn:
        recorded = dict(conn.execute("SELECT run_id, instance_id FROM sync_runs").fetchall())
    assert all(r.instance_id == recorded[r.run_id] and r.instance_id for r in loads)


monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection


def test_a_monday_sync_reports_the_complexity_budget_and_the_daily_calls(host, monday_sim, monday_connection,
                                                                        pg_dsn):
    monday_helpers.sync(host, monday_connection, "full")
    who = {"source": "monday", "connection_id": monday_connection}
    left = otel.last_gauge("bizmetrics.budget.remaining", budget="complexity_per_minute", **who)
    assert left is not None and 0 <= left <= 10_000_000  # what the simulator's last answer said was left
    assert otel.last_gauge("bizmetrics.budget.remaining", budget="calls_today", **who) is not None
