"""SQL generated from catalog entries: the rows of a metric's sources, and their aggregation into buckets.

Parameters every statement takes: %(cid)s connection, %(metric)s, %(fs)s fiscal start month, %(tz)s zone;
a scope adds %(days)s (date[]), %(lo)s/%(hi)s, or %(since)s.
"""

from __future__ import annotations

from enum import StrEnum

from shared.metrics.calendar import COARSE_GRAINS, GRAINS
from shared.metrics.catalog import Aggregation, Metric, Source

# Part of every metric's signature (refresh.py): bump it when a change here alters what the stored points
# hold, and every connection's metrics are rebuilt on their next refresh.
VERSION = 2


class Scope(StrEnum):
    ALL = "all"  # every record (a rebuild)
    DAYS = "days"  # records whose business date is in %(days)s
    RANGE = "range"  # business date in [%(lo)s, %(hi)s)
    SINCE = "since"  # balances: records with an event on or after %(since)s
    KEYS = "keys"  # keyed balances: records one of whose keys is in %(marked_<table>)s


def day_expr(source: Source) -> str:
    if source.timestamp:
        return f"(({source.date}) AT TIME ZONE %(tz)s)::date"
    return f"({source.date})::date"


def _scope_predicate(source: Source, scope: Scope) -> str:
    day = day_expr(source)
    if scope is Scope.DAYS:
        return f"{day} = ANY(%(days)s::date[])"
    if scope is Scope.RANGE:
        return f"{day} >= %(lo)s AND {day} < %(hi)s"
    if scope is Scope.SINCE:
        return source.since or f"{day} >= %(since)s"
    if scope is Scope.KEYS:
        return source.keyed or "(" + " OR ".join(f"({expr}) = ANY(%(marked_{table})s::date[])"
                                                 for table, expr in source.key_dates.items()) + ")"
    return "true"


def marked_parameters(metric: Metric, marks: dict[str, list]) -> dict[str, list]:
    """%(marked_<table>)s for every table of the metric: the days its trigger marked (none: empty)."""
    return {f"marked_{table}": list(marks.get(table, ())) for table in metric.tables}


def dimension_columns(metric: Metric) -> list[str]:
    return [f"dim_{i}" for i in range(len(metric.all_dimensions))]


def source_rows(metric: Metric, scope: Scope, keyed: bool = False) -> str:
    """UNION ALL of every source: (day, value, dim_0..dim_n), live records of the connection only; `keyed`
    adds key1, key2: the dates the metric's first and second tables' triggers mark for each record's rows."""
    parts = []
    for source in metric.sources:
        keys = []
        if keyed:
            dates = source.key_dates
            keys = [f"({dates[t]})::date AS key{i}" if t in dates else f"NULL::date AS key{i}"
                    for i, t in enumerate((*metric.tables, None, None)[:2], start=1)]
        dims = []
        for name in metric.all_dimensions:
            expr = source.dimension(name)
            if expr is None and name == "source":
                dims.append(f"'{source.label}'::text")
            else:
                dims.append(f"coalesce(({expr})::text, '(none)')" if expr else "'(none)'::text")
        # A record without an amount counts as zero: one odd record must not fail its load (value is NOT NULL).
        value = (source.value if metric.aggregation in (Aggregation.DISTINCT, Aggregation.MEDIAN)
                 else f"coalesce(({source.value}), 0)")
        select = ", ".join([f"{day_expr(source)} AS day", f"({value}) AS value",
                            *(f"{d} AS {c}" for d, c in zip(dims, dimension_columns(metric), strict=True)),
                            *keys])
        where = " AND ".join(["r.connection_id = %(cid)s", *source.live, *source.filters,
                              _scope_predicate(source, scope)])
        parts.append(f"SELECT {select} FROM {source.relation or source.table + ' r'} WHERE {where}")
    return "\nUNION ALL\n".join(parts)


def _grouping(metric: Metric, keys: str) -> tuple[str, str, str]:
    """(dimension expression, member expression, GROUP BY clause) for the total plus one set per dimension."""
    columns = dimension_columns(metric)
    if not columns:
        return "''", "''", f"GROUP BY {keys}"
    names = " ".join(f"WHEN grouping({c}) = 0 THEN '{n}'" for c, n in zip(columns, metric.all_dimensions,
                                                                            strict=True))
    members = " ".join(f"WHEN grouping({c}) = 0 THEN {c}" for c in columns)
    sets = ", ".join([f"({keys})", *(f"({keys}, {c})" for c in columns)])
    return f"CASE {names} ELSE '' END", f"CASE {members} ELSE '' END", f"GROUP BY GROUPING SETS ({sets})"


