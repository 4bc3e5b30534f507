"""The metric catalog's vocabulary: a metric is a declarative entry, read by the aggregation SQL, the API's
metric list and the Grafana dashboard generator alike, so each metric is defined once.

SQL fragments in an entry are expressions over the alias `r` (a raw table row, or the row of `relation`).
They are trusted code reviewed like any other, never user input; they must not contain `%` (psycopg
parameters) or `|` (the trigger's separator).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

# Tombstoned and voided records count nowhere.
_NAME = re.compile(r"^[a-z]+\.[a-z0-9_]+$")
# The parameters a source's `since` and `keyed` predicates may use.
_PARAMETER = re.compile(r"%\((since|marked_[a-z0-9_]+)\)s")
LIVE = ("r.deleted_at IS NULL",)
LIVE_TXN = ("r.deleted_at IS NULL", "NOT coalesce(r.voided, false)")


class Aggregation(StrEnum):
    SUM = "sum"
    COUNT = "count"
    AVG = "avg"
    DISTINCT = "distinct_count"
    # The running total of signed events up to the end of each bucket (e.g. receivables as of a date).
    BALANCE = "balance"
    # The median of the bucket's values, from the raw rows of every bucket (medians do not roll up).
    MEDIAN = "median"


class Unit(StrEnum):
    HOME_CURRENCY = "home_currency"
    COUNT = "count"
    DAYS = "days"


@dataclass(frozen=True)
class Source:
    """Where a metric's records come from: one raw table (or a relation over it) and how to read it.

    table:   the raw table whose dirty-marking triggers restate this source's buckets.
    date:    the business date (a date) of a record; the table's trigger must mark this expression.
    value:   what is summed / averaged / counted distinctly (ignored by COUNT).
    reads:   every expression over the table that the metric depends on; the trigger marks old and new
             dates only when one of them changes (tests/metrics/test_catalog.py checks the migration).
    relation: a FROM item producing alias r (joins); default is the table itself.
    also_dirty_from: other tables whose marks restate this source (the tables joined in `relation`). Their
             marks are lower bounds of this source's event dates, not the dates themselves: a balance
             reading such a source is restated from the raw rows (see refresh.py).
    since:   balances only: a predicate selecting rows whose event date is on or after %(since)s (a rebuild
             passes 0001-01-01), written so an index can serve it; default `date >= since`.
    timestamp: `date` is a timestamptz, bucketed by its local date in the connection's time zone; the
             trigger then marks `date@ts` (the UTC day and both neighbours).
    keys:    balances whose marks are lower bounds (a relation): per table the event depends on, the date
             that table's trigger marks for the row the event comes from, e.g. (("payments", "r.paid_on"),).
             Default: the source's own table and marked date. refresh.py finds a change's events by them.
    keyed:   with `keys`: a predicate selecting exactly the rows one of whose keys is among the marks, with
             %(marked_<table>)s (date[]) per table, written so an index can serve it; default: an OR over
             `keys`. Two sources reading the same events by two paths must select disjoint rows.
    """

    table: str
    date: str
    value: str = "1"
    label: str = ""
    filters: tuple[str, ...] = ()
    live: tuple[str, ...] = LIVE_TXN
    dimensions: tuple[tuple[str, str], ...] = ()
    reads: tuple[str, ...] = ()
    relation: str | None = None
    also_dirty_from: tuple[str, ...] = ()
    since: str | None = None
    timestamp: bool = False
    keys: tuple[tuple[str, str], ...] = ()
    keyed: str | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables whose dirty marks restate this source."""
        return (self.table, *self.also_dirty_from)

    @property
    def marks_exact_dates(self) -> bool:
        """Its table's trigger marks exactly the business dates of its rows (no join): a change moves only
        marked days."""
        return self.relation is None and not self.also_dirty_from

    def dimension(self, name: str) -> str | None:
        return dict(self.dimensions).get(name)

    @property
    def mark(self) -> str:
        """The date expression the table's trigger marks for this source."""
        return f"{self.date}@ts" if self.timestamp else self.date

    @property
    def key_dates(self) -> dict[str, str]:
        """Table -> the date (expression over r) its trigger marks for the row an event of this source comes
        from; a timestamp's key is its UTC day (the trigger marks it and both neighbours)."""
        if self.keys:
            return dict(self.keys)
        own = f"(({self.date}) AT TIME ZONE 'UTC')::date" if self.timestamp else f"({self.date})::date"
        return {self.table: own}


