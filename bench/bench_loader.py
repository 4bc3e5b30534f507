"""Loader throughput on real PostgreSQL: binary COPY -> stage -> version-guarded upsert.

Usage: .venv/bin/python bench/bench_loader.py [--rows 200000] [--batch 5000]
Runs in a throwaway database on the local cluster (make services); prints rows/s for a first
load (all inserts), a reload of the same versions (all unchanged) and a load with 10% newer versions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins import registry
from shared.core.config import DEFAULT_PG_DSN
from shared.db.loader import upsert_records
from shared.db.migrate import migrate

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
PLUGIN = registry.get("quickbooks")  # the loader is measured on QuickBooks invoices


def invoice(i: int, version: int) -> dict:
    updated = T0 + dt.timedelta(seconds=i + version * 10_000_000)
    return {
        "Id": str(i), "SyncToken": str(version), "DocNumber": f"INV-{i}", "TxnDate": "2025-03-14",
        "DueDate": "2025-04-13", "CustomerRef": {"value": str(i % 500), "name": f"Customer {i % 500}"},
        "TotalAmt": float(Decimal(i % 10000) / 100), "Balance": 0, "CurrencyRef": {"value": "USD"},
        "Line": [{"Id": "1", "LineNum": 1, "Amount": float(Decimal(i % 10000) / 100),
                  "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}, "Qty": 1}}],
        "MetaData": {"CreateTime": T0.isoformat(), "LastUpdatedTime": updated.isoformat()},
    }


def timed_load(dsn: str, records: list[dict], batch: int) -> tuple[float, object]:
    spec = PLUGIN.table("Invoice")
    raws = [PLUGIN.to_raw("Invoice", r) for r in records]
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with conn.transaction():
            counts = upsert_records(conn, spec, "bench", "bench-run", raws, batch_rows=batch)
        return time.perf_counter() - started, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    admin = os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN
    name = f"bizmetrics_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(admin, dbname=name)
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn, registry.migration_folders())
        first = [invoice(i, 0) for i in range(args.rows)]
        changed = [invoice(i, 1 if i % 10 == 0 else 0) for i in range(args.rows)]
        for label, records in (("first load (inserts)", first), ("same versions again", first),
                               ("10% newer versions", changed)):
            seconds, counts = timed_load(dsn, records, args.batch)
            print(f"{label:<22} {args.rows:>9} rows  {seconds:7.2f} s  {args.rows / seconds:>9,.0f} rows/s  {counts}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