_INSERT = """INSERT INTO metric_points (connection_id, metric, grain, bucket, bucket_end, dimension, member,
                                   value, count, total)"""


def insert_days(metric: Metric, scope: Scope) -> str:
    """Day buckets of a sum/count/avg metric straight from the raw rows in scope."""
    dimension, member, group_by = _grouping(metric, "day")
    value = {Aggregation.SUM: "sum(value)", Aggregation.COUNT: "count(*)",
             Aggregation.AVG: "round(sum(value) / count(*), 2)"}[metric.aggregation]
    total = "count(*)" if metric.aggregation is Aggregation.COUNT else "sum(value)"
    return f"""{_INSERT}
        SELECT %(cid)s, %(metric)s, 'day', day, day + 1, {dimension}, {member}, {value}, count(*), {total}
        FROM ({source_rows(metric, scope)}) f
        WHERE day IS NOT NULL
        {group_by}"""


def affected_buckets(days_sql: str, grains: tuple[str, ...] = COARSE_GRAINS) -> str:
    """(grain, bucket) of every bucket that contains one of the days (a subquery of one date column `d`)."""
    grain_list = ", ".join(f"'{g}'" for g in grains)
    return f"""SELECT DISTINCT g.grain, metric_bucket(g.grain, d.d, %(fs)s) AS bucket
               FROM ({days_sql}) d, unnest(ARRAY[{grain_list}]) AS g(grain)"""


def delete_buckets(affected: str) -> str:
    return f"""DELETE FROM metric_points p USING ({affected}) a
               WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.grain = a.grain
                 AND p.bucket = a.bucket"""


def _bucketed_days(grains: tuple[str, ...]) -> str:
    """Day rows of the metric between %(lo)s and %(hi)s, once per grain with that grain's bucket."""
    grain_list = ", ".join(f"'{g}'" for g in grains)
    return f"""SELECT g.grain, metric_bucket(g.grain, p.bucket, %(fs)s) AS bucket, p.bucket AS day, p.dimension,
                      p.member, p.value, p.count, p.total
               FROM metric_points p CROSS JOIN unnest(ARRAY[{grain_list}]) AS g(grain)
               WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.grain = 'day'
                 AND p.bucket >= %(lo)s AND p.bucket < %(hi)s"""


def insert_rollup(metric: Metric, affected: str | None) -> str:
    """Coarse buckets of a sum/count/avg metric from its day buckets (cheap: at most 366 rows per bucket);
    only the `affected` (grain, bucket) pairs, or every bucket when None. Buckets are computed per day row and
    grouped (an equi-join), not joined by date range."""
    value = {Aggregation.SUM: "sum(x.total)", Aggregation.COUNT: "sum(x.count)",
             Aggregation.AVG: "round(sum(x.total) / sum(x.count), 2)"}[metric.aggregation]
    return f"""{_INSERT}
        {_only_affected(_bucketed_days(COARSE_GRAINS), affected)}
        SELECT %(cid)s, %(metric)s, x.grain, x.bucket, metric_bucket_end(x.grain, x.bucket), x.dimension, x.member,
               {value}, sum(x.count), sum(x.total)
        FROM x
        GROUP BY x.grain, x.bucket, x.dimension, x.member"""


def _flow_value(metric: Metric, count: str, total: str) -> str:
    """A sum/count/avg bucket's value from its records and sum (what insert_rollup computes)."""
    return {Aggregation.SUM: total, Aggregation.COUNT: count,
            Aggregation.AVG: f"CASE WHEN {count} = 0 THEN 0 ELSE round({total} / {count}, 2) END"}[metric.aggregation]


def upsert_rollup_changes(metric: Metric) -> str:
    """Coarse buckets of a sum/count/avg metric moved by metric_flow_change (the changed day rows: old with
    negative, new with positive count and total); a bucket whose count falls to 0 is left for deletion."""
    grain_list = ", ".join(f"'{g}'" for g in COARSE_GRAINS)
    return f"""{_INSERT}
        SELECT %(cid)s, %(metric)s, g.grain, metric_bucket(g.grain, c.day, %(fs)s),
               metric_bucket_end(g.grain, metric_bucket(g.grain, c.day, %(fs)s)), c.dimension, c.member,
               {_flow_value(metric, "sum(c.count)", "sum(c.total)")}, sum(c.count), sum(c.total)
        FROM metric_flow_change c CROSS JOIN unnest(ARRAY[{grain_list}]) AS g(grain)
        GROUP BY g.grain, metric_bucket(g.grain, c.day, %(fs)s), c.dimension, c.member
        HAVING sum(c.count) <> 0 OR sum(c.total) <> 0
        ON CONFLICT (connection_id, metric, grain, dimension, member, bucket) DO UPDATE
        SET count = metric_points.count + EXCLUDED.count, total = metric_points.total + EXCLUDED.total,
            value = {_flow_value(metric, "(metric_points.count + EXCLUDED.count)",
                                 "(metric_points.total + EXCLUDED.total)")},
            computed_at = now()"""


