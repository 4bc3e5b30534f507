"""The committed dashboards are what the catalog generates, and every panel's SQL, with Grafana's macros
expanded as Grafana does, runs through the SELECT-only role against a synced demo database and returns rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
import yaml

from grafana import build
from grafana.dashboards import all_dashboards
from grafana.macros import expand
from grafana.panels import DATASOURCE
from shared.metrics.calendar import GRAINS

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)


def _panels() -> list[tuple[str, dict]]:
    return [(name, p) for name, d in all_dashboards().items() for p in d["panels"]]


def _run_as_reader(pg_dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE bizmetrics_reader")
        conn.execute("SET default_transaction_read_only = on")
        return conn.execute(sql).fetchall()


def test_the_committed_dashboards_are_what_the_catalog_generates():
    assert build.stale() == [], "run `python -m grafana.build` and commit grafana/dashboards/"


def test_a_hand_edited_or_missing_dashboard_is_reported_stale(tmp_path):
    build.write(tmp_path)
    assert build.stale(tmp_path) == []
    finance = tmp_path / "finance-quickbooks.json"
    finance.write_text(finance.read_text().replace("Net revenue", "Net revenues"))
    (tmp_path / "sync-health.json").unlink()
    (tmp_path / "old.json").write_text("{}")
    assert build.stale(tmp_path) == ["finance-quickbooks.json", "old.json", "sync-health.json"]
    assert build.main(["--check"]) == 0


def test_every_panel_query_returns_rows_on_a_synced_demo_company(pg_dsn, grafana_demo, grafana_monday_demo):
    """The operations (monday.com) panels run against a synced monday demo account, the others against the
    QuickBooks demo company."""
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    checked = operations = 0
    for name, panel in _panels():
        connection = grafana_monday_demo if name == "operations-monday.json" else grafana_demo
        for target in panel.get("targets", []):
            operations += name == "operations-monday.json"
            sql = expand(target["rawSql"], START, end, {"connection": connection, "grain": "month"})
            assert "$" not in sql, (name, panel["title"], sql)
            rows = _run_as_reader(pg_dsn, sql)
            assert rows, (name, panel["title"], sql)
            checked += 1
    assert checked >= 40 and operations >= 9


def test_the_operations_dashboard_shows_every_monday_metric_and_its_breakdowns(pg_dsn, grafana_monday_demo):
    dashboard = all_dashboards()["operations-monday.json"]
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Items created", "Items completed (throughput)", "Open items", "Cycle time (mean)",
            "Cycle time (median)", "Items completed (throughput) by board", "Items completed (throughput) by group",
            "Items completed (throughput) by person"} <= titles
    assert all(p["type"] != "text" for p in dashboard["panels"])  # no "plugin pending" placeholder
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "connection")
    assert grafana_monday_demo in {r[0] for r in _run_as_reader(pg_dsn, variable["query"])}


def test_metric_panels_return_rows_at_every_grain(pg_dsn, grafana_demo):
    end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    panel = next(p for _, p in _panels() if p["title"] == "Net revenue" and p["type"] == "timeseries")
    for grain in GRAINS:
        sql = expand(panel["targets"][0]["rawSql"], START, end, {"connection": grafana_demo, "grain": grain})
        times = [r[0] for r in _run_as_reader(pg_dsn, sql)]
        assert times == sorted(times) and times, grain
        if grain == "week":
            assert {t.weekday() for t in times} == {0}


def test_the_connection_variable_lists_the_synced_connection(pg_dsn, grafana_demo):
    dashboard = all_dashboards()["finance-quickbooks.json"]
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "connection")
    assert (grafana_demo, "Metrics grafana-demo") in _run_as_reader(pg_dsn, variable["query"])


def test_reconciliation_shows_computed_minus_reported_per_month(pg_dsn, grafana_demo):
    rows = _run_as_reader(pg_dsn, f"""SELECT measure, count(*), max(abs(difference)), sum(reported)
                                      FROM metric_reconciliation WHERE connection_id = '{grafana_demo}'
                                      GROUP BY 1 ORDER BY 1""")
    assert [r[0] for r in rows] == ["expenses", "revenue"]
    assert all(count >= 30 and reported > 0 for _, count, _, reported in rows)


def test_provisioning_points_dashboards_and_data_source_at_each_other():
    source = yaml.safe_load((ROOT / "grafana/provisioning/datasources/bizmetrics.yaml").read_text())
    (datasource,) = source["datasources"]
    assert (datasource["uid"], datasource["type"]) == (DATASOURCE["uid"], DATASOURCE["type"])
    assert datasource["user"] == "bizmetrics_grafana"
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/bizmetrics.yaml").read_text())["providers"][0]
    assert provider["type"] == "file"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in compose["volumes"]}
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    uids = [json.loads(p.read_text())["uid"] for p in sorted((ROOT / "grafana/dashboards").glob("*.json"))]
    assert len(set(uids)) == len(uids) == 4
    for _, panel in _panels():
        assert panel.get("datasource", DATASOURCE) == DATASOURCE


@pytest.mark.parametrize(("sql", "expected"), [
    ("$__timeFilter(started_at)", "started_at BETWEEN '2026-01-02T03:04:05Z' AND '2026-02-01T00:00:00.5Z'"),
    ("$__timeFrom()::date", "'2026-01-02T03:04:05Z'::date"),
    ("$__time(t)", 't AS "time"'),
    ("$__timeGroupAlias(t, '1d')", 'floor(extract(epoch from t)/86400)*86400 AS "time"'),
    ("$__unixEpochFilter(e)", "e >= 1767323045 AND e <= 1769904000"),
])
def test_macros_expand_as_grafana_does(sql, expected):
    start = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    end = dt.datetime(2026, 2, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)
    assert expand(sql, start, end) == expected
