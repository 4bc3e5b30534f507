"""Many workers, one budget: the calls N worker processes get served by one QuickBooks realm and one monday account
in a fixed span, against the rate the simulators allow, and the 429s they answered.

Usage: .venv/bin/python -m bench.bench_shared_budget [--workers 4] [--span 30]

The simulators run as their own processes with their windows scaled down (QuickBooks: 10 per 1 s and 40 per 5 s,
i.e. 8 requests/s sustained; monday: 20 requests per 5 s, 4/s), and hold far more than the span can read. Every
worker reads every stream of both connections through the production fetch path (fetch_pages, its own ApiClient
per fetch; tests/many_workers.py), as runs of several connections to one realm and account would, sharing the
budgets in PostgreSQL: a realm's large entity is one keyset chain today, and the few chains of one worker set
alone could not ask for the realm's whole rate. One source at a time, each with fresh simulators. The workers
start no fetch after `--span` seconds; the calls each simulator had served at that moment, divided by what its
windows allow in the span, is the figure (1.0: every call the limits allow).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import uuid
from typing import Any

from bench.common import database
from shared.blob.service import blob_service
from shared.core.config import load_settings
from tests.many_workers import Outcome, Scale, add_connections, plan_streams, run_workers, simulators

# Enough records that no worker runs out of pages within a 60-second span.
BIG = Scale(invoices=6000, payments=3000, boards=16, items_per_board=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--span", type=float, default=30.0, help="seconds measured (a multiple of the windows)")
    parser.add_argument("--monday-share", type=float, default=BIG.monday_share,
                        help="minute_budget_share of the monday connection")
    args = parser.parse_args()
    scale = dataclasses.replace(BIG, monday_share=args.monday_share)
    settings = load_settings()
    container = f"bench-budget-{uuid.uuid4().hex[:8]}"
    blob_service(settings.storage).create_container(container)
    os.environ.update(LANDING_CONTAINER=container, BIZ_ALLOW_LOOPBACK_SOURCES="true")
    print(f"{args.workers} workers, {args.span:.0f} s per source; load average {os.getloadavg()[0]:.2f} at the start")
    outcomes: dict[str, tuple[Outcome, dict[str, Any]]] = {}
    try:
        with database() as dsn:
            os.environ["BIZ_PG_DSN"] = dsn
            # One source at a time: a worker's fetches waiting on one account's slots would otherwise starve its
            # fetches of the other, and the figure would be the workers', not the budget's.
            for source in ("quickbooks", "monday"):
                with simulators(scale) as sims:
                    qbo_id, monday_id = add_connections(dsn, sims, scale)
                    streams = plan_streams([qbo_id if source == "quickbooks" else monday_id])
                    outcome = run_workers(streams, sims, workers=args.workers, every_stream=True, span=args.span)
                    outcomes[source] = (outcome, sims.refusals()[source])
    finally:
        blob_service(settings.storage).delete_container(container)
    allowed = {"quickbooks": scale.qbo_rate() * args.span, "monday": scale.monday_rate() * args.span}
    limits = {"quickbooks": f"{scale.qbo_per_second}/1 s and {scale.qbo_per_window}/{scale.qbo_window:g} s",
              "monday": f"{scale.monday_requests}/{scale.monday_window:g} s (share {scale.monday_share:g})"}
    for source, (outcome, refusals) in outcomes.items():
        served = outcome.served_at_end[source]
        waits: dict[str, int] = {}
        for worker in outcome.workers:
            for throttled in worker["throttled"]:
                waits[throttled["reason"]] = waits.get(throttled["reason"], 0) + 1
        errors = [e for w in outcome.workers for e in w["errors"]]
        print(f"{source:<10} limits {limits[source]:<28} served {served:4d} calls in {args.span:.0f} s, allowed "
              f"{allowed[source]:4.0f}: {served / allowed[source]:.3f} of the allowed rate; 429s: {refusals}")
        print(f"{'':<10} waits handed back (a durable timer in the app): {waits or 'none'}; worker errors: "
              f"{errors or 'none'}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")

if __name__ == "__main__":
    main()