def _only_affected(rows: str, affected: str | None) -> str:
    """`WITH x AS (...)`: the bucketed rows, narrowed to the affected (grain, bucket) pairs. Both sides are
    materialised so the narrowing is a hash join on plain columns; left to itself the planner may nest-loop
    over metric_bucket() calls."""
    if affected is None:
        return f"WITH x AS ({rows})"
    return f"""WITH b AS MATERIALIZED ({rows}), a AS MATERIALIZED ({affected}),
               x AS (SELECT b.* FROM b JOIN a ON a.grain = b.grain AND a.bucket = b.bucket)"""


def insert_median(metric: Metric, affected: str | None) -> str:
    """Buckets of every grain of a median, from the raw rows in [%(lo)s, %(hi)s) (medians do not add up); only
    the `affected` (grain, bucket) pairs, or all when None."""
    dimension, member, group_by = _grouping(metric, "x.grain, x.bucket")
    grain_list = ", ".join(f"'{g}'" for g in GRAINS)
    dims = "".join(f", f.{c}" for c in dimension_columns(metric))
    # percentile_cont interpolates between the two middle values of an even count; `total` is the sum.
    value = "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value))::numeric, 2)"
    total = "sum(x.value)"
    # Each grain reads only the days its own affected buckets span (a dirty month's day and month buckets
    # need a month of rows, its year bucket a year).
    spans = (f"SELECT g AS grain, %(lo)s::date AS lo, %(hi)s::date AS hi FROM unnest(ARRAY[{grain_list}]) AS g"
             if affected is None else
             f"SELECT grain, min(bucket) AS lo, max(metric_bucket_end(grain, bucket)) AS hi FROM ({affected}) a "
             "GROUP BY grain")
    rows = f"""SELECT s.grain, metric_bucket(s.grain, f.day, %(fs)s) AS bucket, f.value{dims}
               FROM ({source_rows(metric, Scope.RANGE)}) f
               JOIN ({spans}) s ON f.day >= s.lo AND f.day < s.hi
               WHERE f.day IS NOT NULL"""
    return f"""{_INSERT}
        {_only_affected(rows, affected)}
        SELECT %(cid)s, %(metric)s, x.grain, x.bucket, metric_bucket_end(x.grain, x.bucket), {dimension}, {member},
               {value}, count(*), {total}
        FROM x
        {group_by}"""


def distinct_parts(metric: Metric, scope: Scope) -> str:
    """Rows of metric_distinct_parts (connection, metric, day, dims, value, records): per day, dimension members
    and value (as text), the records."""
    dims = ", ".join(f"f.{c}" for c in dimension_columns(metric))
    array = f"ARRAY[{dims}]::text[]" if dims else "'{}'::text[]"
    return f"""SELECT %(cid)s, %(metric)s, f.day, {array}, f.value::text, count(*)
               FROM ({source_rows(metric, scope)}) f WHERE f.day IS NOT NULL
               GROUP BY f.day, {array}, f.value::text"""


