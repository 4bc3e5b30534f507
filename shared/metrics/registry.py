"""Every plugin's metric catalog, and the views of it the API, the aggregation and the dashboards use."""

from __future__ import annotations

from typing import Any

from shared.metrics import monday, quickbooks
from shared.metrics.calendar import GRAINS
from shared.metrics.catalog import Metric, PluginMetrics, validate

# A new plugin's metrics: one module like quickbooks.py, one line here (see shared/metrics/README.md).
CATALOGS: dict[str, PluginMetrics] = {c.plugin: c for c in (quickbooks.CATALOG, monday.CATALOG)}
for _catalog in CATALOGS.values():
    validate(_catalog)


def all_metrics() -> tuple[Metric, ...]:
    return tuple(m for c in CATALOGS.values() for m in c.metrics)


def metrics_for(plugin: str) -> tuple[Metric, ...]:
    catalog = CATALOGS.get(plugin)
    return catalog.metrics if catalog else ()


def get_metric(name: str) -> Metric:
    for metric in all_metrics():
        if metric.name == name:
            return metric
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(m.name for m in all_metrics())}")


def list_metrics(plugin: str | None = None) -> list[dict[str, Any]]:
    """The metric list the API serves: JSON-ready, one entry per metric."""
    return [
        {"name": m.name, "title": m.title, "plugin": m.plugin, "aggregation": str(m.aggregation),
         "unit": str(m.unit), "description": m.description, "dimensions": list(m.all_dimensions),
         "grains": list(GRAINS), "sources": list(dict.fromkeys(s.table for s in m.sources))}
        for m in all_metrics() if plugin is None or m.plugin == plugin
    ]


def required_watches() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per raw table: the date expressions its trigger must mark and the expressions it must watch."""
    found: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for metric in all_metrics():
        for source in metric.sources:
            if source.relation is not None:
                continue  # a joined relation: its tables are watched through their own sources
            dates, reads = found.setdefault(source.table, ({}, {}))
            dates[source.mark] = None
            reads.update(dict.fromkeys(source.reads))
    return {table: (tuple(d), tuple(r)) for table, (d, r) in sorted(found.items())}


def watch_sql(table: str) -> str:
    """The `SELECT metric_watch(...)` a migration needs for a table the catalog reads."""
    dates, reads = required_watches()[table]

    def array(items: tuple[str, ...]) -> str:
        return "ARRAY[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"

    return f"SELECT metric_watch('{table}', {array(dates)},\n    {array(reads)});"
