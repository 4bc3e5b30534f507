"""Every dashboard panel's SQL on a database of N raw records: median latency per panel.

Usage: .venv/bin/python -m bench.bench_panels [--rows 10000000] [--runs 30] [--keep NAME]
Raw records are made in SQL (bench/synth.py), the metrics rebuilt from them, and a sync audit of 90 days of
half-hourly runs added; each panel's SQL (Grafana macros expanded as Grafana does, over its dashboard's
default range: 2 years, 7 days for sync health; $grain month) runs through the SELECT-only role, once to
warm up, then `--runs` times. The metric panels also run
at day grain, the largest series a user can pick.
"""

from __future__ import annotations

import argparse
import datetime as dt

import psycopg

from bench.common import database, median_ms, timed
from bench.synth import CONNECTION, generate
from grafana.dashboards import all_dashboards
from grafana.macros import expand
from plugins.registry import metric_catalogs
from shared.metrics import rebuild

CATALOGS = metric_catalogs()

AUDIT = """
INSERT INTO sync_runs (run_id, scope, mode, trigger, status, started_at, ended_at, errors)
SELECT 'run-' || i, 'all', 'incremental', 'timer', CASE WHEN i %% 97 = 0 THEN 'partial' ELSE 'succeeded' END,
       now() - i * interval '30 minutes', now() - i * interval '30 minutes' + interval '40 seconds',
       CASE WHEN i %% 97 = 0 THEN '[{"error": "throttled"}]'::jsonb ELSE '[]'::jsonb END
FROM generate_series(1, 4320) AS i;
INSERT INTO sync_run_streams (run_id, connection_id, stream, status, pages, fetched, inserted, updated, unchanged,
                              api_calls, started_at, ended_at)
SELECT 'run-' || i, %(cid)s, s, 'succeeded', 1, (i * 7 + length(s)) %% 50, (i %% 5), (i %% 3), 0, 1,
       now() - i * interval '30 minutes', now() - i * interval '30 minutes' + interval '20 seconds'
FROM generate_series(1, 4320) AS i, unnest(ARRAY['cdc', 'CompanyInfo', 'Preferences', 'TaxCode', 'TaxRate',
                                                 'ExchangeRate']) AS s;
INSERT INTO stream_state (connection_id, stream, watermark, last_run_id, last_success_at)
SELECT %(cid)s, s, '{}'::jsonb, 'run-1', now() - interval '30 minutes'
FROM unnest(ARRAY['cdc', 'CompanyInfo', 'Preferences', 'TaxCode', 'TaxRate', 'ExchangeRate']) AS s;
INSERT INTO api_usage (connection_id, plugin, month, calls)
VALUES (%(cid)s, 'quickbooks', date_trunc('month', now() AT TIME ZONE 'UTC')::date, 123456);
INSERT INTO oauth_tokens (connection_id, key_id, access_token_enc, refresh_token_enc, access_expires_at,
                          refresh_expires_at, consented_at)
VALUES (%(cid)s, 'k', '\\x00', '\\x00', now() + interval '1 hour', now() + interval '99 days', now())
"""


_SPAN = {"d": 1, "w": 7, "M": 31, "y": 365}


def _panels() -> list[tuple[str, str, str, dt.timedelta]]:
    """(dashboard, panel title, SQL, the dashboard's default time span, e.g. now-2y)."""
    out = []
    for name, dashboard in all_dashboards().items():
        text = dashboard["time"]["from"].removeprefix("now-")
        span = dt.timedelta(days=int(text[:-1]) * _SPAN[text[-1]])
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                out.append((name.removesuffix(".json"), panel["title"], target["rawSql"], span))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", help="keep (or reuse) the database of this name")
    args = parser.parse_args()
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with database(args.keep) as dsn:
        with psycopg.connect(dsn) as conn:
            if not conn.execute("SELECT 1 FROM qbo_invoice LIMIT 1").fetchone():
                seconds = timed(lambda: print("rows per table:", generate(conn, args.rows)))
                conn.commit()
                print(f"generated {args.rows:,} raw records in {seconds:.0f} s")
                seconds = timed(lambda: rebuild(conn, CONNECTION, CATALOGS))
                for statement in AUDIT.split(";\n"):
                    if statement.strip():
                        conn.execute(statement, {"cid": CONNECTION})
                conn.commit()
                print(f"full rebuild of the metrics: {seconds:.0f} s")
            raw = sum(conn.execute(f"SELECT count(*) FROM qbo_{t}").fetchone()[0] for t in (
                "customer", "invoice", "payment", "sales_receipt", "credit_memo", "refund_receipt", "bill",
                "bill_payment", "purchase"))
            points = conn.execute("SELECT count(*) FROM metric_points").fetchone()[0]
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in ("metric_points", "sync_runs", "sync_run_streams", "stream_state"):
                conn.execute(f"VACUUM ANALYZE {table}")
            conn.execute("SET ROLE bizmetrics_reader")
            conn.execute("SET default_transaction_read_only = on")
            print(f"\n{raw:,} raw records, {points:,} metric points; {args.runs} runs per panel\n")
            print(f"{'dashboard':20} {'panel':52} {'median ms':>9} {'max ms':>8} {'rows':>6}")
            medians = []
            for dashboard, title, raw_sql, span in _panels():
                start = end - span
                grains = ("month", "day") if "$grain" in raw_sql else ("month",)
                for grain in grains:
                    sql = expand(raw_sql, start, end, {"connection": CONNECTION, "grain": grain})
                    rows = len(conn.execute(sql).fetchall())
                    median, worst = median_ms(lambda s=sql: conn.execute(s).fetchall(), args.runs)
                    medians.append(median)
                    label = title if grain == "month" else f"{title} [day]"
                    print(f"{dashboard:20} {label[:52]:52} {median:9.2f} {worst:8.2f} {rows:6}")
            over = sum(1 for m in medians if m > 10)
            print(f"\n{len(medians)} panel queries: median of medians {sorted(medians)[len(medians) // 2]:.2f} ms, "
                  f"slowest median {max(medians):.2f} ms, {over} over 10 ms")


if __name__ == "__main__":
    main()