def insert_distinct_from_parts(metric: Metric) -> str:
    """Buckets of every grain of a distinct count, from its metric_distinct_parts (a rebuild writes them first).

    A value counts in a bucket when it has a part there; it is counted once, on its first day in the bucket,
    which is the day whose previous day with the value (in the same dimension member, for a breakdown) lies
    before the bucket's start. So one ordered pass per grouping (the total, each dimension) flags every part
    with the grains in which it is a first; the flags are summed per day and the days rolled up into each
    grain's buckets. No count(DISTINCT), whose sort per grain and grouping set over every record made the
    rebuild of active customers most of a first load's refresh (at 100k invoices 1.38 s against 0.63 s for this one
    on the same parts; at 1M invoices 11.9 s against 2.5 s: docs/SCALING.md)."""
    columns = dimension_columns(metric)
    dims = "".join(f", dims[{i}] AS {c}" for i, c in enumerate(columns, start=1))
    starts = "".join(f", metric_bucket('{g}', day, %(fs)s) AS start_{g}" for g in COARSE_GRAINS)
    # lag over value (and member): the previous day this value had, or NULL on its first. The parts are sorted for
    # it; under "C" the sort compares bytes (a value's parts are the same whatever the collation).
    previous = ['lag(day) OVER (PARTITION BY value COLLATE "C" ORDER BY day) AS prev'] + [
        f'lag(day) OVER (PARTITION BY value COLLATE "C", dims[{i}] ORDER BY day) AS prev_{c}'
        for i, c in enumerate(columns, start=1)]

    def firsts(prev: str, name: str) -> str:
        return ", ".join(f"count(*) FILTER (WHERE value IS NOT NULL AND ({prev} IS NULL OR {prev} < "
                         f"{'day' if g == 'day' else 'start_' + g})) AS {name}_{g}" for g in GRAINS)

    def per_grain(name: str) -> str:
        return "CASE g.grain " + " ".join(f"WHEN '{g}' THEN d.{name}_{g}" for g in GRAINS) + " END"

    grain_list = ", ".join(f"'{g}'" for g in GRAINS)
    dimension, member, group_by = _grouping(metric, "x.grain, x.bucket")
    value = ("CASE " + " ".join(f"WHEN grouping({c}) = 0 THEN sum(x.n_{c})" for c in columns) + " ELSE sum(x.n) END"
             if columns else "sum(x.n)")
    day_dims = "".join(f", {c}" for c in columns)
    return f"""{_INSERT}
        WITH o AS (SELECT day, value, records{dims}{starts}, {", ".join(previous)}
                   FROM metric_distinct_parts WHERE connection_id = %(cid)s AND metric = %(metric)s),
        d AS (SELECT day{day_dims}, sum(records) AS records, {firsts("prev", "n")}
                     {"".join(", " + firsts("prev_" + c, "n_" + c) for c in columns)}
              FROM o GROUP BY day{day_dims}),
        x AS (SELECT g.grain, metric_bucket(g.grain, d.day, %(fs)s) AS bucket{"".join(", d." + c for c in columns)},
                     d.records, {per_grain("n")} AS n{"".join(f", {per_grain('n_' + c)} AS n_{c}" for c in columns)}
              FROM d CROSS JOIN unnest(ARRAY[{grain_list}]) AS g(grain))
        SELECT %(cid)s, %(metric)s, x.grain, x.bucket, metric_bucket_end(x.grain, x.bucket), {dimension}, {member},
               {value}, sum(x.records), {value}
        FROM x
        {group_by}"""


# The key of metric_distinct_parts' hash index (migration 0041), written as the index has it so the planner uses it.
PART_KEY = "(p.connection_id || ' ' || p.metric || ' ' || p.value)"


def distinct_changes(metric: Metric) -> str:
    """(grain, bucket, dimension, member, value change, records change) of every bucket containing one of
    %(days)s, from metric_distinct_change (the marked days' parts whose records changed: before, after) and the
    parts now stored. Only values whose presence on a marked day changed can change a count: for each of them,
    its distinct presence in the bucket after minus before (before: its stored parts but those that have just
    appeared, plus the changed parts' former selves). Those values' parts are found through their hash index
    (PART_KEY), one lookup per value."""
    dimension, member, group_by = _grouping(metric, "x.grain, x.bucket")
    dims = "".join(f", r.dims[{i}] AS {c}" for i, c in enumerate(dimension_columns(metric), start=1))
    return f"""WITH a AS MATERIALIZED ({affected_buckets("SELECT unnest(%(days)s::date[]) AS d", GRAINS)}),
        v AS MATERIALIZED (SELECT DISTINCT value FROM metric_distinct_change
                           WHERE value IS NOT NULL AND (before > 0) <> (after > 0)),
        now AS MATERIALIZED (SELECT p.day, p.dims, p.value FROM v
                             JOIN metric_distinct_parts p
                               ON {PART_KEY} = %(cid)s::text || ' ' || %(metric)s::text || ' ' || v.value
                             WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.value = v.value),
        r AS (SELECT day, dims, value, 1 AS side, 0::bigint AS records FROM now
              UNION ALL
              SELECT day, dims, value, -1, 0 FROM now n
              WHERE NOT EXISTS (SELECT FROM metric_distinct_change c WHERE c.before = 0 AND c.day = n.day
                                AND c.dims = n.dims AND c.value = n.value)
              UNION ALL
              SELECT day, dims, value, -1, 0 FROM metric_distinct_change
              WHERE before > 0 AND value IN (SELECT value FROM v)
              UNION ALL
              SELECT day, dims, NULL, 0, after - before FROM metric_distinct_change),
        x AS (SELECT a.grain, a.bucket, r.value, r.side, r.records{dims}
              FROM r JOIN a ON r.day >= a.bucket AND r.day < metric_bucket_end(a.grain, a.bucket))
        SELECT x.grain, x.bucket, {dimension}, {member},
               count(DISTINCT x.value) FILTER (WHERE x.side = 1) - count(DISTINCT x.value) FILTER (WHERE x.side = -1),
               sum(x.records)
        FROM x
        {group_by}"""


