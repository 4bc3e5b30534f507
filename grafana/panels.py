"""Panel SQL and panel JSON. Calendar buckets come pre-aggregated from metric_points (date_trunc semantics,
weeks from Monday), never from $__timeGroup, which buckets weeks from Thursday and months by length."""

from __future__ import annotations

from typing import Any

from shared.metrics.catalog import Metric, Unit

DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "bizmetrics-pg"}
# A bucket is shown when it overlaps the dashboard's range (a month starting before `from` included).
_IN_RANGE = "bucket <= $__timeTo()::date AND bucket_end > $__timeFrom()::date"


def metric_sql(metric: Metric, *, dimension: str = "", grain: str = "$grain") -> str:
    """Time series of a metric's total (or one series per member of a dimension) for the chosen connection."""
    series = 'member AS "metric", value' if dimension else f'value AS "{metric.title}"'
    return (f'SELECT bucket::timestamp AS "time", {series}\n'
            f"FROM metric_points\n"
            f"WHERE connection_id = '$connection' AND metric = '{metric.name}' AND grain = '{grain}'\n"
            f"  AND dimension = '{dimension}' AND {_IN_RANGE}\n"
            f"ORDER BY 1")


def latest_sql(metric: Metric, grain: str = "month") -> str:
    """The last bucket that starts within the range (a stat panel)."""
    return (f'SELECT bucket::timestamp AS "time", value AS "{metric.title}"\n'
            f"FROM metric_points\n"
            f"WHERE connection_id = '$connection' AND metric = '{metric.name}' AND grain = '{grain}'\n"
            f"  AND dimension = '' AND {_IN_RANGE}\n"
            f"ORDER BY bucket DESC LIMIT 1")


def unit(metric: Metric) -> str:
    return {Unit.COUNT: "none", Unit.DAYS: "d"}.get(metric.unit, "short")


def target(sql: str, fmt: str = "time_series") -> dict[str, Any]:
    return {"refId": "A", "datasource": DATASOURCE, "editorMode": "code", "format": fmt, "rawQuery": True,
            "rawSql": sql}


def panel(kind: str, title: str, sql: str | None, grid: tuple[int, int, int, int], *, description: str = "",
          unit_name: str = "short", fmt: str = "time_series", options: dict[str, Any] | None = None,
          custom: dict[str, Any] | None = None) -> dict[str, Any]:
    """One panel; grid is (x, y, width, height) on Grafana's 24-column grid."""
    x, y, w, h = grid
    body: dict[str, Any] = {"type": kind, "title": title, "description": description,
                            "gridPos": {"x": x, "y": y, "w": w, "h": h}}
    if sql is not None:
        body["datasource"] = DATASOURCE
        body["targets"] = [target(sql, fmt)]
        body["fieldConfig"] = {"defaults": {"unit": unit_name, "decimals": 0 if unit_name == "none" else 2,
                                            "custom": custom or {}}, "overrides": []}
    body["options"] = options or {}
    return body


def timeseries(metric: Metric, grid: tuple[int, int, int, int], *, dimension: str = "") -> dict[str, Any]:
    step = metric.aggregation == "balance"
    title = metric.title if not dimension else f"{metric.title} by {dimension}"
    description = metric.description + (" Home currency." if metric.unit is Unit.HOME_CURRENCY else "")
    return panel("timeseries", title, metric_sql(metric, dimension=dimension), grid, description=description,
                 unit_name=unit(metric),
                 custom={"drawStyle": "bars" if not step and not dimension else "line",
                         "lineInterpolation": "stepAfter" if step else "linear",
                         "stacking": {"mode": "normal" if dimension else "none", "group": "A"},
                         "fillOpacity": 60 if not step else 10, "spanNulls": False},
                 options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                          "tooltip": {"mode": "multi", "sort": "none"}})


def stat(metric: Metric, grid: tuple[int, int, int, int]) -> dict[str, Any]:
    return panel("stat", f"{metric.title} (latest month)", latest_sql(metric), grid, description=metric.description,
                 unit_name=unit(metric),
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": "value"})
