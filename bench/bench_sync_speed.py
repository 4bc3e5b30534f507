"""A full sync at the API's speed: wall time against the rate bound, through the real path.

Usage (from the repository root, local services running):
    .venv/bin/python -m bench.bench_sync_speed quickbooks [--records 100000] [--latency 1.0]
    .venv/bin/python -m bench.bench_sync_speed monday [--boards 50 --items-per-board 2000] [--latency 1.0]

QuickBooks: the generated company (`python -m sandbox.quickbooks.datagen --records N --years 3 --seed 11`) is
served by the simulator in a child process with `--latency` seconds added to every request (the real API answers
a 1,000-record page in about a second). A full sync of it runs through the local Durable host (devhost, as the
tests drive it, real time, `--workers` activity threads; with `--processes N` the activities run in N worker
processes, as FUNCTIONS_WORKER_PROCESS_COUNT, `--workers` in flight in all) into a fresh PostgreSQL database. The
rate bound is the time the calls the sync made need at Intuit's 500 requests per minute per realm (or one request's
latency, if longer), and at the realm governor's own pace (plugins/quickbooks/governor.py); the ratio is wall time
over the bound.

monday: an account of `--boards` boards of `--items-per-board` items (no subitems) served the same way. Its bound
is the complexity the sync spent against the 10M points per minute budget, or the longest cursor chain (a board's
or the updates', read beside the boards; its pages one after another, each one latency), whichever is longer.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg

from bench.common import database

QBO_REALM = "9130350000000009"  # datagen's default realm
QBO_TOKEN = "demo-access-token"  # the simulators' default tokens
MONDAY_TOKEN = "demo-monday-token"
MONDAY_UPDATES_CHAINS = 4  # the monday plugin's default updates_chains
MONDAY_ACCOUNT = "24000007"  # the simulator's demo account at its default seed
QBO_PER_MINUTE = 500
MONDAY_COMPLEXITY_PER_MINUTE = 10_000_000
MONDAY_PAGE = 500


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (/proc), all its threads together."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _simulator(args: list[str], port: int, ready_within: float = 900.0,
               keep_log: str | None = None, nice: int = 0) -> Iterator[tuple[str, int]]:
    """A simulator in a child process (its CPU apart from the host's); yields its base URL and process id once it
    answers.

    Its output (a line per request, with its arrival to the second) goes to a file, `keep_log` if given: a pipe
    nobody reads fills up and stops the simulator. `nice` changes its CPU priority (negative: before other work on
    the machine, which needs root): the simulator stands in for Intuit's servers, which share no CPU with the app."""
    log = (open(keep_log, "w+") if keep_log  # noqa: SIM115
           else tempfile.NamedTemporaryFile("w+", prefix="bench-simulator-", suffix=".log"))  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, text=True,
                               preexec_fn=(lambda: os.nice(nice)) if nice else None)
    deadline = time.monotonic() + ready_within
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the simulator stopped: {log.read()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start in time")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()
        log.close()


@contextlib.contextmanager
def _landing() -> Iterator[None]:
    from shared.blob.service import blob_service
    from shared.core.config import load_settings

    name = f"bench-{uuid.uuid4().hex[:12]}"
    service = blob_service(load_settings().storage)
    service.create_container(name)
    os.environ["LANDING_CONTAINER"] = name
    try:
        yield
    finally:
        service.delete_container(name)


def _sync(dsn: str, connection_id: str, workers: int, timeout: float, trace: bool = False, processes: int = 0,
          spent: dict[str, float] | None = None) -> tuple[float, str, dict[str, Any]]:
    """(wall seconds, run id, sync_all's output) of one full sync of the connection through devhost (this process
    runs the orchestrators, and every activity in its threads unless `processes` > 1 puts them in worker processes,
    whose CPU and CPU waits during the sync go to `spent`)."""
    from devhost import LocalDurableHost
    from function_app import app
    from shared.core.messages import SyncRequest

    with tempfile.TemporaryDirectory() as folder:
        host = LocalDurableHost(app, os.path.join(folder, "devhost.sqlite"), virtual_time=False,
                                max_activity_workers=workers, activity_processes=processes,
                                app_ref="function_app:app")
        if processes > 1:
            host.workers.start(timeout=120)  # warm, as an instance's workers are: the clock starts after their import
        run_id = f"run-bench-{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        instance = host.start_new("sync_all", f"sync-{connection_id}",
                                  SyncRequest(run_id, connection_id, "full", "manual").to_json())
        status = host.run_until_complete(instance, timeout=timeout)
        wall = time.perf_counter() - started
        if spent is not None and processes > 1:
            _worker_cpu(host.workers, spent)
        host.close()
        if trace:
            _trace(os.path.join(folder, "devhost.sqlite"))
            kept = os.path.join(tempfile.gettempdir(), "bench-sync.sqlite")
            with contextlib.closing(sqlite3.connect(os.path.join(folder, "devhost.sqlite"))) as source, \
                    contextlib.closing(sqlite3.connect(kept)) as copy:
                source.backup(copy)  # with what is still in the write-ahead log
            print(f"  the local host's store: {kept}")
    if status.get("runtimeStatus") != "Completed" or (status.get("output") or {}).get("status") != "succeeded":
        raise RuntimeError(f"the sync did not succeed: {status}")
    return wall, run_id, status["output"]


