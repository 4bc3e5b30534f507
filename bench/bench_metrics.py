"""Metric aggregation: a full rebuild vs the incremental refresh after a load that changed a few records.

Usage: .venv/bin/python -m bench.bench_metrics [--rows 1000000] [--runs 5] [--keep NAME] [--explain] [--only TEXT]
                                               [--by-metric] [--sessions N]
Raw records are made in SQL (bench/synth.py); the refresh is timed inside a transaction that is rolled
back, so every run restates the same change from the same state (after an ANALYZE of the metric tables, as
autovacuum does soon after the rebuild). --explain prints the plan (EXPLAIN
ANALYZE, through auto_explain; needs a superuser, as the local cluster's role is) of every statement of each
scenario's refresh that took over 20 ms. --by-metric times each metric's rebuild alone, as a first load's refresh
runs it (its points and parts empty), `--runs` times in rolled-back transactions: where a rebuild's time goes
(the scenarios then run only if --only names them). --sessions N times the full rebuild again spread over N database
sessions, as the connection's refresh_aggregates runs a first sync's (shared/metrics/sessions.py), `--runs` times,
each against the one-session rebuild beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg

from bench.common import database, timed
from bench.synth import CONNECTION, generate
from plugins.registry import metric_catalogs
from shared.metrics import rebuild, refresh_dirty
from shared.metrics.calendar import load_calendar
from shared.metrics.refresh import _build
from shared.metrics.sessions import refresh_in_sessions

CATALOGS = metric_catalogs()

SCENARIOS = {
    "one dirty month (5% of March 2025's invoices changed)":
        "UPDATE qbo_invoice SET total_amt = total_amt + 1 WHERE connection_id = %s AND txn_date >= '2025-03-01' "
        "AND txn_date < '2025-04-01' AND id::int %% 20 = 0",
    "one dirty day (a recent day's payments changed)":
        "UPDATE qbo_payment SET total_amt = total_amt + 1 WHERE connection_id = %s AND txn_date = '2026-10-20'",
    "a payment backdated two years (March 2026 -> March 2024)":
        "UPDATE qbo_payment SET txn_date = '2024-03-15' WHERE connection_id = %s "
        "AND id = (SELECT min(id) FROM qbo_payment WHERE connection_id = %s AND txn_date = '2026-03-16')",
    "an invoice backdated two years (March 2026 -> March 2024, due date with it)":
        "UPDATE qbo_invoice SET txn_date = '2024-03-15', due_date = '2024-04-14' WHERE connection_id = %s "
        "AND id = (SELECT min(id) FROM qbo_invoice WHERE connection_id = %s AND txn_date = '2026-03-16')",
    "an invoice of two years ago deleted (tombstoned)":
        "UPDATE qbo_invoice SET deleted_at = now() WHERE connection_id = %s "
        "AND id = (SELECT min(id) FROM qbo_invoice WHERE connection_id = %s AND txn_date = '2024-11-15')",
}


def _explain(conn: psycopg.Connection, statement: str) -> None:
    """The plans of the refresh's statements over 20 ms, printed as the server sends them (NOTICE)."""
    with conn.transaction(force_rollback=True):
        conn.execute(statement, (CONNECTION,) * statement.count("%s"))
        conn.execute("LOAD 'auto_explain'")
        for setting, value in (("log_min_duration", "20"), ("log_analyze", "on"), ("log_level", "notice")):
            conn.execute(f"SET LOCAL auto_explain.{setting} = '{value}'")
        refresh_dirty(conn, CONNECTION, CATALOGS)


def _scenario(conn: psycopg.Connection, statement: str, runs: int) -> tuple[float, dict[str, float]]:
    totals, per_metric = [], {}
    for _ in range(runs):
        with conn.transaction(force_rollback=True):
            conn.execute(statement, (CONNECTION,) * statement.count("%s"))
            totals.append(timed(lambda: refresh_dirty(conn, CONNECTION, CATALOGS)) * 1000)
    # Which metrics the time goes to: the same restatement, metric by metric.
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL jit = off")  # as refresh_dirty does
        conn.execute(statement, (CONNECTION,) * statement.count("%s"))
        marks = dict(conn.execute("SELECT source, array_agg(DISTINCT day ORDER BY day) FROM metric_dirty "
                                  "WHERE connection_id = %s GROUP BY 1", (CONNECTION,)).fetchall())
        calendar = load_calendar(conn, CONNECTION, CATALOGS["quickbooks"].fiscal_start_sql)
        for metric in CATALOGS["quickbooks"].metrics:
            days = sorted({d for t in metric.tables for d in marks.get(t, ())})
            if days:
                per_metric[metric.name] = timed(lambda m=metric, d=days: _build(conn, m, CONNECTION, calendar,
                                                                                d)) * 1000
    return statistics.median(totals), per_metric


