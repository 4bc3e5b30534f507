"""The metric data layer: the one place the API and tools read business time series from.

It reads metric_points only, through the SELECT-only role `bizmetrics_reader` (migration 0007): it logs in
with a DSN of its own (BIZ_PG_READER_DSN, a login role that is a member of it, such as bizmetrics_grafana) and
narrows the session to that role. Only on a development machine (BIZ_LOCAL_DEV=true) may it fall back to the
app's DSN and SET ROLE; elsewhere a missing BIZ_PG_READER_DSN is an error. Sessions are read-only and time out
after 30 s on top of that. Queries are checked against the catalogs the reader is given
(plugins.registry.metric_catalogs()).

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
from shared.db.connect import connect
from shared.metrics.calendar import GRAINS
from shared.metrics.catalog import Aggregation
from shared.metrics.registry import Catalogs, get_metric
from shared.metrics.timeseries import SimpleTimeSeries

READER_ROLE = "bizmetrics_reader"
READER_DSN_SETTING = "BIZ_PG_READER_DSN"
LOCAL_DEV_SETTING = "BIZ_LOCAL_DEV"
# Also set per session: a role's own statement_timeout applies at login only, not after SET ROLE.
STATEMENT_TIMEOUT = "30s"
TOTAL = ""


class ReaderNotConfigured(RuntimeError):
    """No reader DSN outside local development."""


def local_development() -> bool:
    """True when BIZ_LOCAL_DEV says this is a development machine (true/1/yes)."""
    return os.environ.get(LOCAL_DEV_SETTING, "").strip().lower() in ("true", "1", "yes")


def reader_dsn() -> str:
    """BIZ_PG_READER_DSN; the app's DSN only in local development (then narrowed by SET ROLE)."""
    dsn = os.environ.get(READER_DSN_SETTING)
    if dsn:
        return dsn
    if local_development():
        return load_settings().pg_dsn
    raise ReaderNotConfigured(
        f"App setting {READER_DSN_SETTING} is not set: metric reads log in with their own role, a member of "
        f"{READER_ROLE} (e.g. bizmetrics_grafana). Set it to that role's DSN; on a development machine "
        f"{LOCAL_DEV_SETTING}=true lets the reader use the app's DSN with SET ROLE instead.")


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
        self.dsn = dsn or reader_dsn()
        self.catalogs = catalogs
        self.role = role

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection]:
        with connect(self.dsn, autocommit=True, application_name="bizmetrics-reader") as conn:
            conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(STATEMENT_TIMEOUT)))
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
