"""Business metrics: the catalog (one declarative entry per metric), incremental aggregation into
metric_points, the read-only data layer (shared.metrics.series) and SimpleTimeSeries (shared.metrics.timeseries).

See README.md beside this file.
"""

from shared.metrics.catalog import Aggregation, Metric, PluginMetrics, Source, Unit
from shared.metrics.refresh import RefreshResult, rebuild, refresh_dirty
from shared.metrics.registry import CATALOGS, all_metrics, get_metric, list_metrics, metrics_for

__all__ = [
    "CATALOGS", "Aggregation", "Metric", "PluginMetrics", "RefreshResult", "Source", "Unit", "all_metrics",
    "get_metric", "list_metrics", "metrics_for", "rebuild", "refresh_dirty",
]
