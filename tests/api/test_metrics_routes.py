"""The metrics routes on the real app and a real PostgreSQL: catalog, series (JSON and CSV), forecast; unknown
connections and metrics are 404, bad input a 4xx saying what to fix."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import psycopg
import pytest

from api.auth.principal import METRICS_READ
from plugins import registry
from shared.db.connections import Connection, upsert_connection
from shared.metrics import list_metrics
from shared.metrics.refresh import mark_refused

METRIC = "qbo.net_revenue"


def add(db: psycopg.Connection, plugin: str = "quickbooks") -> str:
    cid = f"m-{uuid.uuid4().hex[:10]}"
    upsert_connection(db, Connection(cid, plugin, cid, {}))
    db.commit()
    return cid


def point(db: psycopg.Connection, cid: str, bucket: dt.date, value: str, *, metric: str = METRIC,
          dimension: str = "", member: str = "", count: int = 1) -> None:
    end = (bucket + dt.timedelta(days=32)).replace(day=1)
    db.execute("""INSERT INTO metric_points (connection_id, metric, grain, bucket, bucket_end, value, count, total,
                                             dimension, member)
                  VALUES (%s, %s, 'month', %s, %s, %s, %s, %s, %s, %s)""",
               (cid, metric, bucket, end, value, count, value, dimension, member))


def months_back(n: int) -> list[dt.date]:
    """The first days of the n complete months before the current one, oldest first."""
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    out = []
    for _ in range(n):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


@pytest.fixture
def books(db) -> str:
    cid = add(db)
    point(db, cid, dt.date(2026, 1, 1), "100.50", count=3)
    point(db, cid, dt.date(2026, 2, 1), "200.00", count=4)
    point(db, cid, dt.date(2026, 1, 1), "60.50", dimension="source", member="Invoice")
    point(db, cid, dt.date(2026, 1, 1), "40.00", dimension="source", member="=HYPERLINK(\"x\")")
    db.commit()
    return cid


def test_the_catalog_lists_every_installed_metric_and_filters_by_source(as_caller):
    caller = as_caller(METRICS_READ)
    answer = caller.get("/api/metrics")
    assert answer.status_code == 200
    assert answer.json()["metrics"] == list_metrics(registry.metric_catalogs())
    only = caller.get("/api/metrics", params={"plugin": "monday"}).json()["metrics"]
    assert only and {m["plugin"] for m in only} == {"monday"}


def test_a_series_as_json(as_caller, books):
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/series", params={"connection_id": books})
    assert answer.status_code == 200
    assert answer.json() == {"metric": METRIC, "connection_id": books, "grain": "month", "dimension": "", "series": [
        {"member": "", "points": [{"bucket": "2026-01-01", "value": "100.50", "count": 3},
                                  {"bucket": "2026-02-01", "value": "200.00", "count": 4}]}], "refused": False}


def test_a_series_the_data_refused_says_so_beside_its_last_points(as_caller, books, db):
    # The records hold what PostgreSQL cannot aggregate for it (shared/metrics/refresh.py): its points are as of the
    # last refresh that could compute it, and the caller is told.
    mark_refused(db, books, [METRIC])
    db.commit()
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/series", params={"connection_id": books})
    assert answer.status_code == 200 and answer.json()["refused"] is True
    assert [p["value"] for p in answer.json()["series"][0]["points"]] == ["100.50", "200.00"]
    other = as_caller(METRICS_READ).get("/api/metrics/qbo.expenses/series", params={"connection_id": books})
    assert other.json()["refused"] is False


def test_a_series_narrowed_by_dates_and_members(as_caller, books):
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/series", params={
        "connection_id": books, "dimension": "source", "members": "Invoice", "start": "2026-01-01",
        "end": "2026-02-01"})
    assert answer.json()["series"] == [{"member": "Invoice", "points": [
        {"bucket": "2026-01-01", "value": "60.50", "count": 1}]}]


@pytest.mark.parametrize("how", [{"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}])
def test_a_series_as_csv_for_spreadsheets(as_caller, books, how):
    params = {"connection_id": books, "dimension": "source", **how.get("params", {})}
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/series", params=params,
                                         headers=how.get("headers", {}))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == [["bucket", "member", "value", "count"],
                    ["2026-01-01", "'=HYPERLINK(\"x\")", "40.00", "1"],  # never a formula in a spreadsheet
                    ["2026-01-01", "Invoice", "60.50", "1"]]


def test_an_unknown_connection_is_404_not_an_empty_series(as_caller):
    for path in (f"/api/metrics/{METRIC}/series", f"/api/metrics/{METRIC}/forecast"):
        answer = as_caller(METRICS_READ).get(path, params={"connection_id": "nobody-here"})
        assert answer.status_code == 404 and answer.json()["code"] == "connection_not_found"


def test_an_unknown_metric_is_404(as_caller, books):
    for path in ("/api/metrics/qbo.no_such/series", "/api/metrics/qbo.no_such/forecast"):
        answer = as_caller(METRICS_READ).get(path, params={"connection_id": books})
        assert answer.status_code == 404 and answer.json()["code"] == "metric_not_found"


def test_an_allow_list_refuses_other_connections(as_caller, books, db):
    caller = as_caller(METRICS_READ, connections=(add(db),))
    answer = caller.get(f"/api/metrics/{METRIC}/series", params={"connection_id": books})
    assert answer.status_code == 403 and answer.json()["code"] == "connection_forbidden"


@pytest.mark.parametrize(("params", "code", "says"), [
    ({"grain": "fortnight"}, "invalid_input", "grain"),
    ({"start": "2026-13-01"}, "invalid_input", "start"),
    ({"start": "yesterday"}, "invalid_input", "start"),
    ({"start": "2026-03-01", "end": "2026-01-01"}, "invalid_query", "end must be after start"),
    ({"dimension": "colour"}, "invalid_query", "no dimension 'colour'"),
    ({"members": "EUR"}, "invalid_query", "name the dimension too"),
    ({"grain": "day", "start": "2000-01-01", "end": "2026-01-01"}, "span_too_large", "coarser grain"),
    ({"connection_id": "acme\n"}, "invalid_input", "connection_id"),
    ({"dimension": "nul\u0000"}, "invalid_input", "dimension"),
    ({"format": "xml"}, "invalid_input", "format"),
])
def test_bad_series_input_is_422_saying_what_to_fix(as_caller, books, params, code, says):
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/series", params={"connection_id": books, **params})
    assert answer.status_code == 422 and answer.json()["code"] == code, answer.text
    assert says in answer.json()["detail"]


@pytest.mark.parametrize("metric", ["QBO.X", "qbo", "a.b%0A", "%ED%A0%80.x"])
def test_malformed_metric_names_are_422(as_caller, books, metric):
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{metric}/series", params={"connection_id": books})
    assert answer.status_code == 422


def test_another_sources_metric_is_422(as_caller, books):
    answer = as_caller(METRICS_READ).get("/api/metrics/monday.items_created/series", params={"connection_id": books})
    assert answer.status_code == 422 and answer.json()["code"] == "metric_not_for_connection"


def test_a_forecast_continues_a_flat_history_leaving_the_partial_month_out(as_caller, db):
    cid = add(db)
    for month in months_back(24):
        point(db, cid, month, "3100.00")
    current = dt.datetime.now(dt.UTC).date().replace(day=1)
    point(db, cid, current, "310.00")  # the current month, barely begun
    db.commit()
    answer = as_caller(METRICS_READ).get(f"/api/metrics/{METRIC}/forecast",
                                         params={"connection_id": cid, "horizon": 3, "level": 0.9})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["level"] == 0.9 and body["grain"] == "month"
    assert body["excluded"] == [{"bucket": current.isoformat(), "value_so_far": 310.0}]
    assert body["partial_period"].startswith(f"excluded: {current.isoformat()}")
    assert body["points"][0]["bucket"] == current.isoformat()
    for p in body["points"]:
        assert p["forecast"] == pytest.approx(3100.0) and p["lower"] <= p["forecast"] <= p["upper"]


def test_a_forecast_needs_history_and_a_bounded_horizon(as_caller, db):
    cid = add(db)
    for month in months_back(2):
        point(db, cid, month, "5.00")
    db.commit()
    caller = as_caller(METRICS_READ)
    short = caller.get(f"/api/metrics/{METRIC}/forecast", params={"connection_id": cid})
    assert short.status_code == 422 and short.json()["code"] == "not_enough_history"
    assert "at least 3 complete buckets" in short.json()["detail"]
    empty = caller.get(f"/api/metrics/{METRIC}/forecast", params={"connection_id": add(db)})
    assert empty.status_code == 422 and empty.json()["code"] == "not_enough_history"
    for params in ({"horizon": 61}, {"horizon": 0}, {"level": 1.0}, {"level": "nan"}):
        answer = caller.get(f"/api/metrics/{METRIC}/forecast", params={"connection_id": cid, **params})
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_input", params
