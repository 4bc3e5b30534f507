"""A plugin's Grafana dashboard declared as data, from its metric catalog; `grafana/` lays it out and renders it.

A dashboard is a column of sections, each starting below the previous one: `Charts` (time series of catalog
metrics, two per row) and `Row` (panels of the plugin's own SQL side by side, e.g. a reconciliation view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.metrics.catalog import Metric


@dataclass(frozen=True)
class Charts:
    """Time series, two per row: each a metric's total (dimension "") or one series per member of a dimension."""

    items: tuple[tuple[Metric, str], ...]

    @classmethod
    def totals(cls, metrics: tuple[Metric, ...]) -> Charts:
        return cls(tuple((m, "") for m in metrics))

    @classmethod
    def breakdowns(cls, metrics: tuple[Metric, ...]) -> Charts:
        """Every dimension of every metric, in catalog order."""
        return cls(tuple((m, d) for m in metrics for d in m.all_dimensions))


@dataclass(frozen=True)
class QueryPanel:
    """A panel of its own SQL (Grafana macros and $connection allowed), width x height on the 24-column grid."""

    kind: str
    title: str
    sql: str
    width: int
    height: int
    description: str = ""
    fmt: str = "time_series"
    custom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """Panels side by side, left to right."""

    panels: tuple[QueryPanel, ...]


@dataclass(frozen=True)
class Dashboard:
    """One dashboard file; its connection picker lists the enabled connections of `plugin`."""

    file: str
    uid: str
    title: str
    plugin: str
    tags: tuple[str, ...]
    sections: tuple[Charts | Row, ...]