def balance_deltas(metric: Metric, scope: Scope) -> str:
    """Signed events per day of a balance metric: (day, delta, events)."""
    return f"""SELECT day, sum(value) AS delta, count(*) AS events FROM ({source_rows(metric, scope)}) f
               WHERE day IS NOT NULL GROUP BY day"""


def balance_parts(metric: Metric, scope: Scope) -> str:
    """Signed events of a keyed balance per (day, key1, key2): the rows of metric_balance_parts."""
    return f"""SELECT %(cid)s, %(metric)s, day, key1, key2, sum(value), count(*)
               FROM ({source_rows(metric, scope, keyed=True)}) f
               WHERE day IS NOT NULL GROUP BY day, key1, key2"""


def insert_balance_days() -> str:
    """Dense day rows from %(start)s to %(last)s: %(opening)s plus the running sum of the deltas."""
    return f"""{_INSERT}
        SELECT %(cid)s, %(metric)s, 'day', d.day, d.day + 1, '', '',
               %(opening)s + sum(coalesce(x.delta, 0)) OVER (ORDER BY d.day), coalesce(x.events, 0),
               coalesce(x.delta, 0)
        FROM generate_series(%(start)s::date, %(last)s::date, interval '1 day') AS d0(ts)
        CROSS JOIN LATERAL (SELECT d0.ts::date AS day) d
        LEFT JOIN metric_balance_deltas x ON x.day = d.day"""


def insert_balance_rollup() -> str:
    """A coarse bucket of a balance holds the balance of its last day; count and total sum the bucket's day rows.
    Every coarse bucket ending after %(cutoff)s that holds day rows, the days running from %(first)s to
    %(last)s. The buckets are listed per grain and each reads its own day rows through the index (an
    equi-join on computed buckets evaluated metric_bucket() six times per day row and sorted them: 5x slower);
    the last day's value is a subquery per bucket, not a join, whose order a table never analyzed (a first
    rebuild) got wrong: 7.6 s."""
    steps = " ".join(f"WHEN '{g}' THEN interval '{step}'" for g, step in _BUCKET_STEPS.items())
    grain_list = ", ".join(f"'{g}'" for g in COARSE_GRAINS)
    return f"""{_INSERT}
        SELECT %(cid)s, %(metric)s, b.grain, b.bucket, b.bucket_end, '', '',
               (SELECT v.value FROM metric_points v WHERE v.connection_id = %(cid)s AND v.metric = %(metric)s
                  AND v.grain = 'day' AND v.dimension = '' AND v.member = '' AND v.bucket = s.day),
               s.count, s.total
        FROM (SELECT g.grain, s.bucket::date AS bucket, metric_bucket_end(g.grain, s.bucket::date) AS bucket_end
              FROM unnest(ARRAY[{grain_list}]) AS g(grain)
              CROSS JOIN LATERAL generate_series(
                  metric_bucket(g.grain, greatest(%(cutoff)s, %(first)s), %(fs)s)::timestamp, %(last)s::timestamp,
                  CASE g.grain {steps} END) AS s(bucket)) b
        CROSS JOIN LATERAL (SELECT sum(p.count) AS count, sum(p.total) AS total, max(p.bucket) AS day
                            FROM metric_points p
                            WHERE p.connection_id = %(cid)s AND p.metric = %(metric)s AND p.grain = 'day'
                              AND p.bucket >= b.bucket AND p.bucket < b.bucket_end) s
        WHERE s.day IS NOT NULL"""


# The length of each coarse grain's buckets (metric_bucket_end() in migration 0007).
_BUCKET_STEPS = {"week": "7 days", "month": "1 month", "quarter": "3 months", "year": "1 year",
                 "fiscal_quarter": "3 months", "fiscal_year": "1 year"}
