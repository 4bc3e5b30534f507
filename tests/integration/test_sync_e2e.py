"""A sync end to end: HTTP starter -> local Durable host (real SDK replay) -> simulator -> Azurite -> PostgreSQL."""

from __future__ import annotations

import json
import re

import psycopg

from api.auth.principal import METRICS_READ
from tests.api_calls import api_key, call
from tests.integration.helpers import (
    CONNECTION,
    REALM,
    TABLES,
    assert_database_equals_simulator,
    fingerprint,
    start,
    streams_of,
    sync,
    truth,
)
from tests.metrics.oracle import home, voided


def test_full_sync_loads_every_record_and_a_second_full_sync_changes_nothing(host, simulator, connection, pg_dsn):
    state, _ = simulator
    first = sync(host, "full")
    assert_database_equals_simulator(pg_dsn, state)
    assert first["Invoice"]["inserted"] == 1100 and first["Invoice"]["status"] == "succeeded"
    assert first["Invoice"]["api_calls"] >= 3  # 1100 invoices in pages of 500
    invoiced = sum(home(r) for r in truth(state, "Invoice").values() if not voided(r))
    with psycopg.connect(pg_dsn) as conn:
        by_grain = dict(conn.execute(
            "SELECT grain, sum(value) FROM metric_points WHERE connection_id = %s "
            "AND metric = 'qbo.revenue_invoiced' AND dimension = '' GROUP BY grain", (CONNECTION,)).fetchall())
    assert by_grain == dict.fromkeys(("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year"),
                                     invoiced)
    before = fingerprint(pg_dsn)
    second = sync(host, "full")
    assert fingerprint(pg_dsn) == before
    assert all(s["inserted"] == 0 and s["updated"] == 0 for s in second.values()), second


def test_incremental_sync_fetches_only_the_changed_records(host, simulator, connection, pg_dsn):
    state, _ = simulator
    sync(host, "full")
    invoice_ids = sorted(truth(state, "Invoice"), key=int)[:3]
    for invoice_id in invoice_ids:
        state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed for the incremental test"})
    state.create(REALM, "Customer", {"DisplayName": "Brand New Customer Ltd"})
    streams = sync(host, "incremental")
    # One change-data-capture stream carries every changed entity.
    assert set(streams) == {"cdc"}
    assert streams["cdc"]["fetched"] == 4
    assert (streams["cdc"]["updated"], streams["cdc"]["inserted"]) == (3, 1)
    assert streams["cdc"]["api_calls"] == 1
    assert_database_equals_simulator(pg_dsn, state)
    again = sync(host, "incremental")
    assert sum(s["fetched"] for s in again.values()) == 0


