"""Several worker processes syncing one QuickBooks realm and one monday account at once, each through the
production fetch path (activities.fetch.fetch_pages: its own ApiClient, session and database connection per
fetch), as the app's scaled-out workers do, against the simulators with their windows scaled down to seconds.

The simulators run as their own processes (their command lines), as the real services are other machines: in one
process with the test, each would stall the other. Used by tests/integration/test_many_workers.py (no 429 from
either simulator) and bench/bench_shared_budget.py (calls served against the rate the simulators allow).

A worker is `python -m tests.many_workers`: it reads its job (one JSON line) from stdin, says "ready" once
imported, starts at "go", and prints what it did as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection

ROOT = Path(__file__).resolve().parents[1]  # the processes run the repository's modules
REALM = "9130350000000077"
QBO_TOKEN = "many-workers-qbo-token"
MONDAY_TOKEN = "many-workers-monday-token"
QBO_ENTITIES = ["Customer", "Invoice", "Payment", "Item", "Vendor", "Bill"]
# At most this many fetches at once per worker (a Functions instance runs up to 8 activities at once).
FETCHES_PER_WORKER = 4


@dataclass(frozen=True)
class Scale:
    """The simulators' limits (their windows scaled down to seconds) and the data to sync."""

    qbo_per_second: int = 10
    qbo_per_window: int = 40
    qbo_window: float = 5.0  # QuickBooks' "minute"
    monday_requests: int = 20
    monday_complexity: int = 200_000
    monday_concurrency: int = 4
    monday_window: float = 5.0  # monday's "minute"
    invoices: int = 1500
    payments: int = 900
    customers: int = 40
    qbo_page_size: int = 25
    boards: int = 8
    items_per_board: int = 40
    item_page_size: int = 5
    monday_share: float = 1.0  # the syncs are the account's only integration here

    def qbo_rate(self) -> float:
        """Requests per second the simulated realm allows, sustained."""
        return min(self.qbo_per_second / 1.0, self.qbo_per_window / self.qbo_window)

    def monday_rate(self) -> float:
        return self.monday_requests / self.monday_window


