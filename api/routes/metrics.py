"""Metrics: the catalog, one metric's series of a connection (JSON, or CSV for spreadsheets) and its forecast.

Series are read through the metric data layer (shared.metrics.series, the SELECT-only role); the connection is
looked up first, so an unknown one is a 404 rather than an empty series."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import defaultdict
from typing import Annotated, Literal

import pandas as pd
import psycopg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import Principal, requires
from api.auth.principal import METRICS_READ
from api.deps import database, visible_connection
from api.limits import SafeText
from api.models.common import CONNECTION_ID_PATTERN, MetricPath
from api.models.metrics import (
    ExcludedBucket,
    ForecastOut,
    ForecastPoint,
    MemberSeries,
    MetricCatalog,
    MetricInfo,
    Point,
    Series,
)
from api.problems import Problem, not_found
from plugins import registry
from shared.metrics import Aggregation, Metric, get_metric, list_metrics
from shared.metrics.calendar import GRAINS
from shared.metrics.refresh import is_refused
from shared.metrics.series import MetricReader, SeriesQuery

router = APIRouter(prefix="/api/metrics", tags=["metrics"])

Grain = Literal[GRAINS]  # type: ignore[valid-type]
ConnectionQuery = Annotated[str, Query(pattern=CONNECTION_ID_PATTERN, max_length=63,
                                       description="The connection (see GET /api/connections)")]
# A request may span at most this many buckets per member, and return at most this many points in all.
MAX_BUCKETS = 5000
MAX_POINTS = 100_000
MAX_HORIZON = 60
_GRAIN_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365, "fiscal_quarter": 89, "fiscal_year": 365}
SEASONS = {"day": 7, "week": 52, "month": 12, "quarter": 4, "fiscal_quarter": 4}
CSV_HEADER = ("bucket", "member", "value", "count")
_CSV_RESPONSE = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                       "description": "The series (JSON, or CSV with header bucket,member,value,count)"}}


def _metric(name: str) -> Metric:
    try:
        return get_metric(registry.metric_catalogs(), name)
    except KeyError:
        raise not_found("metric", name, "see GET /api/metrics") from None


def _connection_for(db: psycopg.Connection, principal: Principal, connection_id: str, metric: Metric) -> None:
    """404 for an unknown connection, 403 outside the allow-list, 422 for another source's metric."""
    record = visible_connection(db, principal, connection_id)
    if record.connection.plugin != metric.plugin:
        raise Problem(422, "metric_not_for_connection",
                      f"{metric.name} is a metric of {metric.plugin} connections; {connection_id!r} is a "
                      f"{record.connection.plugin} connection (see GET /api/metrics?plugin=...)")


def _query(metric: str, connection_id: str, grain: str, start: dt.date | None, end: dt.date | None,
           dimension: str, members: str) -> SeriesQuery:
    query = SeriesQuery(connection_id=connection_id, metric=metric, grain=grain, start=start, end=end,
                        dimension=dimension, members=tuple(m for m in members.split(",") if m))
    try:
        query.validate(registry.metric_catalogs())
    except ValueError as exc:
        raise Problem(422, "invalid_query", str(exc)) from None
    if start and end and (end - start).days / _GRAIN_DAYS[grain] > MAX_BUCKETS:
        raise Problem(422, "span_too_large", f"At most {MAX_BUCKETS} {grain} buckets a request: narrow start..end "
                                             "or choose a coarser grain")
    return query


@router.get("", response_model=MetricCatalog, summary="The metric catalog",
            description="Every metric of the installed sources: aggregation, unit, dimensions and grains.")
def catalog(plugin: Annotated[SafeText | None, Query(max_length=63, description="Only this source's metrics")] = None,
            principal: Principal = Depends(requires(METRICS_READ))) -> MetricCatalog:
    return MetricCatalog(metrics=[MetricInfo(**m) for m in list_metrics(registry.metric_catalogs(), plugin)])


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _cell(text: str) -> str:
    # Spreadsheets run a cell starting with = + - @ as a formula; member names come from the source's data.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in frame.sort_values(["bucket", "member"]).itertuples(index=False):
        writer.writerow((row.bucket.isoformat(), _cell(str(row.member)), str(row.value), int(row.count)))
    return out.getvalue()