def test_sync_survives_throttling_server_errors_timeouts_and_truncated_bodies(host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || '{\"request_timeout\": 0.5}' "
                     "WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    state.faults.hang_seconds = 2
    state.faults.inject("timeout", count=2, path_contains="/query")
    state.faults.inject("503", count=1, path_contains="/query")
    state.faults.inject("fault_in_200", count=1, path_contains="/query")
    state.faults.inject("429", count=2, path_contains="/query")
    state.faults.inject("500", count=2, path_contains="/query")
    state.faults.inject("truncated", count=1, path_contains="/query")
    state.faults.inject("429_xml", count=1, path_contains="/query")
    streams = sync(host, "full")
    assert_database_equals_simulator(pg_dsn, state)
    assert sum(s["throttle_waits"] for s in streams.values()) >= 2
    assert sum(s["inserted"] for s in streams.values()) == sum(len(truth(state, e)) for e in TABLES)


def test_long_page_loops_continue_as_new_and_still_load_everything(host, simulator, connection, pg_dsn):
    state, _ = simulator
    sync(host, "full", max_pages=1, iterations_per_execution=1)
    assert_database_equals_simulator(pg_dsn, state)


def test_a_second_start_of_a_running_scope_is_refused(host, connection):
    instance_id, _ = start(host, "full")
    response = call(host, "POST", "/api/syncs", {"connection_id": CONNECTION}, key=api_key())
    assert response.status_code == 409
    assert json.loads(response.get_body())["run_id"] == host.get_status(instance_id)["input"]["run_id"]
    host.run_until_complete(instance_id, timeout=300)


def test_sync_status_endpoint_reports_the_run(host, connection):
    instance_id, run_id = start(host, "full")
    host.run_until_complete(instance_id, timeout=300)
    key = api_key()
    response = call(host, "GET", f"/api/syncs/{run_id}", key=key)
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert body["runtime_status"] == "Completed" and body["run_id"] == run_id
    assert body["status"] == "succeeded"
    assert {s["stream"] for s in body["streams"]} == set(TABLES)
    assert call(host, "GET", "/api/syncs/run-ffffffffffffffff", key=key).status_code == 404


def test_bad_credentials_fail_the_stream_with_an_actionable_error_and_keep_loaded_data(
        host, simulator, connection, pg_dsn, monkeypatch):
    _, _url = simulator
    sync(host, "full")
    before = fingerprint(pg_dsn)
    monkeypatch.setenv("SECRET_CONN_QBO_E2E_TOKEN", "revoked-token")
    instance_id, run_id = start(host, "incremental")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "failed"
    streams = streams_of(run_id)
    assert all(s["status"] == "failed" for s in streams.values())
    assert "reconnect this company" in json.dumps(status["output"])
    assert "revoked-token" not in json.dumps(status)
    assert fingerprint(pg_dsn) == before


def test_timer_starts_an_incremental_sync_of_every_connection(host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:  # other tests' connections point at no simulator
        conn.execute("UPDATE connections SET enabled = (connection_id = %s)", (CONNECTION,))
        conn.commit()
    host.invoke_timer("scheduled_sync")
    status = host.run_until_complete("sync-all", timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["input"]["trigger"] == "timer" and status["input"]["mode"] == "incremental"
    assert status["output"]["status"] == "succeeded"
    assert set(streams_of(status["output"]["run_id"])) == set(TABLES)
    assert_database_equals_simulator(pg_dsn, state)


def deleted_and_voided(pg_dsn: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(pg_dsn) as conn:
        deleted = {r[0] for r in conn.execute(
            "SELECT id FROM qbo_invoice WHERE connection_id = %s AND deleted_at IS NOT NULL", (CONNECTION,))}
        voided = {r[0] for r in conn.execute(
            "SELECT id FROM qbo_invoice WHERE connection_id = %s AND voided AND total_amt = 0", (CONNECTION,))}
    return deleted, voided


def test_incremental_sync_turns_hard_deletes_into_tombstones_and_recognises_voids(host, simulator, connection, pg_dsn):
    state, _ = simulator
    sync(host, "full")
    _, voided_before = deleted_and_voided(pg_dsn)
    assert voided_before  # the demo company has voided invoices of its own
    first, second = [i for i in sorted(truth(state, "Invoice"), key=int) if i not in voided_before][:2]
    state.delete(REALM, "Invoice", first)
    state.void(REALM, "Invoice", second)
    streams = sync(host, "incremental")
    assert streams["cdc"]["deleted"] == 1
    assert deleted_and_voided(pg_dsn) == ({first}, voided_before | {second})
    assert_database_equals_simulator(pg_dsn, state)


def test_a_complete_read_sweeps_deletes_that_no_change_feed_reported(host, simulator, connection, pg_dsn):
    state, _ = simulator
    sync(host, "full")
    gone = sorted(truth(state, "Invoice"), key=int)[5]
    state.delete(REALM, "Invoice", gone)
    streams = sync(host, "full")
    assert streams["Invoice"]["deleted"] == 1
    assert deleted_and_voided(pg_dsn)[0] == {gone}
    assert_database_equals_simulator(pg_dsn, state)


def test_a_sweep_that_would_delete_too_much_is_refused_and_deletes_nothing(host, simulator, connection, pg_dsn):
    state, _ = simulator
    sync(host, "full")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || '{\"sweep_max_share\": 0.001}' "
                     "WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    for invoice_id in sorted(truth(state, "Invoice"), key=int)[:5]:
        state.delete(REALM, "Invoice", invoice_id)
    instance_id, run_id = start(host, "full")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "failed"
    invoice = streams_of(run_id)["Invoice"]
    assert invoice["status"] == "failed" and invoice["deleted"] == 0
    assert deleted_and_voided(pg_dsn)[0] == set()
    assert "refusing to mark more than 0% deleted" in json.dumps(status["output"])


def test_a_sync_past_the_monthly_read_quota_is_refused_without_calling_the_api(host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""UPDATE connections SET config = config - 'monthly_read_quota' WHERE connection_id = %s""",
                     (CONNECTION,))  # the default quota, QBO_MONTHLY_READ_QUOTA's 500,000
        conn.execute("INSERT INTO api_usage (connection_id, plugin, month, calls) "
                     "VALUES ('other-company', 'quickbooks', date_trunc('month', now() AT TIME ZONE 'UTC'), 460000)")
        conn.commit()
    try:
        calls_before = state.calls(REALM)
        instance_id, _ = start(host, "full")
        status = host.run_until_complete(instance_id, timeout=300)
        assert status["output"]["status"] == "failed"
        # The budget planner refuses it first: even the run's essential streams would run the app's quota out.
        assert re.search(r"46\d,\d{3} of 450,000 calls syncs may spend \(limit 500,000\) are used",
                         json.dumps(status["output"]))
        assert "works again after" in json.dumps(status["output"])
        assert state.calls(REALM) == calls_before
    finally:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("DELETE FROM api_usage WHERE connection_id = 'other-company'")
            conn.commit()


def test_every_call_is_metered_for_the_month(host, simulator, connection, pg_dsn):
    state, _ = simulator
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM api_usage WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    before = state.calls(REALM)
    sync(host, "full")
    with psycopg.connect(pg_dsn) as conn:
        (metered,) = conn.execute("SELECT calls FROM api_usage WHERE connection_id = %s", (CONNECTION,)).fetchone()
    assert metered == state.calls(REALM) - before


def test_reports_land_whole_and_flattened_and_an_unchanged_rerun_keeps_them(host, simulator, connection, pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || '{\"reports\": true, \"report_months\": 3}' "
                     "WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    streams = sync(host, "full")
    assert streams["reports"]["inserted"] == 4  # P&L and Balance Sheet, accrual and cash, one window
    with psycopg.connect(pg_dsn) as conn:
        per_report = dict(conn.execute(
            "SELECT report || ':' || basis, count(*) FROM qbo_report_row WHERE connection_id = %s GROUP BY 1",
            (CONNECTION,)).fetchall())
        income_months = conn.execute(
            "SELECT count(DISTINCT period_start) FROM qbo_report_row WHERE connection_id = %s "
            "AND report = 'ProfitAndLoss' AND row_kind = 'Summary' AND row_group = 'Income'", (CONNECTION,)).fetchone()
    assert set(per_report) == {"ProfitAndLoss:Accrual", "ProfitAndLoss:Cash", "BalanceSheet:Accrual",
                               "BalanceSheet:Cash"}
    assert all(n > 0 for n in per_report.values()) and income_months[0] >= 3
    again = sync(host, "full")
    assert again["reports"]["unchanged"] + again["reports"]["updated"] == 4


def test_the_metrics_api_lists_the_catalog_and_serves_a_series_equal_to_the_stored_points(
        host, simulator, connection, pg_dsn):
    sync(host, "full")
    key = api_key(METRICS_READ)
    listing = call(host, "GET", "/api/metrics", key=key)
    names = {m["name"] for m in json.loads(listing.get_body())["metrics"]}
    assert {"qbo.revenue_invoiced", "monday.items_completed"} <= names
    path = "/api/metrics/qbo.revenue_invoiced/series"
    response = call(host, "GET", f"{path}?connection_id={CONNECTION}&grain=month", key=key)
    assert response.status_code == 200
    (series,) = json.loads(response.get_body())["series"]
    with psycopg.connect(pg_dsn) as conn:
        stored = conn.execute(
            "SELECT bucket, value FROM metric_points WHERE connection_id = %s AND metric = 'qbo.revenue_invoiced' "
            "AND grain = 'month' AND dimension = '' ORDER BY bucket", (CONNECTION,)).fetchall()
    assert [(p["bucket"], p["value"]) for p in series["points"]] == [(b.isoformat(), str(v)) for b, v in stored]
    assert stored
    for query, where in (("grain=month", "connection_id"), (f"connection_id={CONNECTION}&grain=hour", "grain"),
                         (f"connection_id={CONNECTION}&start=yesterday", "start")):
        bad = call(host, "GET", f"{path}?{query}", key=key)
        assert bad.status_code == 422 and where in json.loads(bad.get_body())["detail"], bad.get_body()
    unknown = call(host, "GET", f"/api/metrics/qbo.nope/series?connection_id={CONNECTION}", key=key)
    assert unknown.status_code == 404 and json.loads(unknown.get_body())["code"] == "metric_not_found"
    nobody = call(host, "GET", f"{path}?connection_id=no-such-company", key=key)
    assert nobody.status_code == 404 and json.loads(nobody.get_body())["code"] == "connection_not_found"
