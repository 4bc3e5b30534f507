"""Command line: start, drive, resume and inspect orchestrations in a local host's store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from devhost.status import to_status
from devhost.store import Store

DEFAULT_STORE = ".local/devhost.sqlite"
DEFAULT_APP = "function_app:app"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--app", default=DEFAULT_APP, help="import path of the DFApp, module:attribute")
    parser.add_argument("--store", default=DEFAULT_STORE, help="SQLite file of the task hub")
    parser.add_argument("--task-hub", default="devhost", help="task hub name inside the store")
    parser.add_argument("--virtual-time", action="store_true", help="jump over durable timers instead of waiting")
    parser.add_argument("--workers", type=int, default=4, help="activity threads (in flight, in all processes)")
    parser.add_argument("--processes", type=int, default=0,
                        help="run activities in this many worker processes (FUNCTIONS_WORKER_PROCESS_COUNT); "
                             "0 or 1: the host's own threads")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="schedule an orchestration (drive it with `run`)")
    start.add_argument("name")
    start.add_argument("--id", dest="instance_id")
    start.add_argument("--input", help="JSON input")
    run = commands.add_parser("run", help="drive every instance until nothing can run")
    run.add_argument("--timeout", type=float)
    resume = commands.add_parser("resume", help="after a crash: re-create lost work, then run")
    resume.add_argument("--timeout", type=float)
    commands.add_parser("status", help="status of an instance").add_argument("instance_id")
    commands.add_parser("history", help="history events of an instance").add_argument("instance_id")
    commands.add_parser("list", help="status of every instance")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command in ("status", "history", "list"):
        return _inspect(args)
    from devhost.host import LocalDurableHost
    from devhost.workers import load_app

    host = LocalDurableHost(load_app(args.app), args.store, virtual_time=args.virtual_time,
                            max_activity_workers=args.workers, task_hub=args.task_hub,
                            activity_processes=args.processes, app_ref=args.app)
    try:
        if args.command == "start":
            payload = None if args.input is None else json.loads(args.input)
            _print({"instanceId": host.start_new(args.name, args.instance_id, payload)})
        elif args.command == "run":
            host.run_until_idle(args.timeout)
            _print([_brief(s) for s in host.list_instances()])
        else:
            _print({"repaired": host.resume()})
            host.run_until_idle(args.timeout)
            _print([_brief(s) for s in host.list_instances()])
    finally:
        host.close()
    return 0


def _inspect(args: argparse.Namespace) -> int:
    # Read-only commands use the store alone: no need to import (or configure) the app.
    store = Store(args.store, args.task_hub)
    try:
        if args.command == "list":
            _print([_brief(to_status(i)) for i in store.list_instances()])
            return 0
        instance = store.get_instance(args.instance_id)
        if instance is None:
            print(f"no instance {args.instance_id!r} in {args.store}", file=sys.stderr)
            return 1
        if args.command == "history":
            _print(store.history(args.instance_id))
        else:
            status = to_status(instance)
            if instance.status == "Failed" and instance.error:
                status["errorDetails"] = instance.error
            _print(status)
        return 0
    finally:
        store.close()


def _brief(status: dict[str, Any]) -> dict[str, Any]:
    return {k: status[k] for k in ("instanceId", "name", "runtimeStatus", "lastUpdatedTime")}


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))
