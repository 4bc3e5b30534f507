"""Keeping metric_points equal to a from-scratch aggregation of the raw tables, incrementally.

The raw tables' triggers (migration 0007) mark (table, business date) in metric_dirty for every row a
statement inserts, deletes, or updates in a column a metric reads (old and new date both: a TxnDate moved
from March to January restates both months). refresh_dirty, called at the end of a stream's last load's
transaction (the marks of its earlier loads wait, committed with their rows), takes those marks and recomputes
exactly the buckets they touch:

- sum / count / avg: the marked days from the raw rows; every coarser bucket containing a marked day moves
  by the difference of the day rows (records and sum; an average is their quotient);
- distinct counts (active customers): the marked days' values are kept per day in metric_distinct_parts;
  a bucket containing a marked day moves by its records' difference and, for each value whose presence on a
  marked day changed, by its presence in the bucket after minus before (read from that value's stored days);
- medians: every bucket containing a marked day, from the raw rows (they do not add up);
- balances (as of the end of each bucket): every day from the earliest changed day on, as the last
  unchanged day's balance plus the running sum of the day deltas from then on. Where the marks are the
  events' exact dates (open receivables), the marked days' deltas come from the raw rows and the later
  ones are the stored deltas. Where they are lower bounds (overdue receivables: a payment's event depends on
  its invoice's due date), the events are kept summed per (day, key1, key2) in metric_balance_parts, the
  keys being the dates the triggers mark for the rows an event comes from: the parts whose keys the marks
  hit are taken out and the same keys' events put back from the raw rows, and the day deltas move by the
  difference (a payment backdated two years restates from its event's day, reading only the events of its
  own and the other marked days).

Every part table changes in the refresh's transaction, under its lock: a rolled-back load leaves them as they
were, and a rebuild of a metric rewrites its parts from the raw rows. (The connection's refresh_aggregates may
rebuild metrics in sessions of their own, each metric in one transaction while its own holds the lock:
sessions.py.)

One metric whose statements PostgreSQL refuses for the data they meet (SQLSTATE class 22: two stored amounts whose
sum overflows numeric, a date a cast refuses) fails alone (run_work_guarded): its work is rolled back to a
savepoint, so its points and parts stay as they were; metric_state records it as refused (REFUSED), so every later
refresh but a stream's end rebuilds it whole from the raw rows until the records allow it; and the refresh goes on
with the other metrics and commits. Before, it failed the refresh and the load that ran it: every attempt of the
stream's last load failed, and so did every sync of the connection, on two records. A stream's end skips refused
metrics (retry_refused=False): retrying them there would rebuild them whole at every stream's end, and would make
every stream's end leave its refresh to the connection's (leave_rebuilds). An error that is not the data's (a
parameter the refresh passed, such as the connection's time zone; one psycopg raised itself) fails the refresh as
any other error does.

Concurrent loads of one connection (streams load in parallel) are safe: refreshes take a per-connection
advisory lock, and each transaction marks only its own rows' dates, so the last refresh to touch a day sees
every committed change to it.

A metric whose definition or calendar (fiscal year start, time zone) differs from the one it was built with
(metric_state) is rebuilt whole, which is also how a new connection or a new catalog entry starts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import psycopg

from shared.metrics import sql
from shared.metrics.calendar import GRAINS, Calendar, load_calendar
from shared.metrics.catalog import Aggregation, Metric
from shared.metrics.registry import Catalogs
from shared.metrics.sql import Scope

log = logging.getLogger(__name__)

# metric_state's signature of a metric whose data PostgreSQL refused (run_work_guarded): never a definition's, so
# the metric is rebuilt whole, and marked as a retry (MetricWork.retry).
REFUSED = "refused"
# SQLSTATE of a parameter PostgreSQL refuses (e.g. `AT TIME ZONE` given a zone it does not know): the connection's
# settings, not its records, so not a refusal that one metric can be left with.
_INVALID_PARAMETER_VALUE = "22023"

# Serialises refreshes of one connection (parallel stream loads end in refresh_dirty at the same time).
_LOCK_CLASS = 0x6D657472


@dataclass
class RefreshResult:
    rebuilt: int = 0
    refreshed: int = 0
    marks: int = 0
    # Another refresh of the connection held its lock and the caller would not wait, or (rebuilds set) the refresh
    # would have rebuilt that many metrics whole and the caller left them: nothing was taken, the caller's marks wait
    # committed for the next refresh (the connection's refresh_aggregates at the latest).
    deferred: bool = False
    rebuilds: int = 0
    # Metrics whose statements the data refused (run_work_guarded): left as they were, to be rebuilt whole next time.
    failed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, int]:
        return {"rebuilt": self.rebuilt, "refreshed": self.refreshed, "marks": self.marks,
                "failed": len(self.failed)}


def refresh_dirty(conn: psycopg.Connection, connection_id: str, catalogs: Catalogs, *,
                  wait: bool = True, leave_rebuilds: bool = False, retry_refused: bool = True) -> RefreshResult:
    """Recompute the buckets this transaction's (and any committed, unconsumed) changes touched.

    Call it inside the transaction that changed the raw rows, after the last change; `catalogs` are the
    installed plugins' (the connection's plugin picks its own). With `wait=False` it refreshes only when no other
    refresh of the connection holds the lock, and otherwise returns `deferred` at once: the transaction's marks
    then commit with its rows and wait for a later refresh, which someone must run (sync_connection's
    refresh_aggregates does, after every stream). With `leave_rebuilds` a refresh that would rebuild two metrics
    or more whole is deferred the same way (with `rebuilds` set), for a refresh that spreads them over sessions
    (shared/metrics/sessions.py). Without `retry_refused`, metrics the data refused before are left out (module
    docstring): the marks it takes are not needed for them, since they are rebuilt whole.
    """
    if not lock_refresh(conn, connection_id, wait=wait):
        return RefreshResult(deferred=True)
    with conn.transaction() as savepoint:
        plan = plan_refresh(conn, connection_id, catalogs, take_marks(conn, connection_id))
        if not retry_refused:
            plan = plan.without_retries()
        left = plan.whole() if leave_rebuilds and plan.whole() >= 2 else 0
        if left:
            raise psycopg.Rollback(savepoint)  # back to the savepoint: the marks are put back
    if left:
        return RefreshResult(deferred=True, rebuilds=left)
    failed = [work.metric.name for work in plan.works if not run_work_guarded(conn, plan, work)]
    return plan.result(failed)


def lock_refresh(conn: psycopg.Connection, connection_id: str, *, wait: bool = True) -> bool:
    """Take the connection's refresh lock for this transaction (False: another holds it and `wait` is off), with
    no JIT for the rest of the transaction."""
    if wait:
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, connection_id))
    elif not conn.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                          (_LOCK_CLASS, connection_id)).fetchone()[0]:
        return False
    # These statements run in milliseconds but their cost estimates can pass jit_above_cost, and compiling
    # them took 0.7 s (measured, bench/bench_metrics.py): no JIT for the rest of this transaction.
    conn.execute("SET LOCAL jit = off")
    return True


def take_marks(conn: psycopg.Connection, connection_id: str) -> dict[str, list[dt.date]]:
    """The connection's marks (table -> its marked days), deleted in this transaction: a rollback puts them back."""
    rows = conn.execute(
        """WITH taken AS (DELETE FROM metric_dirty WHERE connection_id = %s RETURNING source, day)
           SELECT source, array_agg(DISTINCT day ORDER BY day) FROM taken GROUP BY source""",
        (connection_id,),
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class MetricWork:
    """One metric's part of a refresh."""

    metric: Metric
    days: list[dt.date] | None  # the marked days whose buckets are restated; None: the metric is rebuilt whole
    # Set when the metric was never built or was built with another definition or calendar: written to
    # metric_state with its rebuild.
    signature: str | None = None
    retry: bool = False  # rebuilt whole because the data refused its last refresh (REFUSED)


@dataclass(frozen=True)
class RefreshPlan:
    """What a refresh of one connection does, metric by metric (plan_refresh)."""

    connection_id: str
    calendar: Calendar
    marks: dict[str, list[dt.date]]
    works: tuple[MetricWork, ...]

    def whole(self) -> int:
        """How many metrics it rebuilds whole."""
        return sum(1 for work in self.works if work.days is None)

    def without_retries(self) -> RefreshPlan:
        """The same plan without the metrics the data refused before."""
        return replace(self, works=tuple(work for work in self.works if not work.retry))

    def result(self, failed: Collection[str] = ()) -> RefreshResult:
        done = [work for work in self.works if work.metric.name not in failed]
        rebuilt = sum(1 for work in done if work.signature is not None)
        return RefreshResult(rebuilt=rebuilt, refreshed=len(done) - rebuilt,
                             marks=sum(len(days) for days in self.marks.values()), failed=tuple(failed))


def plan_refresh(conn: psycopg.Connection, connection_id: str, catalogs: Catalogs,
                 marks: dict[str, list[dt.date]]) -> RefreshPlan:
    """Which metrics of the connection's catalog the marks touch, and how each is recomputed: rebuilt whole when
    its definition or calendar changed (metric_state) or the marks cover most of its days, else restated on the
    marked days."""
    row = conn.execute("SELECT plugin FROM connections WHERE connection_id = %s", (connection_id,)).fetchone()
    catalog = catalogs.get(row[0]) if row else None
    if catalog is None:
        return RefreshPlan(connection_id, Calendar(), marks, ())
    calendar = load_calendar(conn, connection_id, catalog.fiscal_start_sql)
    built = dict(conn.execute("SELECT metric, signature FROM metric_state WHERE connection_id = %s",
                              (connection_id,)).fetchall())
    works = []
    for metric in catalog.metrics:
        signature = metric.signature(f"{calendar};sql={sql.VERSION}")
        if built.get(metric.name) != signature:
            works.append(MetricWork(metric, None, signature, retry=built.get(metric.name) == REFUSED))
            continue
        days = sorted({d for table in metric.tables for d in marks.get(table, ())})
        if days:
            works.append(MetricWork(metric, None if _mostly(conn, connection_id, metric, days) else days))
    return RefreshPlan(connection_id, calendar, marks, tuple(works))


def run_work(conn: psycopg.Connection, plan: RefreshPlan, work: MetricWork) -> None:
    """Recompute one metric as planned, in conn's transaction (and record what a rebuild was built with)."""
    _build(conn, work.metric, plan.connection_id, plan.calendar, work.days,
           None if work.days is None else plan.marks)
    if work.signature is not None:
        conn.execute(
            """INSERT INTO metric_state (connection_id, metric, signature) VALUES (%s, %s, %s)
               ON CONFLICT (connection_id, metric)
               DO UPDATE SET signature = EXCLUDED.signature, built_at = now()""",
            (plan.connection_id, work.metric.name, work.signature),
        )


def run_work_guarded(conn: psycopg.Connection, plan: RefreshPlan, work: MetricWork) -> bool:
    """run_work in a savepoint of conn's transaction; False when the data refused its statements (module
    docstring): the savepoint is rolled back, the metric recorded as refused (mark_refused) and the refusal logged.
    Any other error (a lost connection, a bug, a parameter PostgreSQL refuses) propagates, failing the refresh."""
    try:
        with conn.transaction():
            run_work(conn, plan, work)
    except psycopg.DataError as exc:
        if not refused_by_data(exc):
            raise
        mark_refused(conn, plan.connection_id, [work.metric.name])
        log_refused(plan.connection_id, work.metric.name, exc)
        return False
    return True


def refused_by_data(exc: psycopg.DataError) -> bool:
    """Whether PostgreSQL refused what the records held, rather than a parameter the refresh passed or something
    psycopg refused before sending (no SQLSTATE)."""
    return exc.sqlstate is not None and exc.sqlstate != _INVALID_PARAMETER_VALUE


def mark_refused(conn: psycopg.Connection, connection_id: str, metrics: list[str]) -> None:
    """Record the metrics as refused, in conn's transaction: the refreshes after it rebuild each whole from the raw
    rows, whatever marks they find (the marks this refresh took are then not needed for them), and a stream's end
    leaves them out. built_at keeps when each was last built."""
    conn.execute("""INSERT INTO metric_state (connection_id, metric, signature)
                    SELECT %s, unnest(%s::text[]), %s
                    ON CONFLICT (connection_id, metric) DO UPDATE SET signature = EXCLUDED.signature""",
                 (connection_id, metrics, REFUSED))


def is_refused(conn: psycopg.Connection, connection_id: str, metric: str) -> bool:
    """Whether the data refused the metric's last refresh: its points are as of the last one that could compute it."""
    row = conn.execute("SELECT signature FROM metric_state WHERE connection_id = %s AND metric = %s",
                       (connection_id, metric)).fetchone()
    return row is not None and row[0] == REFUSED


def log_refused(connection_id: str, metric: str, exc: psycopg.DataError) -> None:
    # Only the error's class and SQLSTATE: a data error's text may quote what a record held.
    log.error("metric %s of connection %s was not refreshed: PostgreSQL refused the data it met (%s, SQLSTATE %s). "
              "Its points, if it has any, stay as they were, and the connection's refreshes rebuild it from the raw "
              "rows until the records allow it (e.g. amounts whose sum overflows numeric)",
              metric, connection_id, type(exc).__name__, exc.sqlstate)


def _mostly(conn: psycopg.Connection, connection_id: str, metric: Metric, days: list[dt.date]) -> bool:
    """Whether the marks cover at least half the days the metric has points for: then rebuilding it whole is
    cheaper than restating bucket by bucket (measured on the end of a 200-page upsert pass, which marks every
    day: the stream's refresh took 6.4 s, the first load's rebuild of the same rows 4.2 s)."""
    if len(days) < _REBUILD_FROM_DAYS:
        return False
    held = conn.execute("""SELECT count(*) FROM metric_points WHERE connection_id = %s AND metric = %s
                           AND grain = 'day' AND dimension = ''""", (connection_id, metric.name)).fetchone()[0]
    return 2 * len(days) >= held


# Fewer marked days than this are always restated bucket by bucket (a normal incremental sync).
_REBUILD_FROM_DAYS = 100


def rebuild(conn: psycopg.Connection, connection_id: str, catalogs: Catalogs) -> RefreshResult:
    """Recompute every metric of the connection from scratch (forgets what it was built with)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, connection_id))
    conn.execute("DELETE FROM metric_state WHERE connection_id = %s", (connection_id,))
    return refresh_dirty(conn, connection_id, catalogs)


def _build(conn: psycopg.Connection, metric: Metric, connection_id: str, calendar: Calendar,
           days: list[dt.date] | None, marks: dict[str, list[dt.date]] | None = None) -> None:
    """Rebuild the metric (days None) or recompute the buckets containing `days` (the union of its tables'
    marks). `marks` (table -> marked days) narrows a keyed balance's restatement; without it every table
    counts as marked on all of `days`, a superset, which restates the same values."""
    params: dict[str, Any] = {"cid": connection_id, "metric": metric.name, "fs": calendar.fiscal_start,
                              "tz": calendar.timezone, "days": days}
    if days is None:
        conn.execute("DELETE FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s", params)
    if metric.keyed:
        by_table = None if days is None else (marks if marks is not None else dict.fromkeys(metric.tables, days))
        _build_keyed_balance(conn, metric, params, by_table)
    elif metric.aggregation is Aggregation.BALANCE:
        _build_balance(conn, metric, params, days)
    elif metric.aggregation is Aggregation.DISTINCT:
        _build_distinct_count(conn, metric, params, days)
    elif metric.aggregation is Aggregation.MEDIAN:
        _build_median(conn, metric, params, days)
    else:
        _build_flow(conn, metric, params, days)


def _bounds(conn: psycopg.Connection, affected: str, params: dict[str, Any]) -> dict[str, Any]:
    """lo/hi: the first day of the earliest affected bucket and the day after the latest one."""
    lo, hi = conn.execute(f"SELECT min(bucket), max(metric_bucket_end(grain, bucket)) FROM ({affected}) a",
                          params).fetchone()
    return {**params, "lo": lo, "hi": hi}


_EVERYTHING = {"lo": dt.date.min, "hi": dt.date.max}
_MARKED_DAYS = "SELECT unnest(%(days)s::date[]) AS d"


def _build_flow(conn: psycopg.Connection, metric: Metric, params: dict[str, Any],
                days: list[dt.date] | None) -> None:
    if days is None:
        conn.execute(sql.insert_days(metric, Scope.ALL), params)
        conn.execute(sql.insert_rollup(metric, None), {**params, **_EVERYTHING})
        return
    # The marked days' rows are rewritten and every coarser bucket holding one moves by their difference (its
    # records and sum; an average is their quotient): a day two years back costs its own buckets, not reading
    # every day between it and the other marks.
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS metric_flow_change (day date, dimension text, member text, "
                 "count bigint, total numeric) ON COMMIT DROP")
    conn.execute("TRUNCATE metric_flow_change")
    conn.execute("""WITH old AS (DELETE FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s
                                 AND grain = 'day' AND bucket = ANY(%(days)s::date[])
                                 RETURNING bucket, dimension, member, count, total)
                    INSERT INTO metric_flow_change SELECT bucket, dimension, member, -count, -total FROM old""",
                 params)
    conn.execute(f"""WITH new AS ({sql.insert_days(metric, Scope.DAYS)}
                                  RETURNING bucket, dimension, member, count, total)
                     INSERT INTO metric_flow_change SELECT bucket, dimension, member, count, total FROM new""",
                 params)
    conn.execute(sql.upsert_rollup_changes(metric), params)
    conn.execute(f"""DELETE FROM metric_points p USING ({sql.affected_buckets(_MARKED_DAYS)}) a
                     WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.grain = a.grain
                       AND p.bucket = a.bucket AND p.count = 0""", params)


def _build_median(conn: psycopg.Connection, metric: Metric, params: dict[str, Any],
                    days: list[dt.date] | None) -> None:
    if days is None:
        conn.execute(sql.insert_median(metric, None), {**params, **_EVERYTHING})
        return
    affected = sql.affected_buckets(_MARKED_DAYS, GRAINS)
    conn.execute(sql.delete_buckets(affected), params)
    conn.execute(sql.insert_median(metric, affected), _bounds(conn, affected, params))


def _build_distinct_count(conn: psycopg.Connection, metric: Metric, params: dict[str, Any],
                          days: list[dt.date] | None) -> None:
    """A distinct count, kept with its per-day values (metric_distinct_parts). A refresh rewrites the marked
    days' parts from the raw rows and moves every bucket containing a marked day by what changed: its records
    by the marked days' difference, its distinct count by the values whose presence on a marked day changed,
    each counted in the bucket after minus before. A customer's invoice backdated two years thus reads that
    customer's stored days rather than the records of both years' year buckets."""
    if days is None:
        conn.execute("DELETE FROM metric_distinct_parts WHERE connection_id = %(cid)s AND metric = %(metric)s",
                      params)
        conn.execute(f"INSERT INTO metric_distinct_parts {sql.distinct_parts(metric, Scope.ALL)}", params)
        conn.execute(sql.insert_distinct_from_parts(metric), params)
        return
    # The marked days' parts as the raw rows have them now, against the stored ones: only the (day, members,
    # value) whose records differ are changed (an amount edited on a busy month rewrites nothing here).
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS metric_distinct_change (day date, dims text[], value text, "
                 "before bigint, after bigint) ON COMMIT DROP")
    conn.execute("TRUNCATE metric_distinct_change")
    conn.execute(f"""INSERT INTO metric_distinct_change
                     SELECT day, dims, value, sum(before), sum(after) FROM (
                         SELECT day, dims, value, records AS before, 0 AS after FROM metric_distinct_parts
                         WHERE connection_id = %(cid)s AND metric = %(metric)s AND day = ANY(%(days)s::date[])
                         UNION ALL
                         SELECT n.day, n.dims, n.value, 0, n.records
                         FROM ({sql.distinct_parts(metric, Scope.DAYS)}) AS n(cid, metric, day, dims, value, records)
                     ) d GROUP BY day, dims, value HAVING sum(before) <> sum(after)""", params)
    conn.execute("""DELETE FROM metric_distinct_parts p USING metric_distinct_change c
                    WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.day = c.day AND p.dims = c.dims
                      AND p.value IS NOT DISTINCT FROM c.value AND c.before > 0""", params)
    conn.execute("""INSERT INTO metric_distinct_parts (connection_id, metric, day, dims, value, records)
                    SELECT %(cid)s, %(metric)s, day, dims, value, after FROM metric_distinct_change WHERE after > 0""",
                 params)
    conn.execute(f"""INSERT INTO metric_points AS p (connection_id, metric, grain, bucket, bucket_end, dimension,
                                                     member, value, count, total)
                     SELECT %(cid)s, %(metric)s, c.grain, c.bucket, metric_bucket_end(c.grain, c.bucket),
                            c.dimension, c.member, c.distinct_change, c.records_change, c.distinct_change
                     FROM ({sql.distinct_changes(metric)}) AS c(grain, bucket, dimension, member, distinct_change,
                                                                records_change)
                     WHERE c.distinct_change <> 0 OR c.records_change <> 0
                     ON CONFLICT (connection_id, metric, grain, dimension, member, bucket) DO UPDATE
                     SET value = p.value + EXCLUDED.value, count = p.count + EXCLUDED.count,
                         total = p.total + EXCLUDED.total, computed_at = now()""", params)
    # A bucket (or member) left without records has no point, as after a rebuild.
    conn.execute(f"""DELETE FROM metric_points p USING ({sql.affected_buckets(_MARKED_DAYS, GRAINS)}) a
                     WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.grain = a.grain
                       AND p.bucket = a.bucket AND p.count = 0""", params)


def _build_balance(conn: psycopg.Connection, metric: Metric, params: dict[str, Any],
                   days: list[dt.date] | None) -> None:
    """Dense day balances, restated from the earliest marked day on: the balance of the day before plus a
    running sum of the day deltas from then on. Every source's marks are its rows' exact dates, so only the
    marked days' deltas are recomputed from the raw rows and every later day keeps its stored delta (`total`)."""
    since = None if days is None else days[0]
    _new_deltas(conn)
    if since is None:
        conn.execute(f"INSERT INTO metric_balance_deltas {sql.balance_deltas(metric, Scope.SINCE)}",
                     {**params, "since": dt.date.min})
    else:
        conn.execute(f"INSERT INTO metric_balance_deltas {sql.balance_deltas(metric, Scope.DAYS)}", params)
        conn.execute("""INSERT INTO metric_balance_deltas (day, delta, events)
                        SELECT bucket, total, count FROM metric_points
                        WHERE connection_id = %(cid)s AND metric = %(metric)s AND grain = 'day'
                          AND bucket >= %(since)s AND count > 0 AND bucket <> ALL(%(days)s::date[])""",
                     {**params, "since": since})
    _restate_balance(conn, params, since)


def _build_keyed_balance(conn: psycopg.Connection, metric: Metric, params: dict[str, Any],
                         marks: dict[str, list[dt.date]] | None) -> None:
    """A balance whose marks are lower bounds (an event's date depends on rows of two tables), kept with its
    events summed per (day, key1, key2) in metric_balance_parts, the keys being the dates the tables' triggers
    mark for the rows an event comes from. A changed row is marked at its old and new dates, so the events
    that changed are exactly among those with a key in the marks, before (the stored parts) and after (the
    raw rows, through each source's `keyed` predicate); every other event is untouched. The day deltas move
    by the difference, and the balance is restated from the first day it changes, not from the first mark:
    a payment backdated two years restates from its event's day (its invoice's due date), reading only its
    own and its marked neighbours' events. A rebuild (marks None) recomputes every part from the raw rows."""
    _new_deltas(conn)
    if marks is None:
        conn.execute("DELETE FROM metric_balance_parts WHERE connection_id = %(cid)s AND metric = %(metric)s",
                      params)
        # Every event is read, so its rows are best joined by hashing whole tables; the planner, without statistics
        # on what the joins match (payment lines by the invoice they name), chose index lookups per line: 1.0-1.3 s
        # against 0.4-0.65 s for the 38,285 applications of the full-sync benchmark's 100k (docs/SCALING.md).
        # set_config(..., true) would hold to the end of the transaction: the setting is put back after the statement.
        nestloop = conn.execute("SELECT current_setting('enable_nestloop')").fetchone()[0]
        conn.execute("SELECT set_config('enable_nestloop', 'off', true)")
        conn.execute(f"INSERT INTO metric_balance_parts {sql.balance_parts(metric, Scope.SINCE)}",
                     {**params, "since": dt.date.min})
        conn.execute("SELECT set_config('enable_nestloop', %s, true)", (nestloop,))
        conn.execute("""INSERT INTO metric_balance_deltas (day, delta, events)
                        SELECT day, sum(delta), sum(events) FROM metric_balance_parts
                        WHERE connection_id = %(cid)s AND metric = %(metric)s GROUP BY day""", params)
        _restate_balance(conn, params, None)
        return
    keyed = {**params, **sql.marked_parameters(metric, marks)}
    first, second = (*(keyed[f"marked_{t}"] for t in metric.tables), [])[:2]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS metric_balance_change (day date, delta numeric, events bigint) "
                 "ON COMMIT DROP")
    conn.execute("TRUNCATE metric_balance_change")
    # Two statements: a DELETE in a CTE is invisible to an INSERT beside it.
    conn.execute("""WITH old AS (DELETE FROM metric_balance_parts
                                 WHERE connection_id = %(cid)s AND metric = %(metric)s
                                   AND (key1 = ANY(%(first)s::date[]) OR key2 = ANY(%(second)s::date[]))
                                 RETURNING day, delta, events)
                    INSERT INTO metric_balance_change SELECT day, -delta, -events FROM old""",
                 {**params, "first": first, "second": second})
    conn.execute(f"""WITH new AS (INSERT INTO metric_balance_parts {sql.balance_parts(metric, Scope.KEYS)}
                                  RETURNING day, delta, events)
                     INSERT INTO metric_balance_change SELECT day, delta, events FROM new""", keyed)
    conn.execute("""INSERT INTO metric_balance_deltas (day, delta, events)
                    SELECT day, sum(delta), sum(events) FROM metric_balance_change GROUP BY day
                    HAVING sum(delta) <> 0 OR sum(events) <> 0""")
    since = conn.execute("SELECT min(day) FROM metric_balance_deltas").fetchone()[0]
    if since is None:
        return  # the marked rows' events are as they were: no point changes
    # Every other day from the first changed one on keeps its stored delta; a day whose events all went drops.
    conn.execute("""INSERT INTO metric_balance_deltas AS x (day, delta, events)
                    SELECT bucket, total, count FROM metric_points
                    WHERE connection_id = %(cid)s AND metric = %(metric)s AND grain = 'day'
                      AND bucket >= %(since)s AND count > 0
                    ON CONFLICT (day) DO UPDATE SET delta = x.delta + EXCLUDED.delta,
                                                    events = x.events + EXCLUDED.events""",
                 {**params, "since": since})
    conn.execute("DELETE FROM metric_balance_deltas WHERE events = 0")
    _restate_balance(conn, params, since)


