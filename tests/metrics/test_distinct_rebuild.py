"""The rebuild of a distinct count from its per-day parts (sql.insert_distinct_from_parts) against a count by
hand, for shapes the catalogs' one distinct metric (active customers: one dimension, no NULL value) does not
have: two dimensions, NULL values, a value on one day under several members, a fiscal year starting in April."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import psycopg
import pytest

from shared.metrics import sql
from shared.metrics.catalog import Aggregation, Metric, Source, Unit
from tests.metrics.oracle import GRAINS, bucket

CID = "distinct-parts-test"
FISCAL = 4
METRIC = Metric(
    "test.distinct_buyers", "Distinct buyers", "test", Aggregation.DISTINCT, Unit.COUNT,
    (Source("t_orders", "r.day", "r.buyer", label="orders", dimensions=(("region", "r.region"),)),
     Source("t_returns", "r.day", "r.buyer", label="returns", dimensions=(("region", "r.region"),))),
    "Distinct buyers per bucket.", ("region",))
# No breakdown at all: one source, no dimension (the parts' members are empty).
TOTAL_ONLY = Metric("test.distinct_sellers", "Distinct sellers", "test", Aggregation.DISTINCT, Unit.COUNT,
                    (Source("t_orders", "r.day", "r.seller", label="orders"),), "Distinct sellers per bucket.")


def _parts(seed: int) -> list[tuple[dt.date, tuple[str, str], str | None, int]]:
    """(day, (region, source), value, records): unique per (day, members, value), as the parts table keeps them."""
    rng = random.Random(seed)
    start = dt.date(2024, 12, 20)
    parts: dict[tuple[dt.date, tuple[str, str], str | None], int] = {}
    for _ in range(1500):
        day = start + dt.timedelta(days=rng.randrange(500))
        members = (rng.choice(["north", "south", "(none)"]), rng.choice(["orders", "returns"]))
        value = None if rng.random() < 0.05 else f"b{rng.randrange(40)}"
        parts[(day, members, value)] = parts.get((day, members, value), 0) + rng.randint(1, 3)
    # The same buyer on one day in both sources and two regions: counted once in the total.
    for members in (("north", "orders"), ("south", "returns")):
        parts[(dt.date(2025, 3, 31), members, "b-both")] = 1
    return [(day, members, value, records) for (day, members, value), records in parts.items()]


def _expected(parts: list[tuple[dt.date, tuple[str, str], str | None, int]], breakdowns: bool) -> set[tuple]:
    values: dict[tuple, set[str]] = defaultdict(set)
    records: dict[tuple, int] = defaultdict(int)
    for day, (region, source), value, count in parts:
        for grain in GRAINS:
            start = bucket(grain, day, FISCAL)
            keys = [(grain, start, "", "")]
            if breakdowns:
                keys += [(grain, start, "region", region), (grain, start, "source", source)]
            for key in keys:
                records[key] += count
                if value is not None:
                    values[key].add(value)
    return {(*key, len(values[key]), records[key]) for key in records}


@pytest.mark.parametrize(("seed", "metric"), [(1, METRIC), (2, METRIC), (3, TOTAL_ONLY)])
def test_a_rebuild_from_parts_counts_each_value_once_per_bucket_and_member(pg_dsn: str, seed: int,
                                                                            metric: Metric) -> None:
    breakdowns = metric is METRIC
    assert metric.all_dimensions == (("region", "source") if breakdowns else ())
    parts = _parts(seed)
    if not breakdowns:  # the parts of a metric without dimensions have no members: one part per day and value
        merged: dict[tuple, int] = defaultdict(int)
        for day, _, value, count in parts:
            merged[(day, value)] += count
        parts = [(day, ("", ""), value, count) for (day, value), count in merged.items()]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM metric_distinct_parts WHERE connection_id = %s", (CID,))
        conn.execute("DELETE FROM metric_points WHERE connection_id = %s", (CID,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO metric_distinct_parts (connection_id, metric, day, dims, value, records) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(CID, metric.name, day, list(members) if breakdowns else [], value, count)
                 for day, members, value, count in parts])
        conn.execute(sql.insert_distinct_from_parts(metric), {"cid": CID, "metric": metric.name, "fs": FISCAL})
        stored = conn.execute(
            """SELECT grain, bucket, dimension, member, value::int, count::int, total::int, bucket_end
               FROM metric_points WHERE connection_id = %s AND metric = %s""", (CID, metric.name)).fetchall()
        conn.rollback()
    assert all(total == value for _, _, _, _, value, _, total, _ in stored)  # a distinct count's total is its value
    assert all(end > start for _, start, _, _, _, _, _, end in stored)
    assert {row[:6] for row in stored} == _expected(parts, breakdowns)
    assert len(stored) == len(_expected(parts, breakdowns))  # one point per bucket and member
    fiscal_years = {start for grain, start, *_ in stored if grain == "fiscal_year"}
    assert fiscal_years == {dt.date(2024, 4, 1), dt.date(2025, 4, 1), dt.date(2026, 4, 1)}


def test_a_restatement_finds_its_values_parts_by_lookup_and_only_its_connections(pg_dsn: str) -> None:
    """A backdated change restates from the stored days of the values whose presence changed
    (sql.distinct_changes): those are found through the parts' hash index (migration 0041), one lookup per value,
    not by reading the connection's parts, and another connection's parts of the same value count for nothing."""
    other = f"{CID}-other"
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=7 * i) for i in range(20)]
    marked = dt.date(2025, 6, 18)  # a Wednesday: its week started on 2025-06-16
    with psycopg.connect(pg_dsn) as conn:
        for connection in (CID, other):
            conn.execute("DELETE FROM metric_distinct_parts WHERE connection_id = %s", (connection,))
        # 1,000 buyers on 20 days in each connection; buyer b7 also bought on the marked day's Monday in the other.
        conn.execute("""INSERT INTO metric_distinct_parts (connection_id, metric, day, dims, value, records)
                        SELECT c, %s, d, ARRAY['north', 'orders'], 'b' || v, 1
                        FROM unnest(%s::text[]) c, unnest(%s::date[]) d, generate_series(0, 999) v""",
                     (METRIC.name, [CID, other], days))
        conn.execute("""INSERT INTO metric_distinct_parts (connection_id, metric, day, dims, value, records)
                        VALUES (%s, %s, '2025-06-16', ARRAY['north', 'orders'], 'b7', 1)""", (other, METRIC.name))
        conn.execute("ANALYZE metric_distinct_parts")
        # What refresh.py leaves before restating: b7 has appeared on the marked day (its part is stored now).
        conn.execute("""INSERT INTO metric_distinct_parts (connection_id, metric, day, dims, value, records)
                        VALUES (%s, %s, %s, ARRAY['north', 'orders'], 'b7', 1)""", (CID, METRIC.name, marked))
        conn.execute("CREATE TEMP TABLE metric_distinct_change (day date, dims text[], value text, before bigint, "
                     "after bigint) ON COMMIT DROP")
        conn.execute("INSERT INTO metric_distinct_change VALUES (%s, ARRAY['north', 'orders'], 'b7', 0, 1)", (marked,))
        params = {"cid": CID, "metric": METRIC.name, "fs": FISCAL, "days": [marked]}
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {sql.distinct_changes(METRIC)}", params))
        changes = {(grain, start, dimension): (value, records) for grain, start, dimension, member, value, records
                   in conn.execute(sql.distinct_changes(METRIC), params) if member in ("", "north")}
        conn.rollback()
    assert "metric_distinct_parts_lookup" in plan, plan
    # b7 is new to the day and the week (the other connection's Monday part counts for nothing); the month of June
    # had no b7 before either, and the year had (its 20 days from January on).
    assert changes[("day", marked, "")] == (1, 1)
    assert changes[("week", dt.date(2025, 6, 16), "")] == (1, 1)
    assert changes[("week", dt.date(2025, 6, 16), "region")] == (1, 1)
    assert changes[("month", dt.date(2025, 6, 1), "")] == (1, 1)
    assert changes[("year", dt.date(2025, 1, 1), "")] == (0, 1)
