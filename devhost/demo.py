"""`make demo`: a full sync of every installed plugin's demo connections into PostgreSQL.

They run through the local Durable host against the project's simulators; each plugin says which (its demo()).

Prints live progress per stream, then per-stream counts, elapsed time and how to look at the data. Then, unless
--no-webhook, its last step shows a webhook moving a metric (devhost/webhook_demo.py; `make demo-webhook` repeats it).
Run again after a kill: the interrupted sync is resumed from the local host's store.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from plugins import registry
from plugins.base import DemoSource
from shared.core.config import DEFAULT_PG_DSN, load_settings
from shared.core.egress import LOOPBACK_SETTING
from shared.db import runs
from shared.db.connect import connect
from shared.db.connections import upsert_connection
from shared.db.migrate import OWNER_DSN_SETTING, migrate
from shared.db.roles import APP_ROLE, GRAFANA_ROLE, OWNER_ROLE, as_role

STORE = Path(".local/devhost.sqlite")
TERMINAL = {"Completed", "Failed", "Terminated"}


def use_local_roles() -> None:
    """Unless the environment names them, log in as the local cluster's roles (scripts/services.sh made them):
    the app as the app role, migrations as the owner, metric reads as Grafana's role."""
    for name, role in (("BIZ_PG_DSN", APP_ROLE), (OWNER_DSN_SETTING, OWNER_ROLE), ("BIZ_PG_READER_DSN", GRAFANA_ROLE)):
        os.environ.setdefault(name, as_role(DEFAULT_PG_DSN, role))


def demo_sources() -> list[DemoSource]:
    """What each installed plugin syncs in the demo, in the registry's order."""
    return [source for plugin in registry.installed() if (source := plugin.demo()) is not None]


def prepare_local_environment(sources: list[DemoSource] | None = None) -> None:
    """The local roles' DSNs, the demo connections' secrets and the local API-key pepper, for this process."""
    from devhost import local_env

    use_local_roles()
    # The demo syncs the simulators on http://127.0.0.1: allow loopback source URLs (shared/core/egress.py).
    os.environ.setdefault(LOOPBACK_SETTING, "true")
    local_env.prepare({name: value for source in (demo_sources() if sources is None else sources)
                       for name, value in source.secrets.items()})