@router.get("/{metric}/series", response_model=Series, responses=_CSV_RESPONSE,
            summary="One metric's series for a connection",
            description="Buckets of `grain` overlapping [start, end); `dimension` splits the total by member "
                        "(narrowed to the comma-separated `members`). JSON by default; CSV (header "
                        "bucket,member,value,count) with `format=csv` or `Accept: text/csv`. 404 for an unknown "
                        f"metric or connection; at most {MAX_BUCKETS} buckets per member and {MAX_POINTS} points. "
                        "`refused` (JSON) says the connection's records hold values this metric cannot be "
                        "computed from: its points are as of the last refresh that could.")
def series(metric: MetricPath, request: Request, connection_id: ConnectionQuery,
           grain: Annotated[Grain, Query(description="Bucket size")] = "month",
           start: Annotated[dt.date | None, Query(description="First day (inclusive), e.g. 2026-01-01")] = None,
           end: Annotated[dt.date | None, Query(description="Last day (exclusive), e.g. 2027-01-01")] = None,
           dimension: Annotated[SafeText, Query(max_length=100, description="Split by this dimension")] = "",
           members: Annotated[SafeText, Query(description="Comma-separated members of the dimension")] = "",
           format: Annotated[Literal["json", "csv"] | None, Query(description="Response format")] = None,
           principal: Principal = Depends(requires(METRICS_READ)),
           db: psycopg.Connection = Depends(database)) -> Series | Response:
    found = _metric(metric)
    _connection_for(db, principal, connection_id, found)
    query = _query(metric, connection_id, grain, start, end, dimension, members)
    frame = MetricReader(catalogs=registry.metric_catalogs()).frame(query)
    if len(frame) > MAX_POINTS:
        raise Problem(422, "too_many_points", f"Over {MAX_POINTS} points: narrow start..end or the members")
    if _wants_csv(request, format):
        return Response(_csv(frame), media_type="text/csv; charset=utf-8")
    by_member: dict[str, list[Point]] = defaultdict(list)
    for row in frame.itertuples(index=False):
        by_member[str(row.member)].append(Point(bucket=row.bucket, value=str(row.value), count=int(row.count)))
    return Series(metric=metric, connection_id=connection_id, grain=grain, dimension=dimension,
                  series=[MemberSeries(member=m, points=p) for m, p in sorted(by_member.items())],
                  refused=is_refused(db, connection_id, metric))


@router.get("/{metric}/forecast", response_model=ForecastOut, summary="A forecast of one metric with its interval",
            description="A linear trend (with seasonal offsets once two seasons of history exist) fitted to the "
                        "complete buckets of the connection's total; the current, partial bucket is left out and "
                        "forecast whole (`partial_period` says so). 422 `not_enough_history` under 3 complete "
                        f"buckets; `horizon` at most {MAX_HORIZON}.")
def forecast(metric: MetricPath, connection_id: ConnectionQuery,
             grain: Annotated[Grain, Query(description="Bucket size")] = "month",
             horizon: Annotated[int, Query(ge=1, le=MAX_HORIZON, description="Buckets to forecast")] = 6,
             level: Annotated[float, Query(ge=0.5, le=0.99, description="Interval coverage")] = 0.95,
             principal: Principal = Depends(requires(METRICS_READ)),
             db: psycopg.Connection = Depends(database)) -> ForecastOut:
    found = _metric(metric)
    _connection_for(db, principal, connection_id, found)
    query = _query(metric, connection_id, grain, None, None, "", "")
    history = MetricReader(catalogs=registry.metric_catalogs()).series(query).get("")
    as_of = dt.datetime.now(dt.UTC).date()
    if history is None or history.series.empty:
        raise Problem(422, "not_enough_history", f"{metric} has no {grain} buckets for {connection_id!r} yet")
    # Balances carry forward over a gap; flows had nothing in it.
    filled = history.fill_gaps(None if found.aggregation == Aggregation.BALANCE else 0.0)
    try:
        result = filled.forecast(horizon, season_length=SEASONS.get(grain), level=level, as_of=as_of)
    except ValueError as exc:
        raise Problem(422, "not_enough_history", str(exc)) from None
    points = [ForecastPoint(bucket=ts.date(), forecast=row.forecast, lower=row.lower, upper=row.upper)
              for ts, row in result.frame.iterrows()]
    if not all(math.isfinite(v) for p in points for v in (p.forecast, p.lower, p.upper)):
        raise Problem(422, "not_enough_history", f"{metric}'s history gives no finite forecast")
    return ForecastOut(metric=metric, connection_id=connection_id, grain=grain, level=level, as_of=as_of,
                       partial_period=result.partial_period,
                       excluded=[ExcludedBucket(bucket=d, value_so_far=v) for d, v in result.excluded],
                       points=points)
