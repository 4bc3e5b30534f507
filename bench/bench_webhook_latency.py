"""Webhook latency end to end on the local stack: from a change in the QuickBooks simulator to the new value in
metric_points, p50 / p95 / max over `--changes` changes made one at a time (issue 12: p95 under 10 s).

The path is the one `make api` and `make demo`'s last step serve (devhost/webhook_demo.py): the simulator (the demo
company, in this process, its clock at the real time) posts a signed CloudEvents webhook to the API's route, which
queues a notice on Azurite; the local Durable host's queue trigger starts the debounced webhook run (the default
2-second debounce unless BIZ_CHANGE_DEBOUNCE_SECONDS says otherwise), which reads CDC, loads the invoice and
refreshes the metrics. Each change adds a line of 250.00 to the latest invoice; its clock stops when "Revenue
invoiced" for that month shows it (polled every 0.1 s), and the next change waits until the run has let go of the
connection. A throwaway database, blob container and change queue of its own; needs PostgreSQL and Azurite
(`make services`).

    .venv/bin/python -m bench.bench_webhook_latency --changes 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import database

PLUGIN = "quickbooks"


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile (share 0.95: p95)."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for one change, in seconds")
    args = parser.parse_args(argv)

    from azure.core.exceptions import ResourceNotFoundError

    from devhost import LocalDurableHost
    from plugins import registry
    from shared.blob.service import blob_service
    from shared.changes.queue import QUEUE_NAME, queue_client
    from shared.core.config import load_settings
    from shared.core.messages import SyncRequest
    from shared.core.secrets import env_name
    from shared.db.connect import connect
    from shared.db.connections import upsert_connection

    container, queue = f"bench-webhook-{uuid.uuid4().hex[:8]}", f"bench-changes-{uuid.uuid4().hex[:8]}"
    blobs = blob_service(load_settings().storage)
    blobs.create_container(container)
    samples: list[float] = []
    print(f"{args.changes} changes, one at a time; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    try:
        with database() as dsn, _simulator() as sim_url, tempfile.TemporaryDirectory() as tmp:
            # The plugin's demo source, pointed at this simulator: its connection, credentials and webhook step.
            os.environ["QBO_BASE_URL"] = sim_url
            source = registry.get(PLUGIN).demo()
            assert source is not None and source.webhook is not None
            [connection] = source.connections
            os.environ.update({"BIZ_PG_DSN": dsn, "LANDING_CONTAINER": container, "BIZ_ALLOW_LOOPBACK_SOURCES": "true",
                               "SECRET_API_KEY_PEPPER": uuid.uuid4().hex,
                               **{env_name(name): value for name, value in source.secrets.items()}})
            with connect() as conn, conn.transaction():
                upsert_connection(conn, connection)
            from function_app import app

            host = LocalDurableHost(app, Path(tmp) / "bench.sqlite", queue_names={QUEUE_NAME: queue})
            try:
                run_id = f"run-{uuid.uuid4().hex[:16]}"
                instance = host.start_new("sync_all", f"bench-{run_id}", SyncRequest(
                    run_id, connection.connection_id, "full").to_json())
                done = host.run_until_complete(instance, timeout=600)
                if (done.get("output") or {}).get("status") != "succeeded":
                    raise SystemExit(f"the first, full sync did not succeed: {done.get('output')}")
                samples = _measure(host, source, args.changes, args.timeout, queue_client(name=queue))
            finally:
                host.close()
    finally:
        blobs.delete_container(container)
        for name in (queue, queue + "-poison"):
            with contextlib.suppress(ResourceNotFoundError):
                queue_client(name=name).delete_queue()
    if len(samples) < args.changes:
        print(f"only {len(samples)} of {args.changes} changes reached metric_points in time", file=sys.stderr)
        return 1
    print(f"\n| changes | p50 | p95 | max |\n|---:|---:|---:|---:|\n| {len(samples)} | "
          f"{statistics.median(samples):.2f} s | {percentile(samples, 0.95):.2f} s | {max(samples):.2f} s |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def _measure(host: Any, source: Any, changes: int, timeout: float, change_queue: Any) -> list[float]:
    """Serve the API (its webhook routes writing `change_queue`, which the host's trigger reads) and time each
    change; stops at the first one that does not reach metric_points within the timeout."""
    from api.app import create_app
    from devhost.webhook_demo import serving, show_one
    from shared.changes import intake

    api = create_app(durable_client=host.client())
    api.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=change_queue)
    samples: list[float] = []
    host.start(queues=True)
    try:
        with serving(api) as base_url:
            for n in range(1, changes + 1):
                moved = show_one(source, base_url, out=io.StringIO(), timeout=timeout)
                if moved.seconds is None:
                    break
                samples.append(moved.seconds)
                print(f"change {n}: {moved.seconds:.2f} s", flush=True)
    finally:
        host.stop()
    return samples


@contextlib.contextmanager
def _simulator() -> Iterator[str]:
    """The demo company `make services` serves, its clock at the real time, on a free loopback port from a thread
    with its own event loop; yields its URL."""
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app
    from sandbox.quickbooks.__main__ import _parser

    defaults = _parser().parse_args([])
    company = DemoCompany.generate(realm_id=defaults.realm, seed=defaults.seed, customers=defaults.customers,
                                   invoices=defaults.invoices, payments=defaults.payments)
    state = SimulatorState(companies=[company], clock=SimClock(start=dt.datetime.now(dt.UTC).replace(microsecond=0)),
                           access_tokens={defaults.access_token})
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(state))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, name="bench-simulator", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