def _new_deltas(conn: psycopg.Connection) -> None:
    """An empty metric_balance_deltas (day, delta, events): the day deltas a restatement sums."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS metric_balance_deltas (day date PRIMARY KEY, delta numeric, "
                 "events bigint) ON COMMIT DROP")
    conn.execute("TRUNCATE metric_balance_deltas")


def _restate_balance(conn: psycopg.Connection, params: dict[str, Any], since: dt.date | None) -> None:
    """Rewrite the day rows from `since` on (all when None) from metric_balance_deltas, which holds every day
    delta from `since` on, and the coarse buckets ending after it."""
    opening, prior_first, prior_last = 0, None, None
    if since is not None:
        opening, prior_first, prior_last = conn.execute(
            """SELECT coalesce((SELECT value FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s
                                AND grain = 'day' AND bucket < %(since)s ORDER BY bucket DESC LIMIT 1), 0),
                      (SELECT min(bucket) FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s
                       AND grain = 'day' AND bucket < %(since)s),
                      (SELECT max(bucket) FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s
                       AND grain = 'day' AND bucket < %(since)s AND count > 0)""",
            {**params, "since": since},
        ).fetchone()
    lo, hi = conn.execute("SELECT min(day), max(day) FROM metric_balance_deltas").fetchone()
    first = min((d for d in (prior_first, lo) if d is not None), default=None)
    last = max((d for d in (prior_last, hi) if d is not None), default=None)
    # Everything from `cutoff` on is recomputed; rows past the last event go (its events may have been deleted).
    cutoff = dt.date.min if since is None else (since if last is None else min(since, last + dt.timedelta(days=1)))
    bounds = {**params, "cutoff": cutoff}
    if since is not None:
        conn.execute("""DELETE FROM metric_points WHERE connection_id = %(cid)s AND metric = %(metric)s
                        AND (grain = 'day' AND bucket >= %(cutoff)s OR grain <> 'day' AND bucket_end > %(cutoff)s)""",
                     bounds)
    if last is None or first is None:
        return
    start = first if since is None else max(cutoff, first)
    if start <= last:
        conn.execute(sql.insert_balance_days(), {**params, "start": start, "last": last, "opening": opening})
    conn.execute(sql.insert_balance_rollup(), {**bounds, "first": first, "last": last})