def _worker_cpu(workers: Any, spent: dict[str, float]) -> None:
    """CPU the live worker processes used since they were ready (their import of the app left out), and the seconds
    their threads waited for a CPU (a worker that died and was replaced is not counted)."""
    startup = workers.startup_cpu_seconds()
    pids = workers.process_ids()
    spent["workers"] = sum(cpu_seconds(pid) - startup.get(pid, 0.0) for pid in pids)
    spent["workers_startup"] = sum(startup.values())
    spent["workers_waiting"] = sum(runnable_waiting_seconds(pid) for pid in pids)
    spent["worker_count"] = len(pids)


def _trace(store: str) -> None:
    """Where the time went, from the local host's histories (last execution of each instance): per activity,
    scheduled -> completed (queueing for a worker included); per stream, its instance's life."""
    from devhost.clock import parse_ts

    spans: dict[str, list[float]] = {}
    load_sizes: dict[int, int] = {}  # pages per load_pages call -> calls
    with contextlib.closing(sqlite3.connect(store)) as db:
        for (instance,) in db.execute("SELECT DISTINCT instance_id FROM history"):
            scheduled: dict[int, tuple[str, dt.datetime]] = {}
            for (text,) in db.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance,)):
                event = json.loads(text)
                if event["EventType"] == 4:  # TaskScheduled
                    scheduled[event["EventId"]] = (event["Name"], parse_ts(event["Timestamp"]))
                    if event["Name"] == "load_pages":  # how many pages sync_stream handed each load
                        asked = json.loads(event.get("Input") or "null")
                        asked = json.loads(asked) if isinstance(asked, str) else asked
                        size = len((asked or {}).get("pages") or [])
                        load_sizes[size] = load_sizes.get(size, 0) + 1
                elif event["EventType"] == 5 and event["TaskScheduledId"] in scheduled:  # TaskCompleted
                    name, began = scheduled[event["TaskScheduledId"]]
                    seconds = (parse_ts(event["Timestamp"]) - began).total_seconds()
                    spans.setdefault(name, []).append(seconds)
        print("  activity: count, mean s, max s (last execution of each instance)")
        for name, values in sorted(spans.items()):
            print(f"    {name}: {len(values)}, {sum(values) / len(values):.2f}, {max(values):.2f}")
        print("  pages per load_pages call (pages: calls): "
              + ", ".join(f"{size}: {calls}" for size, calls in sorted(load_sizes.items())))
        rows = db.execute("SELECT instance_id, created_time, last_updated_time FROM instances "
                          "WHERE name = 'sync_stream'").fetchall()
    lives = sorted(((parse_ts(b) - parse_ts(a)).total_seconds(), i.rsplit(":", 1)[-1]) for i, a, b in rows)
    print("  longest streams (s, last execution): " + ", ".join(f"{n} {s:.1f}" for s, n in lives[-6:]))