@dataclass
class Sims:
    """The two simulators, each serving from its own process as the real services do."""

    qbo_url: str
    monday_url: str
    monday_account: str
    monday_boards: list[str]

    def _get(self, url: str) -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.loads(answer.read())

    def qbo_stats(self) -> dict[str, Any]:
        return self._get(f"{self.qbo_url}/_sim/{REALM}/stats")

    def monday_stats(self) -> dict[str, Any]:
        return self._get(f"{self.monday_url}/_sim/{self.monday_account}/stats")

    def qbo_calls(self) -> int:
        return int(self.qbo_stats()["calls"])

    def monday_calls(self) -> int:
        return int(self.monday_stats()["calls"])

    def refusals(self) -> dict[str, Any]:
        """Every 429 the simulators answered (their limits refused), by source."""
        qbo, monday = self.qbo_stats(), self.monday_stats()
        return {"quickbooks": {"throttled": qbo["throttled"], "429": qbo["by_status"].get("429", 0)},
                "monday": {"refused": monday["refused"], "429": monday["by_status"].get("429", 0)}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _started(command: list[str], health: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", *command], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the simulator {command[0]} did not start")


@contextlib.contextmanager
def simulators(scale: Scale) -> Iterator[Sims]:
    """Both simulators (`python -m sandbox.quickbooks` / `sandbox.monday`) on loopback, each in its own process,
    with the scaled-down limits (they still answer 429 past them)."""
    from sandbox.monday import MondayAccount

    qbo_port, monday_port = _free_port(), _free_port()
    qbo_url, monday_url = f"http://127.0.0.1:{qbo_port}", f"http://127.0.0.1:{monday_port}"
    procs = [
        _started(["sandbox.quickbooks", "--port", str(qbo_port), "--realm", REALM, "--seed", "17",
                  "--access-token", QBO_TOKEN, "--customers", str(scale.customers), "--invoices", str(scale.invoices),
                  "--payments", str(scale.payments), "--per-second", str(scale.qbo_per_second),
                  "--per-minute", str(scale.qbo_per_window), "--minute-window", str(scale.qbo_window)],
                 f"{qbo_url}/_sim/health"),
        _started(["sandbox.monday", "--port", str(monday_port), "--seed", "19", "--token", MONDAY_TOKEN,
                  "--workspaces", "2", "--boards", str(scale.boards), "--items-per-board", str(scale.items_per_board),
                  "--subitems-per-item", "1", "--daily-calls", "0", "--per-minute", str(scale.monday_requests),
                  "--concurrency", str(scale.monday_concurrency), "--complexity-per-minute",
                  str(scale.monday_complexity), "--window-seconds", str(scale.monday_window)],
                 f"{monday_url}/_sim/health"),
    ]
    try:
        # The same generator with the same seed: the account the monday simulator serves, to name its boards.
        account = MondayAccount.generate(seed=19, workspaces=2, boards=scale.boards,
                                         items_per_board=scale.items_per_board, subitems_per_item=1)
        boards = sorted(b.id for b in account.boards.values() if b.object_type == "board" and b.state == "active")
        sims = Sims(qbo_url, monday_url, account.id, boards)
        _warm_up(f"{monday_url}/v2", json.dumps({"query": "{ me { id } }"}).encode(), MONDAY_TOKEN)
        _warm_up(f"{qbo_url}/v3/company/{REALM}/query?query=select%20*%20from%20Invoice%20maxresults%201"
                 "&minorversion=75", None, f"Bearer {QBO_TOKEN}")
        # The warm-up calls leave the simulators' windows before the workers start.
        time.sleep(max(scale.qbo_window, scale.monday_window) + 0.5)
        yield sims
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def _warm_up(url: str, body: bytes | None, authorization: str) -> None:
    """One request before the workers start: a simulator builds its schema and indexes on its first ones, and its
    single thread would meanwhile hold the requests arriving behind it, then count them as arriving together later
    (the real services count a request when it arrives)."""
    request = urllib.request.Request(url, data=body, headers={
        "Authorization": authorization, "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def add_connections(pg_dsn: str, sims: Sims, scale: Scale) -> tuple[str, str]:
    """A QuickBooks and a monday connection to the simulators, their tokens in this process's environment (the
    workers inherit it), told the simulators' scaled windows as they would be told a real service's limits."""
    suffix = uuid.uuid4().hex[:6]
    qbo_id, monday_id = f"mw-qbo-{suffix}", f"mw-monday-{suffix}"
    os.environ[env_name(f"conn-{qbo_id}-token")] = QBO_TOKEN
    os.environ[env_name(f"conn-{monday_id}-token")] = MONDAY_TOKEN
    main_boards = sims.monday_boards
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(qbo_id, "quickbooks", "many workers", {
            "realm_id": REALM, "base_url": sims.qbo_url, "access_token_secret": f"conn-{qbo_id}-token",
            "page_size": scale.qbo_page_size, "retry_base_delay": 0.01, "throttle_wait_seconds": 2,
            "streams": QBO_ENTITIES, "reports": False,
            "realm_limits": [[scale.qbo_per_second, 1.0], [scale.qbo_per_window, scale.qbo_window]]}))
        upsert_connection(conn, Connection(monday_id, "monday", "many workers", {
            "api_token_secret": f"conn-{monday_id}-token", "base_url": sims.monday_url,
            "account_id": f"mw-acct-{suffix}", "retry_base_delay": 0.01, "daily_call_cap": 1_000_000,
            "item_page_size": scale.item_page_size, "boards": main_boards,
            "requests_per_minute": scale.monday_requests, "complexity_per_minute": scale.monday_complexity,
            "max_concurrency": scale.monday_concurrency, "limit_window_seconds": scale.monday_window,
            "minute_budget_share": scale.monday_share}))
        conn.commit()
    return qbo_id, monday_id


def plan_streams(connection_ids: list[str]) -> list[dict[str, Any]]:
    """Every stream a complete read of the connections starts with, and its first cursor, as the plugins plan it
    (monday: the account phase and the items phase)."""
    from plugins import registry
    from shared.db.connect import connect
    from shared.db.connections import get_connection

    streams: list[dict[str, Any]] = []
    with connect() as db:
        for connection_id in connection_ids:
            connection = get_connection(db, connection_id)
            plugin = registry.get(connection.plugin)
            for phase in (0, 1):
                plan = plugin.plan(connection, "full", {}, 0, phase=phase, store=plugin.storage(db))
                assert plan.refused is None, plan.refused
                streams += [{"connection_id": connection_id, "stream": p.stream, "cursor": p.cursor}
                            for p in plan.streams]
                if connection.plugin != "monday":
                    break
    return streams


@dataclass
class Outcome:
    """What the workers did, and the calls each simulator had served when the measured span ended."""

    workers: list[dict[str, Any]]
    started: float
    served_at_end: dict[str, int] = field(default_factory=dict)


def run_workers(streams: list[dict[str, Any]], sims: Sims, *, workers: int = 4, every_stream: bool = False,
                span: float | None = None, timeout: float = 300) -> Outcome:
    """Deal the streams out to `workers` processes (with `every_stream`, each reads all of them, as runs of several
    connections to one realm and account would), start them together and wait for them. With `span`, they start
    no fetch after `span` seconds, and the calls each simulator served within it are recorded."""
    shares = [streams if every_stream else streams[i::workers] for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.many_workers"], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in shares]
    try:
        for proc, share in zip(procs, shares, strict=True):
            assert proc.stdin is not None and proc.stdout is not None
            run_id = f"many-workers-{uuid.uuid4().hex[:8]}"
            proc.stdin.write(json.dumps({"run_id": run_id, "streams": share, "span": span}) + "\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a worker did not start: {line!r}")
        outcome = Outcome([], time.time())
        timer = None
        if span is not None:
            def record() -> None:
                outcome.served_at_end.update(quickbooks=sims.qbo_calls(), monday=sims.monday_calls())
            timer = threading.Timer(span, record)
            timer.start()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout)
            outcome.workers.append(json.loads(out.strip().splitlines()[-1]))
        if timer is not None:
            timer.join()
        return outcome
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# -- the worker process -------------------------------------------------------------------------------------------
async def _chain(run_id: str, stream: dict[str, Any], stop_at: float | None, slots: asyncio.Semaphore,
                 report: dict[str, Any], sequence: int = 0, lane: bool = False) -> None:
    """Read one cursor chain to its end; `lane`: a chain split off a stream (the stream is done when its own is)."""
    from activities.fetch import fetch_pages
    from orchestrators.sync_stream import LANE_STRIDE
    from shared.core.messages import FetchRequest, FetchResult

    cursor = stream["cursor"]
    while True:
        if stop_at is not None and time.time() >= stop_at:
            report["stopped"] += 1
            return
        async with slots:
            answer = await fetch_pages(FetchRequest(run_id, stream["connection_id"], stream["stream"], cursor,
                                                    sequence).to_json())
        result = FetchResult.from_json(answer)
        sequence += len(result.pages)
        report["pages"] += len(result.pages)
        cursor = result.cursor
        if result.chains:
            # A split read (plugins/quickbooks/partition.py): its chains are read side by side, as sync_stream
            # reads them, each landing under its own lane's sequence numbers; the stream's own chain goes on after.
            report["lanes"] = report.get("lanes", 0) + len(result.chains)
            outcomes = await asyncio.gather(*(
                _chain(run_id, dict(stream, cursor=chain), stop_at, slots, report,
                       (report["lanes"] - index) * LANE_STRIDE, lane=True)
                for index, chain in enumerate(result.chains)), return_exceptions=True)
            report["errors"] += _failures(outcomes)
        if result.retry_after is not None:
            # The orchestrator would wait on a durable timer: a worker process waits as long.
            report["throttled"].append({"stream": stream["stream"], "retry_after": result.retry_after,
                                        "reason": result.throttle_reason})
            await asyncio.sleep(min(result.retry_after, 30.0))
            continue
        if result.done:
            report["done"] += 0 if lane else 1
            return


async def _work(job: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"pid": os.getpid(), "streams": len(job["streams"]), "done": 0, "stopped": 0,
                              "pages": 0, "throttled": [], "errors": []}
    stop_at = time.time() + job["span"] if job.get("span") else None
    slots = asyncio.Semaphore(FETCHES_PER_WORKER)
    outcomes = await asyncio.gather(*(_chain(job["run_id"], s, stop_at, slots, report) for s in job["streams"]),
                                    return_exceptions=True)
    report["errors"] += _failures(outcomes)
    return report


def _failures(outcomes: list[Any]) -> list[str]:
    return [f"{type(e).__name__}: {e}"[:300] for e in outcomes if isinstance(e, BaseException)]


def main() -> None:
    job = json.loads(sys.stdin.readline())
    import activities.fetch  # noqa: F401  (imported before "ready": the workers start together)

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    print(json.dumps(asyncio.run(_work(job))), flush=True)


if __name__ == "__main__":
    main()
