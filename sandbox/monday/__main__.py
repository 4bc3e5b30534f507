"""Serve the demo account: python -m sandbox.monday --host 127.0.0.1 --port 8762 [--seed 7]."""

from __future__ import annotations

import argparse
import dataclasses

from sandbox.ports import MONDAY_PORT
from sandbox.serve import serve, simulator_parser

from . import PLANS, MondayAccount, MondayState, PlanLimits, SimClock, create_app
from .clock import DEFAULT_START
from .faults import DEFAULT_HANG_SECONDS
from .versions import CURRENT_VERSION, VERSION_KINDS


def _parser() -> argparse.ArgumentParser:
    parser = simulator_parser("python -m sandbox.monday", __doc__, port=MONDAY_PORT, clock_start=DEFAULT_START,
                              hang_seconds=DEFAULT_HANG_SECONDS)
    parser.add_argument("--workspaces", type=int, default=3)
    parser.add_argument("--boards", type=int, default=8, help="main boards (each with a subitems board)")
    parser.add_argument("--items-per-board", type=int, default=300)
    parser.add_argument("--subitems-per-item", type=int, default=2)
    parser.add_argument("--token", default="demo-monday-token", help="the API token of the demo account")
    parser.add_argument("--plan", choices=sorted(PLANS), default="standard", help="daily/minute/complexity limits")
    for flag, what in (("--daily-calls", "daily calls"), ("--per-minute", "requests per window"),
                       ("--concurrency", "requests in flight"), ("--complexity-per-minute", "complexity per window")):
        parser.add_argument(flag, type=int, help=f"{what} per account, over the plan's (0: no limit)")
    parser.add_argument("--window-seconds", type=float, help="length of the requests and complexity window (60)")
    parser.add_argument("--default-version", choices=sorted(VERSION_KINDS), default=CURRENT_VERSION,
                        help="the version served when a request has no API-Version header")
    return parser


def _limits(args: argparse.Namespace) -> PlanLimits:
    """The plan's limits with the flags given over them."""
    overrides = {field: (value or None) for field, value in (
        ("daily_calls", args.daily_calls), ("per_minute", args.per_minute), ("concurrency", args.concurrency),
        ("complexity_per_minute", args.complexity_per_minute)) if value is not None}
    if args.window_seconds is not None:
        overrides["window_seconds"] = args.window_seconds
    return dataclasses.replace(PLANS[args.plan], **overrides)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    account = MondayAccount.generate(seed=args.seed, workspaces=args.workspaces, boards=args.boards,
                                     items_per_board=args.items_per_board, subitems_per_item=args.subitems_per_item)
    state = MondayState(accounts=[account], clock=SimClock(start=args.clock_start, frozen=args.frozen_clock),
                        tokens={args.token: account.id}, plan=_limits(args), default_version=args.default_version,
                        timeout_hang_seconds=args.hang_seconds, copy_accounts=False)
    counts = ", ".join(f"{name} {count}" for name, count in account.counts().items())
    serve(create_app(state, latency=args.latency), args.host, args.port,
          banner=f"monday simulator: account {account.id} (seed {args.seed}): {counts}")


if __name__ == "__main__":
    main()
