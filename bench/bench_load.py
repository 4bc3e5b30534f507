"""An initial load and a 10%-newer upsert pass: PostgreSQL's own limit vs the production load path, in one run.

Usage: .venv/bin/python -m bench.bench_load [--pages 100] [--upsert-share 0.1]
                                            [--pages-per-call N | --load-bound | --split K]

N QuickBooks query pages of 1,000 invoices each (~3.5 lines each) are landed in Azurite exactly as fetch_pages
lands them (LandingZone, page_ref). Each method gets its own freshly migrated database:
- limit: psql `\\copy` of rows rendered before timing (CSV) into a TEMP stage, then a version-guarded
  INSERT .. ON CONFLICT into the same raw tables (their metric triggers included), lines replaced for the
  invoices written; 10 pages per transaction. It computes no metric series.
- production: `load_pages` in a child process, called as sync_stream calls it (LoadRequest messages of
  PAGES_PER_FETCH pages each, the run and stream rows present), then `refresh_aggregates` as sync_connection calls it
  after the streams: the metric refresh included where the code does it (a first load's last load leaves its rebuild
  to refresh_aggregates, which spreads it over METRIC_REFRESH_SESSIONS sessions; the 10% pass's last load refreshes
  in its own transaction).
  With `--load-bound`, the calls are sized as sync_stream sizes them when each load is slower than the fetch beside
  it, as here where every page is landed already: PAGES_PER_FETCH, then doubling up to LOAD_PAGES_MAX (2, 2, 4, 8,
  10, 10, ...; tests/unit/test_orchestrator_load_batches.py checks the orchestrator hands over the same).
  With `--split K`, the pages are loaded as sync_stream loads a large entity's complete read that the plugin split
  into K chains (plugins/quickbooks/partition.py): the first page's load beside K chains, each loading its range
  in load-bound calls, in threads of the one worker process (as the Functions host's thread pool runs activities),
  then the stream's own chain's last page, whose load ends the stream. As in a worker, at most LOADS_PER_WORKER
  of those calls run at once (activities/load.py); the others wait for a slot.
Then the same pages again with `--upsert-share` of the invoices newer, through both. Prints seconds, the ratio
limit/production (1.0: as fast as the limit) and the peak RSS of the process doing the load.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate, islice
from pathlib import Path
from typing import Any

import psycopg

from bench.common import database
from plugins import registry
from shared.blob.landing import LandingZone, page_ref
from shared.blob.service import blob_service
from shared.core.config import load_settings

CONNECTION = "bench-load"
STREAM = "Invoice"
PER_PAGE = 1000
# The plugin's partition.MIN_PAGES_PER_CHAIN: benchmarks reach a plugin only through the registry, so this is a
# copy, and tests/unit/test_orchestrator_load_batches.py checks the two agree.
MIN_PAGES_PER_CHAIN = 2
# What infra/modules/functionapp.bicep sets in a worker's environment that changes how a load runs; the child runs
# with it too (tests/infra/test_templates.py checks the two agree).
WORKER_ENVIRONMENT = {"MALLOC_ARENA_MAX": "2"}
LIMIT_PAGES_PER_TXN = 10
PLUGIN = registry.get("quickbooks")
T0 = dt.datetime(2021, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
ITEMS = [("1", "Services", 150.0), ("2", "Hours", 95.0), ("3", "Design", 120.0), ("4", "Rock Fountain", 275.0),
         ("5", "Sprinkler Pipes", 4.0), ("6", "Pump", 15.0), ("7", "Installation", 50.0)]


# -- the data ----------------------------------------------------------------------------------------------
def invoice(i: int, version: int) -> dict[str, Any]:
    """Invoice i at `version` (0 the first; a newer one changes its amounts, a line and its timestamps)."""
    rng = random.Random(i * 7919)
    day = T0 + dt.timedelta(days=int((rng.random() ** 0.7) * 1825))
    rng.seed(i * 7919 + version)
    updated = day + dt.timedelta(hours=2, seconds=i % 3600) + dt.timedelta(days=30 * version)
    customer = 1 + (i * 37) % 2000
    lines, total = [], 0.0
    for n in range(1, rng.randint(1, 4) + 1):
        item_id, item, price = ITEMS[rng.randrange(len(ITEMS))]
        qty = rng.randint(1, 20) + (version if n == 1 else 0)
        amount = round(qty * price, 2)
        total += amount
        lines.append({"Id": str(n), "LineNum": n, "Description": f"{item} for job {i % 977}", "Amount": amount,
                      "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": item_id, "name": item}, "UnitPrice": price,
                                              "Qty": qty, "ItemAccountRef": {"value": "79", "name": "Sales"},
                                              "TaxCodeRef": {"value": "NON"}}})
    total = round(total, 2)
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    paid = rng.random() < 0.6
    return {
        "Id": str(i), "SyncToken": str(version), "domain": "QBO", "sparse": False, "DocNumber": str(100000 + i),
        "TxnDate": day.date().isoformat(), "DueDate": (day + dt.timedelta(days=30)).date().isoformat(),
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "CustomerRef": {"value": str(customer), "name": f"Customer {customer}"},
        "SalesTermRef": {"value": "3"}, "TotalAmt": total, "Balance": 0 if paid else total,
        "HomeTotalAmt": total, "ApplyTaxAfterDiscount": False, "PrintStatus": "NeedToPrint",
        "EmailStatus": "NotSet", "BillEmail": {"Address": f"customer{customer}@example.com"},
        "BillAddr": {"Id": str(customer), "Line1": f"{customer} Main St", "City": "Bayshore", "CountrySubDivisionCode":
                     "CA", "PostalCode": "94326"},
        "TxnTaxDetail": {"TotalTax": 0}, "CustomField": [], "LinkedTxn": [], "Line": lines,
        "MetaData": {"CreateTime": (day + dt.timedelta(hours=1)).isoformat(), "LastUpdatedTime": updated.isoformat()},
    }


def pages(count: int, share: float) -> Iterator[list[dict[str, Any]]]:
    """`count` pages in Id order, made one at a time; every 1/share-th invoice newer (version 1)."""
    every = round(1 / share) if share else 0
    for p in range(count):
        ids = range(p * PER_PAGE + 1, (p + 1) * PER_PAGE + 1)
        yield [invoice(i, 1 if every and i % every == 0 else 0) for i in ids]


def land(landing: LandingZone, run_id: str, data: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    refs = []
    for sequence, records in enumerate(data):
        ref = page_ref(CONNECTION, STREAM, run_id, sequence)
        count = landing.put_page(ref, records)
        newest = records[-1]["MetaData"]["LastUpdatedTime"]
        refs.append({"ref": ref, "records": count, "watermark": {"ts": newest, "seen": [records[-1]["Id"]]}})
    return refs


# -- the limit: psql \copy of pre-rendered rows ----------------------------------------------------------------
def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def render(data: Iterable[list[dict[str, Any]]], folder: Path, run_id: str) -> tuple[list[str], list[str], list[Path]]:
    """Stage rows of invoices and lines as CSV files (one pair per transaction); returns column lists and files."""
    spec = PLUGIN.table(STREAM)
    child = spec.children[0]
    head = ["connection_id", "id", "created_at", "updated_at", "deleted_at"]
    invoice_cols = [*head, *(c.name for c in spec.columns), "payload", "run_id"]
    line_cols = ["connection_id", *(n for n, _ in child.fixed), child.parent_column, *(c.name for c in child.columns)]
    files = []
    source = iter(data)
    while chunk := list(islice(source, LIMIT_PAGES_PER_TXN)):
        inv_path, line_path = folder / f"inv{len(files):06d}.csv", folder / f"line{len(files):06d}.csv"
        with inv_path.open("w", newline="") as inv, line_path.open("w", newline="") as lin:
            inv_out, line_out = csv.writer(inv), csv.writer(lin)
            for page in chunk:
                for record in page:
                    raw = PLUGIN.to_raw(STREAM, record)
                    inv_out.writerow([CONNECTION, raw.id, raw.created_at, raw.updated_at, None,
                                      *map(_csv_value, raw.typed), json.dumps(record), run_id])
                    for row in child.text_rows(record):  # as the loader writes them: text, None for NULL
                        line_out.writerow([CONNECTION, *(v for _, v in child.fixed), raw.id, *row])
        files += [inv_path, line_path]
    return invoice_cols, line_cols, files


def limit_script(invoice_cols: list[str], line_cols: list[str], files: list[Path]) -> str:
    spec = PLUGIN.table(STREAM)
    cols = ", ".join(invoice_cols)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in invoice_cols if c not in ("connection_id", "id"))
    low = {True: "'-infinity'::timestamptz", False: "-1"}
    version = ", ".join(f"COALESCE({{a}}.{c}, {low[c.endswith('_at')]})" for c in spec.version)
    order = ", ".join(f"{c} DESC NULLS LAST" for c in spec.version)
    lines = ", ".join(line_cols)
    out = [r"\set ON_ERROR_STOP on",
           "CREATE TEMP TABLE stage_inv (LIKE qbo_invoice INCLUDING DEFAULTS);",
           "CREATE TEMP TABLE stage_line (LIKE qbo_txn_line INCLUDING DEFAULTS);",
           "CREATE TEMP TABLE written (id text, inserted boolean);"]
    for inv, lin in zip(files[::2], files[1::2], strict=True):
        out += ["BEGIN;",
                rf"\copy stage_inv ({cols}) FROM '{inv}' WITH (FORMAT csv)",
                rf"\copy stage_line ({lines}) FROM '{lin}' WITH (FORMAT csv)",
                f"""WITH w AS (INSERT INTO qbo_invoice AS t ({cols})
                    SELECT DISTINCT ON (connection_id, id) {cols} FROM stage_inv ORDER BY connection_id, id, {order}
                    ON CONFLICT (connection_id, id) DO UPDATE SET {updates}, loaded_at = now()
                    WHERE ROW({version.format(a='t')}) < ROW({version.format(a='excluded')})
                    RETURNING id, (xmax = 0) AS inserted) INSERT INTO written SELECT id, inserted FROM w;""",
                f"""DELETE FROM qbo_txn_line l USING written w WHERE l.connection_id = '{CONNECTION}'
                    AND l.txn_type = '{STREAM}' AND l.txn_id = w.id AND NOT w.inserted;""",
                f"""INSERT INTO qbo_txn_line ({lines}) SELECT {', '.join('s.' + c for c in line_cols)}
                    FROM stage_line s JOIN written w ON w.id = s.txn_id;""",
                "TRUNCATE stage_inv, stage_line, written;",
                "COMMIT;"]
    return "\n".join(out) + "\n"


def run_limit(dsn: str, script: str, folder: Path, name: str) -> tuple[float, float]:
    """(seconds, peak RSS MB) of psql running the script."""
    path = folder / f"{name}.sql"
    path.write_text(script)
    started = time.perf_counter()
    proc = subprocess.Popen(["psql", "-X", "-q", "-d", dsn, "-f", str(path)], stdout=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"psql failed ({proc.returncode}) on {path}")
    return seconds, peak


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM: the process's own peak (getrusage's ru_maxrss would include the parent's RSS at fork)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    return int(kb) / 1024


# -- the production path: load_pages in a child process ---------------------------------------------------------
def fixed_calls(pages: int, per_call: int) -> list[int]:
    """Pages per load_pages call when every call gets `per_call` pages (a fetch-bound stream's, at PAGES_PER_FETCH)."""
    return [min(per_call, pages - start) for start in range(0, pages, per_call)]


def load_bound_calls(pages: int, pages_per_fetch: int, load_pages_max: int) -> list[int]:
    """Pages per load_pages call as sync_stream hands them over when each load is slower than the fetch beside it:
    the first fetch has no load beside it, every later round's load is the slower, so each fetch after the second
    reads one doubling more (activities.fetch.pages_to_read caps it at LOAD_PAGES_MAX), and each load gets what the
    fetch before it landed."""
    from activities.fetch import pages_to_read
    from shared.core.messages import FetchRequest

    calls: list[int] = []
    doublings = 0
    while sum(calls) < pages:
        size, reached = pages_to_read(FetchRequest("run", CONNECTION, STREAM, cursor=None, doublings=doublings),
                                      pages_per_fetch, load_pages_max)
        calls.append(min(size, pages - sum(calls)))
        doublings = reached + 1 if len(calls) > 1 else reached
    return calls


# A call: (first page, pages). Lanes run side by side, each its calls in order; then the stream's last call.
Call = tuple[int, int]


def placed(first: int, sizes: list[int]) -> list[Call]:
    """Calls of `sizes` pages each, one after another from page `first`."""
    return list(zip(accumulate(sizes[:-1], initial=first), sizes, strict=True))


def one_chain(calls: list[int]) -> tuple[list[list[Call]], Call]:
    """One chain's calls in order: the last one ends the stream (and may hold the refresh)."""
    chain = placed(0, calls)
    return [chain[:-1]], chain[-1]


def split_chains(pages: int, chains: int, pages_per_fetch: int, load_pages_max: int) -> tuple[list[list[Call]], Call]:
    """The loads of a complete read split after its first page (sync_stream with FetchResult.chains): the first
    page's load beside `chains` chains of whole pages (as partition.cut_positions sizes them: at least two pages,
    the last chain the smaller), each in load-bound calls, then the stream's own chain's last load. Here the
    stream's own chain loads the last landed page; the real one reads what lies after the newest cut (a record),
    so this errs on the slow side."""
    middle = pages - 2
    if chains < 1 or middle < 1:
        raise ValueError("a split needs at least one chain and three pages")
    per_chain = max(MIN_PAGES_PER_CHAIN, -(-middle // chains))
    lanes: list[list[Call]] = [[(0, 1)]]
    for first in range(1, pages - 1, per_chain):
        size = min(per_chain, pages - 1 - first)
        lanes.append(placed(first, load_bound_calls(size, pages_per_fetch, load_pages_max)))
    return lanes, (pages - 1, 1)


def run_production(dsn: str, container: str, run_id: str, refs: list[dict[str, Any]],
                   plan: tuple[list[list[Call]], Call], folder: Path) -> dict[str, Any]:
    """Calls load_pages in a child process as `plan` says; returns its seconds, peak RSS and the sum of its
    counts."""
    lanes, last = plan
    job = folder / f"{run_id}.json"
    job.write_text(json.dumps({"run_id": run_id, "refs": refs, "lanes": lanes, "last": last}))
    env = {**os.environ, **WORKER_ENVIRONMENT, "BIZ_PG_DSN": dsn, "LANDING_CONTAINER": container}
    out = subprocess.run([sys.executable, "-m", "bench.bench_load", "--child", str(job)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(job_path: str) -> None:
    from activities.aggregates import refresh_aggregates
    from activities.load import load_pages
    from shared.core.messages import ConnectionKey, LoadRequest, PageRef

    job = json.loads(Path(job_path).read_text())
    refs = job["refs"]

    def call(first: int, size: int, ends_stream: bool) -> dict[str, int]:
        batch = [PageRef(**ref) for ref in refs[first:first + size]]
        request = LoadRequest(job["run_id"], CONNECTION, STREAM, pages=batch,
                              ends_stream=ends_stream,  # as sync_stream: the stream's own chain's last load
                              keep_ids=True)  # a complete read: its sweep follows
        return load_pages(request.to_json())

    def lane(calls: list[list[int]]) -> list[dict[str, int]]:
        return [call(first, size, False) for first, size in calls]

    started = time.perf_counter()
    # The chains load side by side, as the worker's thread pool runs the activities of the chains' orchestrations.
    with ThreadPoolExecutor(max_workers=max(1, len(job["lanes"]))) as pool:
        results = [counts for done in pool.map(lane, job["lanes"]) for counts in done]
    last_started = time.perf_counter()
    results.append(call(*job["last"], True))
    refresh_started = time.perf_counter()
    # As sync_connection does once its streams have ended: the refresh a first sync's last load leaves to the
    # connection (activities/stream_end.py), rebuilding the metrics in METRIC_REFRESH_SESSIONS sessions.
    refresh_aggregates(ConnectionKey(CONNECTION).to_json())
    ended = time.perf_counter()
    seconds = ended - started
    totals: dict[str, int] = {}
    for counts in results:
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    print(json.dumps({"seconds": seconds, "last_call": refresh_started - last_started,
                      "refresh": ended - refresh_started, "peak_mb": peak_rss_mb(), "counts": totals}))


# -- the comparison ------------------------------------------------------------------------------------------------
def prepare(dsn: str, run_id: str) -> None:
    """The connection, run and stream rows a real run has before its first load."""
    from shared.db import runs
    from shared.db.connections import Connection, upsert_connection

    with psycopg.connect(dsn) as conn:
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "Bench load", {"realm_id": "1"}))
        runs.begin_run(conn, run_id, CONNECTION, "full", "manual", "bench")
        runs.begin_stream(conn, run_id, CONNECTION, STREAM)


def fingerprint(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            """SELECT (SELECT (count(*), sum(total_amt), sum(sync_token)) FROM qbo_invoice),
                      (SELECT (count(*), sum(amount), sum(qty)) FROM qbo_txn_line)""").fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--upsert-share", type=float, default=0.1)
    parser.add_argument("--pages-per-call", type=int, default=None,
                        help="pages per load_pages call (default: PAGES_PER_FETCH, as sync_stream hands them over)")
    parser.add_argument("--load-bound", action="store_true",
                        help="size the calls as sync_stream does when loading is the slower (2, 2, 4, 8, 10, ...)")
    parser.add_argument("--split", type=int, default=0, metavar="K",
                        help="load as a complete read split into K chains (plugins/quickbooks/partition.py: 4)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    settings = load_settings()
    if (args.load_bound or args.split) and args.pages_per_call:
        parser.error("--load-bound and --split size the calls themselves: leave out --pages-per-call")
    if args.split:
        plan = split_chains(args.pages, args.split, settings.pages_per_fetch, settings.load_pages_max)
        sizing = (f"the first page beside {len(plan[0]) - 1} chains of {len(plan[0][1])} load-bound calls "
                  f"({', '.join(str(n) for _, n in plan[0][1][:6])}, ...), then the last page")
    elif args.load_bound:
        calls = load_bound_calls(args.pages, settings.pages_per_fetch, settings.load_pages_max)
        plan = one_chain(calls)
        sizing = f"calls sized as a load-bound stream's ({', '.join(map(str, calls[:6]))}, ...)"
    else:
        calls = fixed_calls(args.pages, args.pages_per_call or settings.pages_per_fetch)
        plan = one_chain(calls)
        sizing = f"{calls[0]} page(s) per load_pages call"
    container = f"bench-load-{uuid.uuid4().hex[:8]}"
    landing = LandingZone(settings.storage, container)
    print(f"{args.pages} pages of {PER_PAGE} invoices, {sizing}, at most {settings.loads_per_worker} loads at once "
          f"(LOADS_PER_WORKER); load average {os.getloadavg()[0]:.2f} at the start")
    started = time.perf_counter()
    runs = {"first load": (f"run-first-{uuid.uuid4().hex[:6]}", 0.0),
            f"{args.upsert_share:.0%} newer": (f"run-again-{uuid.uuid4().hex[:6]}", args.upsert_share)}
    refs = {label: land(landing, run_id, pages(args.pages, share)) for label, (run_id, share) in runs.items()}
    print(f"generated and landed {2 * args.pages} pages in {time.perf_counter() - started:.0f} s")
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, database() as limit_dsn, \
                database() as prod_dsn:
            folder = Path(tmp)
            for label, (run_id, share) in runs.items():
                if share:
                    # What autovacuum does after a first load, done before timing either method's upsert pass so
                    # that it does not run in the middle of one of them.
                    for dsn in (limit_dsn, prod_dsn):
                        with psycopg.connect(dsn, autocommit=True) as conn:
                            conn.execute("VACUUM ANALYZE")
                cols = render(pages(args.pages, share), folder, run_id)
                limit_seconds, limit_peak = run_limit(limit_dsn, limit_script(*cols), folder, label.split()[0])
                for path in cols[2]:
                    path.unlink()
                prepare(prod_dsn, run_id)
                prod = run_production(prod_dsn, container, run_id, refs[label], plan, folder)
                results[label] = {"limit": (limit_seconds, limit_peak),
                                  "load_pages": (prod["seconds"], prod["peak_mb"])}
                print(f"\n{label}: {prod['counts']}; load_pages' last call {prod['last_call']:.1f} s, then "
                      f"refresh_aggregates {prod['refresh']:.1f} s (the metric refresh is in one or the other)")
                for method, (seconds, peak) in results[label].items():
                    print(f"  {method:<11} {seconds:8.1f} s  {limit_seconds / seconds:5.2f} of the limit  "
                          f"peak RSS {peak:6.0f} MB")
            same = fingerprint(limit_dsn) == fingerprint(prod_dsn)
            print(f"\nsame invoices and lines in both databases: {same}")
            with psycopg.connect(prod_dsn) as conn:
                pending = conn.execute("SELECT count(*) FROM metric_dirty").fetchone()[0]
            print(f"dirty marks left unrefreshed by the production path: {pending}")
    finally:
        blob_service(settings.storage).delete_container(container)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
