"""The metric data layer: the one place the API and tools read business time series from.

It reads metric_points only, through the SELECT-only role `bizmetrics_reader` (migration 0007): with a
DSN of a login role that is a member of it (set BIZ_PG_READER_DSN), or by SET ROLE from the app's
connection (what the tests do). Sessions are read-only on top of that. Queries are checked against the
catalogs the reader is given (plugins.registry.metric_catalogs()).

    reader = MetricReader(catalogs=metric_catalogs())
    reader.series(SeriesQuery("acme", "<plugin>.<metric>", grain="month", start=date(2025, 1, 1)))
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import psycopg
from psycopg import sql

from shared.core.config import load_settings
from shared.metrics.calendar import GRAINS
from shared.metrics.catalog import Aggregation
from shared.metrics.registry import Catalogs, get_metric
from shared.metrics.timeseries import SimpleTimeSeries

READER_ROLE = "bizmetrics_reader"
TOTAL = ""


@dataclass(frozen=True)
class SeriesQuery:
    """One metric of one connection: buckets of `grain` overlapping [start, end) (open ends allowed).

    dimension "" is the metric's total; a dimension name gives one series per member, narrowed to
    `members` when given (e.g. dimension="currency", members=("EUR", "GBP")).
    """

    connection_id: str
    metric: str
    grain: str = "month"
    start: dt.date | None = None
    end: dt.date | None = None
    dimension: str = TOTAL
    members: tuple[str, ...] = ()

    def validate(self, catalogs: Catalogs) -> None:
        """Raises KeyError for a metric no catalog has, ValueError saying what else to fix."""
        metric = get_metric(catalogs, self.metric)
        if self.grain not in GRAINS:
            raise ValueError(f"grain must be one of {', '.join(GRAINS)}, not {self.grain!r}")
        if self.dimension and self.dimension not in metric.all_dimensions:
            raise ValueError(f"{self.metric} has no dimension {self.dimension!r}; it has "
                             f"{', '.join(metric.all_dimensions) or 'none'}")
        if self.members and not self.dimension:
            raise ValueError("members filter a dimension: name the dimension too")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")


_POINTS = sql.SQL("""SELECT member, bucket, value, count FROM metric_points
                     WHERE connection_id = %(cid)s AND metric = %(metric)s AND grain = %(grain)s
                       AND dimension = %(dimension)s
                       AND (%(start)s::date IS NULL OR bucket_end > %(start)s::date)
                       AND (%(end)s::date IS NULL OR bucket < %(end)s::date)
                       AND (cardinality(%(members)s::text[]) = 0 OR member = ANY(%(members)s::text[]))
                     ORDER BY member, bucket""")


class MetricReader:
    """Reads metric series through the read-only role."""

    def __init__(self, dsn: str | None = None, *, catalogs: Catalogs, role: str | None = READER_ROLE) -> None:
        self.dsn = dsn or os.environ.get("BIZ_PG_READER_DSN") or load_settings().pg_dsn
        self.catalogs = catalogs
        self.role = role

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.dsn, autocommit=True, application_name="bizmetrics-reader") as conn:
            if self.role:
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.role)))
            conn.execute("SET default_transaction_read_only = on")
            yield conn

    def frame(self, query: SeriesQuery) -> pd.DataFrame:
        """Columns member, bucket, value, count; one row per stored bucket, ordered."""
        query.validate(self.catalogs)
        params = {"cid": query.connection_id, "metric": query.metric, "grain": query.grain,
                  "dimension": query.dimension, "start": query.start, "end": query.end,
                  "members": list(query.members)}
        with self.session() as conn:
            rows = conn.execute(_POINTS, params).fetchall()
        return pd.DataFrame(rows, columns=["member", "bucket", "value", "count"])

    def series(self, query: SeriesQuery) -> dict[str, SimpleTimeSeries]:
        """One SimpleTimeSeries per member ("" for the total)."""
        metric = get_metric(self.catalogs, query.metric)
        how = {Aggregation.BALANCE: "last", Aggregation.AVG: "mean"}.get(metric.aggregation, "sum")
        frame = self.frame(query)
        fiscal = self.fiscal_start(query.connection_id) if query.grain.startswith("fiscal") else 1
        out = {}
        for member, part in frame.groupby("member", sort=True):
            values = pd.Series(part["value"].astype(float).to_numpy(), index=pd.to_datetime(part["bucket"]))
            out[str(member)] = SimpleTimeSeries(values, query.grain, how=how, fiscal_start=fiscal, name=query.metric)
        return out

    def fiscal_start(self, connection_id: str) -> int:
        """The fiscal start month the connection's fiscal buckets were built with (1 when none yet)."""
        with self.session() as conn:
            row = conn.execute(
                """SELECT extract(month FROM bucket)::int FROM metric_points
                   WHERE connection_id = %s AND grain = 'fiscal_year' LIMIT 1""", (connection_id,)).fetchone()
        return row[0] if row else 1
