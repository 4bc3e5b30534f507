"""Business metrics: the catalog vocabulary (one declarative entry per metric; each plugin declares its own),
incremental aggregation into metric_points, the read-only data layer (shared.metrics.series) and SimpleTimeSeries
(shared.metrics.timeseries). Every function that needs catalogs takes them (plugins.registry.metric_catalogs()).

See README.md beside this file.
"""

from shared.metrics.catalog import Aggregation, Metric, PluginMetrics, Source, Unit
from shared.metrics.refresh import RefreshResult, rebuild, refresh_dirty
from shared.metrics.registry import Catalogs, all_metrics, get_metric, list_metrics, metrics_for

__all__ = [
    "Aggregation", "Catalogs", "Metric", "PluginMetrics", "RefreshResult", "Source", "Unit", "all_metrics",
    "get_metric", "list_metrics", "metrics_for", "rebuild", "refresh_dirty",
]
