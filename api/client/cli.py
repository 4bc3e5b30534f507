"""`python -m api.client sync`: start a sync through the HTTP API and, with --wait, follow it to its end.

    python -m api.client sync [--connection ID] [--mode full|incremental|backfill] [--since YYYY-MM-DD] [--wait]

Where: BIZ_API_URL (default http://127.0.0.1:8770, the local `make api` server); the key: BIZ_API_KEY, or the file
BIZ_API_KEY_FILE names (default .local/api-key). The run id is the first line on standard output; progress and
errors go to standard error. The API checks the request (e.g. a backfill's date) and the CLI prints its answer.

Exit codes: 0 started (with --wait: succeeded); 1 the run ended otherwise (failed, partial, skipped, cancelled);
2 the request was refused (a 4xx: its problem detail is printed) or the CLI cannot call (no key, unsafe URL);
3 the API did not answer or failed (5xx); 4 --wait gave up while the run was still running.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from api.client.transport import Answer, Api, ClientError, Transport, Unreachable, api_key, api_url, urllib_transport

OK, RUN_NOT_SUCCEEDED, REFUSED, UNAVAILABLE, STILL_RUNNING = 0, 1, 2, 3, 4
SHOWN_TOTALS = ("fetched", "inserted", "updated", "unchanged", "deleted", "quarantined")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.client", description="Call the Bizmetrics HTTP API.",
                                     epilog="BIZ_API_URL, BIZ_API_KEY / BIZ_API_KEY_FILE: see the module docstring")
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="start a sync (and follow it with --wait)")
    sync.add_argument("--connection", metavar="CONNECTION_ID", help="one connection (default: every enabled one)")
    sync.add_argument("--mode", choices=("incremental", "full", "backfill"), default="incremental")
    sync.add_argument("--since", metavar="YYYY-MM-DD", help="backfill: re-read what changed since this date")
    sync.add_argument("--wait", action="store_true", help="poll the run until it ends; exit 0 only if it succeeded")
    sync.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="--wait gives up after this")
    sync.add_argument("--interval", type=float, default=5.0, metavar="SECONDS", help="between polls (default 5)")
    return parser


def main(argv: Sequence[str] | None = None, *, transport: Transport = urllib_transport,
         out: TextIO = sys.stdout, err: TextIO = sys.stderr, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> int:
    args = _parser().parse_args(argv)
    try:
        api = Api(api_url(), api_key(), transport)
        return _sync(api, args, out, err, sleep, clock)
    except ClientError as exc:
        print(f"error: {exc}", file=err)
        return REFUSED
    except Unreachable as exc:
        print(f"error: the API did not answer: {exc}", file=err)
        return UNAVAILABLE


def _sync(api: Api, args: argparse.Namespace, out: TextIO, err: TextIO, sleep: Callable[[float], None],
          clock: Callable[[], float]) -> int:
    body: dict[str, Any] = {"mode": args.mode}
    if args.connection:
        body["connection_id"] = args.connection
    if args.since is not None:
        body["since"] = args.since
    answer = api.call("POST", "/api/syncs", body)
    if not answer.ok:
        return _refused("the sync was not started", answer, err)
    started = answer.body
    print(started["run_id"], file=out)
    out.flush()
    since = f" from {started['since']}" if started.get("since") else ""
    print(f"started {started['run_id']}: {started['mode']}{since} of {started['scope']}", file=err)
    if not args.wait:
        return OK
    return _follow(api, started["status_url"], args, err, sleep, clock)


def _follow(api: Api, status_url: str, args: argparse.Namespace, err: TextIO, sleep: Callable[[float], None],
            clock: Callable[[], float]) -> int:
    """Poll the run until it is no longer running; say what changed since the last poll."""
    deadline = clock() + args.timeout
    last = ""
    while True:
        try:
            answer = api.call("GET", status_url)
        except Unreachable as exc:  # one lost poll does not end the wait
            answer, last = None, ""
            print(f"(the API did not answer: {exc}; trying again)", file=err)
        if answer is not None:
            if 400 <= answer.status < 500:
                return _refused("the run's status could not be read", answer, err)
            if not answer.ok:
                last = ""
                print(f"(HTTP {answer.status} while reading the run: {answer.problem()}; trying again)", file=err)
            else:
                run = answer.body
                line = _progress(run)
                if line != last:
                    print(line, file=err)
                    last = line
                if run["status"] != "running":
                    return _ended(run, err)
        if clock() >= deadline:
            print(f"gave up waiting after {args.timeout:g} s; the run goes on: GET {status_url}", file=err)
            return STILL_RUNNING
        sleep(args.interval)


def _progress(run: dict[str, Any]) -> str:
    streams = run.get("streams") or []
    done = sum(1 for s in streams if s["status"] != "running")
    totals = run.get("totals") or {}
    return (f"{run['run_id']} {run['status']}: {done}/{len(streams)} streams done, "
            + ", ".join(f"{totals.get(name, 0)} {name}" for name in SHOWN_TOTALS))


def _ended(run: dict[str, Any], err: TextIO) -> int:
    for note in run.get("notes") or []:
        print(f"note ({note.get('connection_id')}): {note.get('note')}", file=err)
    for error in run.get("errors") or []:
        where = error.get("connection_id") or "run"
        print(f"error ({where}): {error.get('error')}", file=err)
    return OK if run["status"] == "succeeded" else RUN_NOT_SUCCEEDED


def _refused(what: str, answer: Answer, err: TextIO) -> int:
    print(f"error: {what}: HTTP {answer.status}: {answer.problem()}", file=err)
    if isinstance(answer.body, dict) and answer.body.get("run_id"):
        print(f"(the run concerned: {answer.body['run_id']})", file=err)
    return REFUSED if 400 <= answer.status < 500 else UNAVAILABLE
