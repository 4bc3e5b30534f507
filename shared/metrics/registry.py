"""Views over the installed plugins' metric catalogs, for the API, the aggregation and the dashboards.

The catalogs come from the caller (plugins.registry.metric_catalogs() assembles the installed ones): this
package names no source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.metrics.calendar import GRAINS
from shared.metrics.catalog import Metric, PluginMetrics, validate

# Plugin name -> its catalog, in the registry's order.
Catalogs = Mapping[str, PluginMetrics]


def catalogs_of(entries: Iterable[PluginMetrics]) -> dict[str, PluginMetrics]:
    """Validated catalogs keyed by plugin; a metric name declared by two plugins is an error."""
    catalogs: dict[str, PluginMetrics] = {}
    owner: dict[str, str] = {}
    for entry in entries:
        validate(entry)
        if entry.plugin in catalogs:
            raise ValueError(f"two metric catalogs for plugin {entry.plugin!r}")
        for metric in entry.metrics:
            if metric.name in owner:
                raise ValueError(f"metric {metric.name} is declared by {owner[metric.name]} and {entry.plugin}")
            owner[metric.name] = entry.plugin
        catalogs[entry.plugin] = entry
    return catalogs


def all_metrics(catalogs: Catalogs) -> tuple[Metric, ...]:
    return tuple(m for c in catalogs.values() for m in c.metrics)


def metrics_for(catalogs: Catalogs, plugin: str) -> tuple[Metric, ...]:
    catalog = catalogs.get(plugin)
    return catalog.metrics if catalog else ()


def get_metric(catalogs: Catalogs, name: str) -> Metric:
    for metric in all_metrics(catalogs):
        if metric.name == name:
            return metric
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(m.name for m in all_metrics(catalogs))}")


def list_metrics(catalogs: Catalogs, plugin: str | None = None) -> list[dict[str, Any]]:
    """The metric list the API serves: JSON-ready, one entry per metric."""
    return [
        {"name": m.name, "title": m.title, "plugin": m.plugin, "aggregation": str(m.aggregation),
         "unit": str(m.unit), "description": m.description, "dimensions": list(m.all_dimensions),
         "grains": list(GRAINS), "sources": list(dict.fromkeys(s.table for s in m.sources))}
        for m in all_metrics(catalogs) if plugin is None or m.plugin == plugin
    ]


def required_watches(catalogs: Catalogs) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per raw table: the date expressions its trigger must mark and the expressions it must watch."""
    found: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for metric in all_metrics(catalogs):
        for source in metric.sources:
            if source.relation is not None:
                continue  # a joined relation: its tables are watched through their own sources
            dates, reads = found.setdefault(source.table, ({}, {}))
            dates[source.mark] = None
            reads.update(dict.fromkeys(source.reads))
    return {table: (tuple(d), tuple(r)) for table, (d, r) in sorted(found.items())}


def watch_sql(catalogs: Catalogs, table: str) -> str:
    """The `SELECT metric_watch(...)` a plugin's migration needs for a table its catalog reads."""
    dates, reads = required_watches(catalogs)[table]

    def array(items: tuple[str, ...]) -> str:
        return "ARRAY[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"

    return f"SELECT metric_watch('{table}', {array(dates)},\n    {array(reads)});"