def _rebuild_by_metric(conn: psycopg.Connection, dsn: str, runs: int) -> dict[str, float]:
    """Median milliseconds of each metric's rebuild (refresh._build with no days), as a first load's refresh runs it:
    points and parts empty and vacuumed, every metric in turn in one transaction (rolled back). The connection's
    metrics are rebuilt and committed again at the end."""
    tables = ("metric_points", "metric_distinct_parts", "metric_balance_parts")
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        with conn.transaction():
            for table in tables:
                conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        with psycopg.connect(dsn, autocommit=True) as vacuum:
            vacuum.execute(f"VACUUM {', '.join(tables)}")
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL jit = off")  # as refresh_dirty does
            calendar = load_calendar(conn, CONNECTION, CATALOGS["quickbooks"].fiscal_start_sql)
            for metric in CATALOGS["quickbooks"].metrics:
                ms = timed(lambda m=metric, c=calendar: _build(conn, m, CONNECTION, c, None)) * 1000
                samples.setdefault(metric.name, []).append(ms)
    with conn.transaction():
        rebuild(conn, CONNECTION, CATALOGS)
    return {name: statistics.median(ms) for name, ms in samples.items()}


def _rebuild_in_sessions(conn: psycopg.Connection, dsn: str, sessions: int, runs: int) -> list[tuple[float, float]]:
    """(one session, `sessions` sessions) seconds of the connection's full rebuild, alternating, commit included."""

    def rebuilt_in(spread: int) -> float:
        with conn.transaction():
            conn.execute("DELETE FROM metric_state WHERE connection_id = %s", (CONNECTION,))
        started = time.perf_counter()
        with conn.transaction():
            refresh_in_sessions(conn, CONNECTION, CATALOGS, sessions=spread, connect=lambda: psycopg.connect(dsn))
        return time.perf_counter() - started

    return [(rebuilt_in(1), rebuilt_in(sessions)) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="keep (or reuse) the database of this name")
    parser.add_argument("--explain", action="store_true", help="print the plans of each refresh's slow statements")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this")
    parser.add_argument("--sessions", type=int, default=0,
                        help="time the full rebuild in this many sessions against one (--runs pairs)")
    parser.add_argument("--by-metric", action="store_true",
                        help="time each metric's rebuild alone (--runs times); the scenarios only with --only")
    args = parser.parse_args()
    with database(args.keep) as dsn, psycopg.connect(dsn) as conn:
        if args.explain:
            conn.add_notice_handler(lambda diag: print(diag.message_primary))
        if not conn.execute("SELECT 1 FROM qbo_invoice LIMIT 1").fetchone():
            seconds = timed(lambda: print("rows per table:", generate(conn, args.rows)))
            conn.commit()
            print(f"generated {args.rows:,} raw records in {seconds:.1f} s")
        full = timed(lambda: print("rebuild:", rebuild(conn, CONNECTION, CATALOGS).as_dict()))
        conn.commit()
        points = conn.execute("SELECT count(*) FROM metric_points").fetchone()[0]
        conn.commit()  # each rebuild below is then a transaction of its own, not a savepoint of this one
        print(f"\nfull rebuild of all {len(CATALOGS['quickbooks'].metrics)} metrics: {full * 1000:,.0f} ms "
              f"({points:,} metric points)")
        if args.by_metric:
            by_metric = _rebuild_by_metric(conn, dsn, args.runs)
            print(f"each metric rebuilt alone, median of {args.runs} (sum {sum(by_metric.values()):,.0f} ms):")
            for metric, ms in sorted(by_metric.items(), key=lambda kv: -kv[1]):
                print(f"    {metric:32} {ms:8.1f} ms")
        if args.sessions > 1:
            for one, spread in _rebuild_in_sessions(conn, dsn, args.sessions, args.runs):
                print(f"full rebuild in one session {one:6.2f} s, in {args.sessions} sessions {spread:6.2f} s "
                      f"({one / spread:.2f}x)")
        # As autovacuum does soon after a rebuild's inserts: the scenarios stand for changes made later.
        conn.execute("ANALYZE metric_points, metric_balance_parts, metric_distinct_parts")
        conn.commit()
        for name, statement in SCENARIOS.items():
            if args.only not in name or (args.by_metric and not args.only):
                continue
            median, per_metric = _scenario(conn, statement, args.runs)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"\n{name}: refresh_dirty median {median:,.1f} ms over {args.runs} runs (load average {load})")
            for metric, ms in sorted(per_metric.items(), key=lambda kv: -kv[1]):
                print(f"    {metric:32} {ms:8.1f} ms")
            if args.explain:
                _explain(conn, statement)


if __name__ == "__main__":
    main()
