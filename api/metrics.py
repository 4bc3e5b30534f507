"""GET /api/metrics lists the metric catalog; GET /api/metrics/{metric} reads one metric's series.

Reads go through the metric data layer (shared.metrics.series), which uses the SELECT-only role.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import azure.functions as func

from api.blueprint import bp
from plugins import registry
from shared.metrics import list_metrics
from shared.metrics.series import MetricReader, SeriesQuery


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _date(params: Any, name: str) -> dt.date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be a date like 2026-01-31, not {raw!r}") from None


def parse_series_query(metric: str, params: Any) -> SeriesQuery:
    """A SeriesQuery from the query string; raises ValueError saying what to fix."""
    connection_id = params.get("connection_id")
    if not connection_id:
        raise ValueError("connection_id is required (see GET /api/connections)")
    members = tuple(m for m in (params.get("members") or "").split(",") if m)
    query = SeriesQuery(connection_id=connection_id, metric=metric, grain=params.get("grain") or "month",
                        start=_date(params, "start"), end=_date(params, "end"),
                        dimension=params.get("dimension") or "", members=members)
    query.validate(registry.metric_catalogs())
    return query


@bp.route(route="metrics", methods=["GET"])
def list_metrics_http(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"metrics": list_metrics(registry.metric_catalogs(), req.params.get("plugin"))})


@bp.route(route="metrics/{metric}", methods=["GET"])
def get_metric_http(req: func.HttpRequest) -> func.HttpResponse:
    metric = req.route_params.get("metric", "")
    try:
        query = parse_series_query(metric, req.params)
    except KeyError as exc:
        return _json({"error": str(exc.args[0]) if exc.args else str(exc)}, 404)
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    frame = MetricReader(catalogs=registry.metric_catalogs()).frame(query)
    series: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in frame.itertuples(index=False):
        series[str(row.member)].append({"bucket": row.bucket.isoformat(), "value": str(row.value),
                                        "count": int(row.count)})
    return _json({"metric": metric, "connection_id": query.connection_id, "grain": query.grain,
                  "dimension": query.dimension,
                  "series": [{"member": member, "points": points} for member, points in sorted(series.items())]})