def check_simulator(base_url: str, label: str) -> None:
    try:
        with urllib.request.urlopen(f"{base_url}/_sim/health", timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(
            f"The {label} simulator does not answer at {base_url} ({exc}).\n"
            "Start the local services with `make services` (make demo does this for you)."
        ) from None


def _status_name(status: dict[str, Any] | None) -> str:
    return (status or {}).get("runtimeStatus") or "Unknown"


def start_or_resume(host: Any, mode: str) -> tuple[str, str]:
    """Start the sync through the API (POST /api/syncs, with the local API key), as an operator would; if the store
    holds an interrupted one, resume that instead."""
    from api.starting import ALL, instance_id_for
    from devhost.local_env import local_api_key

    response = host.invoke_http("api_http", "POST", url="http://localhost:7071/api/syncs",
                                body=json.dumps({"mode": mode}).encode(),
                                headers={"Content-Type": "application/json",
                                         "Authorization": f"Bearer {local_api_key()}"})
    answer = json.loads(response.get_body() or b"{}")
    instance_id = instance_id_for(ALL)
    if response.status_code == 202:
        return instance_id, answer["run_id"]
    if response.status_code == 409:
        status = host.get_status(instance_id) or {}
        run_id = (status.get("input") or {}).get("run_id", "?")
        print(f"An interrupted sync was found ({instance_id}, run {run_id}): resuming it.")
        host.resume()
        return instance_id, run_id
    raise SystemExit(f"Could not start the sync: HTTP {response.status_code}: {answer.get('detail', answer)}")


def _describe(row: dict[str, Any]) -> str:
    state = {"running": "...", "succeeded": "done", "failed": "FAILED"}.get(row["status"], row["status"])
    return f"  {row['stream']:<14} {row['fetched']:>7} records {row['pages']:>4} pages  {state}"


def watch(host: Any, instance_id: str, run_id: str, *, interval: float = 0.5, out=sys.stdout) -> dict[str, Any]:
    """Print a line per stream whenever its progress changes, until the sync ends."""
    shown: dict[str, tuple[Any, ...]] = {}
    while True:
        status = host.wait_for(instance_id, timeout=interval)
        with connect() as conn:
            rows = runs.stream_rows(conn, run_id)
        for row in rows:
            key = (row["status"], row["fetched"], row["pages"])
            if shown.get(row["stream"]) != key and (row["pages"] or row["status"] != "running"):
                print(_describe(row), file=out, flush=True)
                shown[row["stream"]] = key
        if _status_name(status) in TERMINAL:
            return status


def report(run_id: str, elapsed: float, status: dict[str, Any], out=sys.stdout,
           sources: list[DemoSource] | None = None) -> int:
    with connect() as conn:
        summary = runs.run_summary(conn, run_id)
    if summary is None:
        print(f"Run {run_id} left no record in sync_runs; orchestration status: {_status_name(status)}", file=out)
        return 1
    counters = ("pages", "fetched", "inserted", "updated", "unchanged", "deleted", "api_calls")
    widths = (7, 9, 10, 9, 11, 9, 11)

    def line(label: str, values: dict[str, Any], status: str = "") -> str:
        cells = "".join(f"{values[c]:>{w}}" for c, w in zip(counters, widths, strict=True))
        return f"{label:<22}{cells}  {status}".rstrip()

    print(f"\nRun {run_id} ({summary['mode']}, {summary['scope']}): {summary['status']} in {elapsed:.1f} s", file=out)
    print(f"{'stream':<22}{'pages':>7}{'fetched':>9}{'inserted':>10}{'updated':>9}{'unchanged':>11}{'deleted':>9}"
          f"{'api calls':>11}  status", file=out)
    for connection_id in sorted({s["connection_id"] for s in summary["streams"]}):
        streams = [s for s in summary["streams"] if s["connection_id"] == connection_id]
        print(f"{connection_id}:", file=out)
        for s in streams:
            outcome = s["status"] + (f" ({s['error']})" if s["error"] else "")
            print(line("  " + s["stream"], s, outcome), file=out)
        print(line("  (connection total)", {c: sum(s[c] for s in streams) for c in counters}), file=out)
    print(line("total", summary["totals"]), file=out)
    for note in summary.get("notes") or []:
        print(f"note: {note['note']}", file=out)
    for error in summary["errors"]:
        print(f"error: {error}", file=out)
    dsn = load_settings().pg_dsn
    queries = [f"SELECT stream, fetched, inserted, updated, api_calls FROM sync_run_streams WHERE run_id = '{run_id}'",
               *(query for source in (demo_sources() if sources is None else sources) for query in source.queries),
               "SELECT metric, bucket, value FROM metric_points WHERE grain = 'month' ORDER BY metric, bucket"]
    looks = "".join(f'\n  psql "{dsn}" -c "{query}"' for query in queries)
    print(f"""
Look at the data:{looks}
  .venv/bin/python -m devhost --store {STORE} status {status.get('instanceId', '')}   # the orchestration
  make demo-incremental   # fetch only what changed since
Use the API:
  make api                # serves http://127.0.0.1:8770/api/docs; the local key is in .local/api-key
  curl -H "Authorization: Bearer $(cat .local/api-key)" http://127.0.0.1:8770/api/syncs/{run_id}""", file=out)
    return 0 if summary["status"] == "succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("full", "incremental"), default="full")
    parser.add_argument("--store", type=Path, default=STORE, help="the local Durable host's state file")
    parser.add_argument("--no-webhook", action="store_true",
                        help="skip the last step (a change in a simulator moves a metric through its webhook)")
    args = parser.parse_args(argv)

    sources = demo_sources()
    prepare_local_environment(sources)
    for source in sources:
        check_simulator(source.simulator_url, source.label)
    connections = [c for source in sources for c in source.connections]
    # The deploy step, as the owner role (scripts/services.sh start has usually done it already).
    with connect(os.environ[OWNER_DSN_SETTING], application_name="bizmetrics-migrate") as conn:
        applied = migrate(conn, registry.migration_folders())
    with connect() as conn, conn.transaction():
        for connection in connections:
            upsert_connection(conn, connection)
    if applied:
        print(f"Database ready ({len(applied)} migrations applied).")

    from devhost import LocalDurableHost
    from function_app import app

    args.store.parent.mkdir(parents=True, exist_ok=True)
    host = LocalDurableHost(app, args.store)
    started = time.monotonic()
    host.start()
    try:
        instance_id, run_id = start_or_resume(host, args.mode)
        names = " and ".join(c.connection_id for c in connections)
        print(f"Sync {run_id} ({args.mode}) of {names} running as {instance_id}:")
        status = watch(host, instance_id, run_id)
    finally:
        host.stop()
    outcome = report(run_id, time.monotonic() - started, status, sources=sources)
    if outcome == 0 and not args.no_webhook:
        from devhost.webhook_demo import show

        moved = show(host, sources)
        print("  make demo-webhook       # this step again (on the running demo stack)")
        outcome = 0 if all(m.moved for m in moved) else 1
    host.close()
    return outcome


if __name__ == "__main__":
    sys.exit(main())
