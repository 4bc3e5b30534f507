"""The demo's last step (`make demo`, and `make demo-webhook` alone): a change in a simulator moves a metric through
the source's webhook, the way it would in Azure.

For each demo source whose simulator sends webhooks (DemoSource.webhook): serve the API on a free loopback port
while the local Durable host runs the change queue's trigger, point the simulator's webhooks at the source's route,
change a record a metric reads, and watch the metric's point in metric_points until it moves. Printed: the value
before and after, and the seconds from the change in the simulator to the new value. Then the webhook run is let
finish (it holds the connection's lease) and the simulator stops sending webhooks to a server about to stop.

    .venv/bin/python -m devhost.webhook_demo      # `make demo-webhook`: on a running demo stack, after `make demo`
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from plugins.base import DemoChange, DemoSource
from shared.db.connect import connect

# The debounce (2 s by default), an incremental read and the metric refresh take a few seconds; past this the
# step says what it saw and fails.
TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.1
SERVER_START_SECONDS = 20.0


@dataclass(frozen=True)
class Moved:
    """What the step saw: the metric's value before and after the change, and how long it took (None: it did not
    move within the timeout)."""

    change: DemoChange
    before: Decimal | None
    after: Decimal | None
    seconds: float | None
    runs: list[tuple[str, str]]

    @property
    def moved(self) -> bool:
        return self.seconds is not None


@contextlib.contextmanager
def serving(app: Any, port: int = 0) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a free port unless one is given) from a background thread; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the demo's API server did not start on 127.0.0.1:{port or '(a free port)'}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def metric_value(change: DemoChange) -> Decimal | None:
    """The metric's total for the change's bucket, as metric_points holds it now (None: no point)."""
    with connect() as conn:
        row = conn.execute(
            "SELECT value FROM metric_points WHERE connection_id = %s AND metric = %s AND grain = %s "
            "AND dimension = '' AND member = '' AND bucket = %s",
            (change.connection_id, change.metric, change.grain, change.bucket)).fetchone()
    return row[0] if row else None


def _webhook_runs(connection_id: str, since: dt.datetime) -> list[tuple[str, str]]:
    with connect() as conn:
        return conn.execute("SELECT run_id, status FROM sync_runs WHERE trigger = 'webhook' AND scope = %s "
                            "AND started_at >= %s ORDER BY started_at", (connection_id, since)).fetchall()


def _driven(connection_id: str) -> bool:
    """Whether a change driver still holds the connection (its run, or the follow-up check after it)."""
    with connect() as conn:
        row = conn.execute("SELECT state FROM pending_changes WHERE connection_id = %s", (connection_id,)).fetchone()
    return bool(row) and row[0] != "idle"


def _until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(POLL_SECONDS)


def _number(value: Decimal | None) -> str:
    return "no point yet" if value is None else f"{value:,.2f}"


def show_one(source: DemoSource, base_url: str, *, out: TextIO = sys.stdout,
             timeout: float = TIMEOUT_SECONDS) -> Moved:
    """Change a record of the source's simulator with its webhooks pointed at `base_url`, and watch the metric."""
    hook = source.webhook
    assert hook is not None
    with connect() as conn:
        change = hook.prepare_change(conn)
    before = metric_value(change)
    print(f"\nWebhook ({source.label}): {change.description}\n"
          f"  the simulator posts it to {base_url}{hook.route}; watching {change.metric} ({change.grain} of "
          f"{change.bucket}) of {change.connection_id}: {_number(before)}", file=out, flush=True)
    with connect() as conn:
        since = conn.execute("SELECT now()").fetchone()[0]
    hook.subscribe(base_url + hook.route)
    try:
        started = time.monotonic()
        change.apply()
        after, seconds = before, None
        while time.monotonic() - started < timeout:
            after = metric_value(change)
            if after != before:
                seconds = time.monotonic() - started
                break
            time.sleep(POLL_SECONDS)
        # The webhook run holds the connection's lease until it ends: let it finish before the host stops.
        _until(lambda: not _driven(change.connection_id), timeout)
    finally:
        hook.unsubscribe()
    runs = _webhook_runs(change.connection_id, since)
    ran = ", ".join(f"{run_id}: {status}" for run_id, status in runs) or "none recorded"
    if seconds is None:
        hint = " (has `make demo` synced the demo connections yet?)" if before is None else ""
        print(f"  the metric did not move within {timeout:.0f} s (still {_number(after)}){hint}; "
              f"webhook runs: {ran}", file=out, flush=True)
    else:
        print(f"  before {_number(before)}  after {_number(after)}: {seconds:.1f} s from the change in the simulator "
              f"to the new value in metric_points (webhook run {ran})", file=out, flush=True)
    return Moved(change, before, after, seconds, runs)


def show(host: Any, sources: list[DemoSource], *, out: TextIO = sys.stdout, timeout: float = TIMEOUT_SECONDS,
         change_queue: Any = None) -> list[Moved]:
    """The step for every source that has one: serves the API (the host, not yet started, runs the queue trigger
    meanwhile and is stopped after). `change_queue` is where the webhook routes put notices (None: the app's
    queue), for a host that reads another queue than the app's."""
    from api.app import create_app
    from shared.changes import intake

    hooked = [source for source in sources if source.webhook is not None]
    if not hooked:
        print("\nWebhook: no demo source's simulator sends webhooks.", file=out)
        return []
    api = create_app(durable_client=host.client())
    if change_queue is not None:
        api.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=change_queue)
    host.start(queues=True)
    try:
        with serving(api) as base_url:
            return [show_one(source, base_url, out=out, timeout=timeout) for source in hooked]
    finally:
        host.stop()


def main(argv: list[str] | None = None) -> int:
    from devhost import demo

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=demo.STORE, help="the local Durable host's state file")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS)
    args = parser.parse_args(argv)

    sources = demo.demo_sources()
    demo.prepare_local_environment(sources)
    for source in sources:
        demo.check_simulator(source.simulator_url, source.label)

    from devhost import LocalDurableHost
    from function_app import app

    args.store.parent.mkdir(parents=True, exist_ok=True)
    host = LocalDurableHost(app, args.store)
    try:
        moved = show(host, sources, timeout=args.timeout)
    finally:
        host.close()
    return 0 if all(m.moved for m in moved) else 1


if __name__ == "__main__":
    sys.exit(main())
