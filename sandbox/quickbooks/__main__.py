"""Serve the demo company: python -m sandbox.quickbooks --host 127.0.0.1 --port 8761 [--seed 7]."""

from __future__ import annotations

import argparse
import os

from sandbox.ports import QUICKBOOKS_PORT
from sandbox.serve import serve, simulator_parser

from . import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app
from .cdc_selection import DEFAULT_SELECTION, SELECTIONS
from .clock import DEFAULT_START
from .faults import DEFAULT_HANG_SECONDS


def _parser() -> argparse.ArgumentParser:
    parser = simulator_parser("python -m sandbox.quickbooks", __doc__, port=QUICKBOOKS_PORT,
                              clock_start=DEFAULT_START, hang_seconds=DEFAULT_HANG_SECONDS)
    parser.add_argument("--realm", default="9130350000000001")
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--invoices", type=int, default=2400)
    parser.add_argument("--payments", type=int, default=1800)
    parser.add_argument("--access-token", default="demo-access-token", help="a static token valid for every realm")
    parser.add_argument("--refresh-token", default="demo-refresh-token", help="the realm's first refresh token")
    parser.add_argument("--client-id", default="demo-client-id")
    parser.add_argument("--client-secret", default="demo-client-secret")
    parser.add_argument("--per-second", type=int, default=10, help="requests/s per realm (0: no limit)")
    parser.add_argument("--per-minute", type=int, default=500, help="requests/min per realm (0: no limit)")
    parser.add_argument("--second-window", type=float, default=1.0, help="length of the per-second window, s")
    parser.add_argument("--minute-window", type=float, default=60.0, help="length of the per-minute window, s")
    parser.add_argument("--minorversion-policy", choices=("reject", "ignore"), default="reject")
    parser.add_argument("--cdc-selection", choices=SELECTIONS,
                        default=os.environ.get("QBO_SIM_CDC_SELECTION", DEFAULT_SELECTION),
                        help="which 1,000 objects a full CDC response keeps (env QBO_SIM_CDC_SELECTION)")
    parser.add_argument("--cdc-seed", type=int, default=int(os.environ.get("QBO_SIM_CDC_SEED", "0")),
                        help="seed of the random CDC selection (env QBO_SIM_CDC_SEED)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    company = DemoCompany.generate(realm_id=args.realm, seed=args.seed, customers=args.customers,
                                   invoices=args.invoices, payments=args.payments)
    state = SimulatorState(
        companies=[company], clock=SimClock(start=args.clock_start, frozen=args.frozen_clock),
        access_tokens={args.access_token}, refresh_tokens={args.realm: args.refresh_token},
        client_id=args.client_id, client_secret=args.client_secret,
        limits=ThrottleLimits(per_second=args.per_second or None, per_minute=args.per_minute or None,
                              second_window=args.second_window, minute_window=args.minute_window),
        minorversion_policy=args.minorversion_policy, timeout_hang_seconds=args.hang_seconds,
        cdc_selection=args.cdc_selection, cdc_seed=args.cdc_seed)
    counts = ", ".join(f"{name} {count}" for name, count in company.counts().items())
    serve(create_app(state, latency=args.latency), args.host, args.port,
          banner=f"QuickBooks simulator: realm {args.realm} (seed {args.seed}): {counts}")


if __name__ == "__main__":
    main()
