"""The helpdesk's Grafana dashboard: its metrics in total, then per status (rendered by grafana/)."""

from __future__ import annotations

from shared.metrics.dashboards import Charts, Dashboard
from tests.third_source.metrics import CATALOG, PLUGIN

DASHBOARDS = (
    Dashboard("support-helpdesk.json", "bizmetrics-support-helpdesk", "Support (helpdesk)", PLUGIN, ("support",),
              (Charts.totals(CATALOG.metrics), Charts.breakdowns(CATALOG.metrics))),
)
