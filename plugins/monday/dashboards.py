"""The operations dashboard: every monday.com metric, throughput per board, group and person, cycle time per board
(members are monday ids)."""

from __future__ import annotations

from plugins.monday.metrics import METRICS, PLUGIN
from shared.metrics.dashboards import Charts, Dashboard

BREAKDOWNS = Charts(tuple(
    (m, d) for m in METRICS for d in m.all_dimensions
    if m.name == "monday.items_completed" or (m.name == "monday.cycle_time" and d == "board")
))

DASHBOARDS = (
    Dashboard("operations-monday.json", "bizmetrics-operations-monday", "Operations (monday.com)", PLUGIN,
              ("operations",), (Charts.totals(METRICS), BREAKDOWNS)),
)