@dataclass(frozen=True)
class Metric:
    """One business metric. `dimensions` are breakdowns stored beside the total, one dimension at a time;
    a metric with several sources also gets the `source` dimension (which part each value comes from)."""

    name: str
    title: str
    plugin: str
    aggregation: Aggregation
    unit: Unit
    sources: tuple[Source, ...]
    description: str
    dimensions: tuple[str, ...] = ()
    # Where the dashboards show it: "overview" puts it on the business overview too.
    dashboards: tuple[str, ...] = ()

    @property
    def all_dimensions(self) -> tuple[str, ...]:
        if self.aggregation is Aggregation.BALANCE:
            return self.dimensions  # a balance is one running total (validate() keeps it free of dimensions)
        return (*self.dimensions, "source") if len(self.sources) > 1 else self.dimensions

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for s in self.sources for t in s.tables))

    @property
    def keyed(self) -> bool:
        """A balance some of whose marks are lower bounds: kept with per-key parts (metric_balance_parts), so
        a change restates only the events it touched (refresh.py)."""
        return self.aggregation is Aggregation.BALANCE and not all(s.marks_exact_dates for s in self.sources)

    def signature(self, calendar: str) -> str:
        """Changes whenever the definition or the calendar does: the stored points must then be rebuilt."""
        return hashlib.sha256(f"{self!r}|{calendar}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class PluginMetrics:
    """A plugin's catalog: its metrics and where its fiscal year start is found.

    fiscal_start_sql: a query with %(cid)s returning the fiscal year's first month (1-12 or an English
    month name), or None when the source has no fiscal calendar (January).
    """

    plugin: str
    metrics: tuple[Metric, ...]
    fiscal_start_sql: str | None = None


def validate(entry: PluginMetrics) -> None:
    """Catalog rules that SQL generation relies on; raises ValueError naming the entry."""
    names = set()
    for metric in entry.metrics:
        if metric.name in names:
            raise ValueError(f"metric {metric.name} is declared twice")
        names.add(metric.name)
        if not _NAME.match(metric.name):
            raise ValueError(f"metric {metric.name}: name it <plugin prefix>.<snake_case>, e.g. crm.new_deals")
        if metric.aggregation is Aggregation.BALANCE and metric.all_dimensions:
            raise ValueError(f"metric {metric.name}: balances have no dimensions")
        for source in metric.sources:
            for text in (source.date, source.value, *source.filters, *source.live, *source.reads,
                         source.relation or "", source.since or "", source.keyed or "",
                         *(e for _, e in source.keys), *(e for _, e in source.dimensions)):
                if "%" in _PARAMETER.sub("", text) or "|" in text:
                    raise ValueError(f"metric {metric.name}: `%` and `|` are not allowed in SQL fragments")
            if metric.keyed and source.relation is not None and not (source.keys and source.keyed):
                raise ValueError(f"metric {metric.name}: a balance source over a relation needs `keys` and `keyed`")
            if not set(source.key_dates) <= set(metric.tables):
                raise ValueError(f"metric {metric.name}: a source's keys name a table the metric is not marked by")
        if metric.keyed and len(metric.tables) > 2:
            raise ValueError(f"metric {metric.name}: metric_balance_parts keys events by at most two tables")
        for name in metric.dimensions:
            if not any(source.dimension(name) for source in metric.sources):
                raise ValueError(f"metric {metric.name}: no source maps dimension {name}")