def _streams(dsn: str, run_id: str) -> list[tuple[str, int, int, int]]:
    """(stream, api calls, records fetched, throttle waits) of each stream of the run."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT stream, api_calls, fetched, throttle_waits FROM sync_run_streams "
                            "WHERE run_id = %s ORDER BY stream", (run_id,)).fetchall()


def _report(title: str, wall: float, rows: list[tuple[str, int, int, int]], bounds: dict[str, float],
            extra: list[str]) -> None:
    calls = sum(r[1] for r in rows)
    records = sum(r[2] for r in rows)
    waits = sum(r[3] for r in rows)
    load = os.getloadavg()
    print(f"\n{title}")
    print(f"  wall time {wall:.1f} s; {calls} calls; {records:,} records; {waits} throttle waits; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    for name, bound in bounds.items():
        print(f"  bound {name}: {bound:.1f} s -> ratio {wall / bound:.2f}x")
    busiest = sorted(rows, key=lambda r: -r[1])[:5]
    print("  busiest streams: " + ", ".join(f"{r[0]} {r[1]} calls/{r[2]:,} records" for r in busiest))
    for line in extra:
        print(f"  {line}")


def runnable_waiting_seconds(pid: int) -> float:
    """Seconds the process's threads (those alive now) have spent ready to run but waiting for a CPU: what other
    work on the machine took from it (/proc/<pid>/task/*/schedstat, the second field, in ns)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as stat:
            total += int(stat.read().split()[1])
    return total / 1e9


def machine_cpu() -> tuple[float, float, float]:
    """(busy, stolen, all) CPU seconds of the whole machine since boot, from /proc/stat's first line: busy is user,
    nice, system, irq and softirq; stolen is what the hypervisor gave other guests while this one had work for a CPU
    (a shared host: the same code runs slower, and its processes' own CPU seconds grow too)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick, sum(fields) / tick


@contextlib.contextmanager
def _database_cpu(dsn: str, spent: dict[str, float], every: float = 0.25) -> Iterator[None]:
    """CPU seconds PostgreSQL's processes serving this database used during the block: every `every` s the
    backends connected to it are listed and each one's CPU so far read from /proc (a lower bound: what a backend
    did in its last moments before it ended is missed)."""
    seen: dict[int, float] = {}
    stop = threading.Event()

    def sample(conn: psycopg.Connection) -> None:
        while not stop.is_set():
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
            for pid in pids:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    seen[pid] = max(seen.get(pid, 0.0), cpu_seconds(pid))
            stop.wait(every)

    with psycopg.connect(dsn, autocommit=True) as conn:
        sampler = threading.Thread(target=sample, args=(conn,), daemon=True)
        sampler.start()
        try:
            yield
        finally:
            stop.set()
            sampler.join()
    spent["database"] = sum(seen.values())


@contextlib.contextmanager
def _cpu(simulator_pid: int, spent: dict[str, float]) -> Iterator[None]:
    """CPU seconds the block used in this process (the local host: orchestrators and every activity, one
    interpreter, so one core at a time for Python code) and in the simulator's, and the seconds their threads
    waited for a CPU (a thread that ended during the block is not counted)."""
    me = os.getpid()
    before = (time.process_time(), cpu_seconds(simulator_pid), runnable_waiting_seconds(me),
              runnable_waiting_seconds(simulator_pid))
    machine = machine_cpu()
    yield
    spent["machine_busy"], spent["machine_stolen"], spent["machine_all"] = (
        now - then for now, then in zip(machine_cpu(), machine, strict=True))
    spent["host"] = time.process_time() - before[0]
    spent["simulator"] = cpu_seconds(simulator_pid) - before[1]
    spent["host_waiting"] = runnable_waiting_seconds(me) - before[2]
    spent["simulator_waiting"] = runnable_waiting_seconds(simulator_pid) - before[3]


def _cpu_line(spent: dict[str, float], wall: float) -> str:
    workers = ""
    if "workers" in spent:
        workers = (f"; {spent['worker_count']:.0f} worker processes {spent['workers']:.1f} s "
                   f"({spent['workers'] / wall:.0%} of one core; importing the app took them "
                   f"{spent['workers_startup']:.1f} s more), their threads waited {spent['workers_waiting']:.1f} s "
                   "(from their start)")
    return (f"CPU during the sync: host process {spent['host']:.1f} s ({spent['host'] / wall:.0%} of one core), "
            f"its threads waited {spent['host_waiting']:.1f} s for a CPU{workers}; "
            f"simulator {spent['simulator']:.1f} s ({spent['simulator'] / wall:.0%}), "
            f"waited {spent['simulator_waiting']:.1f} s; PostgreSQL's backends "
            f"of the database at least {spent['database']:.1f} s; the machine's {os.cpu_count()} CPUs busy "
            f"{spent['machine_busy']:.1f} of {spent['machine_all']:.1f} s, "
            f"{spent['machine_stolen']:.1f} s stolen by the hypervisor")


def _where(processes: int) -> str:
    return f"in {processes} worker processes" if processes > 1 else "in the host's threads"


def governor_seconds(calls: int, latency: float) -> float:
    """When the last of `calls` requests answers at the realm governor's pace: the k-th request (from 0) of a
    (count, period) window goes out at k // count * period at the earliest, and, paced, k sends after the first
    at k times the sustained interval (the longest period / count)."""
    import importlib

    from plugins import registry

    # The plugin's own limits, found through the registry (nothing outside plugins/ imports a plugin by name).
    plugin_module = importlib.import_module(type(registry.get("quickbooks")).__module__)
    governor = importlib.import_module(plugin_module.realm_governor.__module__)
    limits = governor.governor_limits(governor.service_limits({}))
    k = max(calls - 1, 0)
    last = max(max((k // count) * period for count, period in limits),
               k * max(period / count for count, period in limits))
    return last + latency


def bench_quickbooks(options: argparse.Namespace) -> None:
    from shared.db.connections import Connection, upsert_connection

    connection_id = "bench-qbo"
    os.environ[f"SECRET_CONN_{connection_id.upper().replace('-', '_')}_TOKEN"] = QBO_TOKEN
    simulator = ["sandbox.quickbooks.datagen", "--records", str(options.records), "--years", "3", "--seed", "11",
                 "--latency", str(options.latency), "--per-second", str(options.per_second)]
    spent: dict[str, float] = {}
    with _simulator(simulator, _free_port(), keep_log=options.simulator_log, nice=options.simulator_nice) as \
            (url, pid), database(options.keep) as dsn:
        os.environ["BIZ_PG_DSN"] = dsn
        with _landing():
            with psycopg.connect(dsn) as conn:
                upsert_connection(conn, Connection(connection_id, "quickbooks", "bench company", {
                    "realm_id": QBO_REALM, "base_url": url, "access_token_secret": f"conn-{connection_id}-token",
                    "reports": False, **({"max_chains": options.max_chains} if options.max_chains else {})}))
                conn.commit()
            with _cpu(pid, spent), _database_cpu(dsn, spent):
                wall, run_id, _ = _sync(dsn, connection_id, options.workers, options.timeout, options.trace,
                                        options.processes, spent)
            rows = _streams(dsn, run_id)
            with urllib.request.urlopen(f"{url}/_sim/{QBO_REALM}/stats", timeout=10) as response:
                stats = json.load(response)
    calls = sum(r[1] for r in rows)
    _report(f"QuickBooks full sync: datagen --records {options.records} --years 3 --seed 11, latency "
            f"{options.latency:g} s, {options.workers} activity workers {_where(options.processes)}, simulator's "
            f"per-second limit {options.per_second or 'off'}, max_chains {options.max_chains or 'default'}",
            wall, rows, {
                f"{QBO_PER_MINUTE}/min per realm": max(calls / QBO_PER_MINUTE * 60, options.latency),
                "governor's pace": governor_seconds(calls, options.latency)}, [
                f"the simulator answered {stats['calls']} requests, {stats['throttled']} of them 429 "
                f"(by status {stats['by_status']})", _cpu_line(spent, wall)])


def _complexity_charged(url: str) -> int:
    """The complexity points the monday simulator charged the demo account (its control plane's stats)."""
    with urllib.request.urlopen(f"{url}/_sim/{MONDAY_ACCOUNT}/stats", timeout=10) as response:
        return int(json.load(response)["complexity_charged"])


def bench_monday(options: argparse.Namespace) -> None:
    from shared.core.secrets import env_name
    from shared.db.connections import Connection, upsert_connection

    connection_id = "bench-monday"
    secret = f"conn-{connection_id}-token"
    os.environ[env_name(secret)] = MONDAY_TOKEN
    simulator = ["sandbox.monday", "--boards", str(options.boards), "--items-per-board", str(options.items_per_board),
                 "--subitems-per-item", "0", "--workspaces", "5", "--plan", "enterprise",
                 "--clock-start", dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                 "--latency", str(options.latency)]
    spent: dict[str, float] = {}
    with _simulator(simulator, _free_port(), keep_log=options.simulator_log, nice=options.simulator_nice) as \
            (url, pid), database(options.keep) as dsn:
        os.environ["BIZ_PG_DSN"] = dsn
        with _landing():
            with psycopg.connect(dsn) as conn:
                upsert_connection(conn, Connection(connection_id, "monday", "bench account", {
                    "api_token_secret": secret, "base_url": url, "account_id": "bench-account",
                    "plan": "enterprise", "daily_call_cap": 1_000_000,
                    **({"updates_chains": options.updates_chains} if options.updates_chains else {})}))
                conn.commit()
            with _cpu(pid, spent), _database_cpu(dsn, spent):
                wall, run_id, _ = _sync(dsn, connection_id, options.workers, options.timeout, options.trace,
                                        options.processes, spent)
            rows = _streams(dsn, run_id)
            charged = _complexity_charged(url)
    # The updates, read beside the boards' item streams, may be the longest chain: one chain of pages, or after a
    # split (its first page, then three rounds of about 24 probes side by side) its calls shared by the chains.
    chains = options.updates_chains or MONDAY_UPDATES_CHAINS
    calls = sum(r[1] for r in rows if r[0] == "updates")
    updates = (calls if chains < 2 or calls < 40 else 4 + math.ceil((calls - 25) / chains)) * options.latency
    chain = max(math.ceil(options.items_per_board / MONDAY_PAGE) * options.latency, updates)
    bounds = {"longest chain (a board's or the updates', its pages one after another)": chain,
              f"complexity budget ({charged:,} points at 10M per minute, or the chain)":
                  max(charged / MONDAY_COMPLEXITY_PER_MINUTE * 60, chain)}
    _report(f"monday full sync: {options.boards} boards x {options.items_per_board} items, latency "
            f"{options.latency:g} s, {options.workers} activity workers {_where(options.processes)}",
            wall, rows, bounds, [_cpu_line(spent, wall)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sync_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=("quickbooks", "monday"))
    parser.add_argument("--records", type=int, default=100_000, help="QuickBooks: datagen's --records (or 300000)")
    parser.add_argument("--boards", type=int, default=50)
    parser.add_argument("--items-per-board", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the simulator adds to every request")
    parser.add_argument("--per-second", type=int, default=10,
                        help="QuickBooks: the simulator's requests/s per realm (Intuit's 10; 0: off)")
    parser.add_argument("--workers", type=int, default=16, help="the local host's activity threads")
    parser.add_argument("--processes", type=int, default=0,
                        help="run the activities in this many worker processes (FUNCTIONS_WORKER_PROCESS_COUNT); "
                             "0 or 1: in the host's threads")
    parser.add_argument("--max-chains", type=int, help="QuickBooks: the connection's max_chains (default 4)")
    parser.add_argument("--updates-chains", type=int,
                        help=f"monday: the connection's updates_chains (default {MONDAY_UPDATES_CHAINS}; 1: one chain)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--trace", action="store_true", help="print where the time went (activities, streams)")
    parser.add_argument("--keep", help="keep (and reuse) the database of this name")
    parser.add_argument("--simulator-log", help="keep the simulator's log (a line per request) in this file")
    parser.add_argument("--simulator-nice", type=int, default=0,
                        help="change the simulator's CPU priority (e.g. -10, as root: ahead of other work)")
    options = parser.parse_args(argv)
    os.environ.setdefault("BIZ_ALLOW_LOOPBACK_SOURCES", "true")
    (bench_quickbooks if options.source == "quickbooks" else bench_monday)(options)


if __name__ == "__main__":
    main()
