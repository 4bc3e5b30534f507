"""Serve a generated company through the QuickBooks simulator, or print what it holds.

python -m sandbox.quickbooks.datagen --records 20000 --years 3 --seed 7 [--port 8761] [--summary]

It serves on the QuickBooks simulator's port by default, where the app's QBO_BASE_URL points: stop that
simulator first, or pass another --port and point the connection's base_url at it.
"""

from __future__ import annotations

import argparse
import collections

from sandbox.ports import QUICKBOOKS_PORT
from sandbox.quickbooks import SimClock, SimulatorState, ThrottleLimits, create_app
from sandbox.quickbooks.datagen import generate_company
from sandbox.quickbooks.entities import ENTITIES
from sandbox.serve import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.quickbooks.datagen", description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="about this many transactions in all")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--realm", default="9130350000000009")
    parser.add_argument("--fiscal-start", help="FiscalYearStartMonth, e.g. April")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=QUICKBOOKS_PORT)
    parser.add_argument("--access-token", default="demo-access-token")
    parser.add_argument("--latency", type=float, default=None,
                        help="seconds added to every API request, not to /_sim/ (env SIM_LATENCY_SECONDS)")
    parser.add_argument("--per-second", type=int, default=10, help="requests/s per realm (0: no limit)")
    parser.add_argument("--per-minute", type=int, default=500, help="requests/min per realm (0: no limit)")
    parser.add_argument("--summary", action="store_true", help="print invoices per month and exit")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    company = generate_company(args.realm, args.seed, args.records, years=args.years,
                               fiscal_start_month=args.fiscal_start)
    print(", ".join(f"{entity} {count}" for entity, count in company.counts().items() if count), flush=True)
    if args.summary:
        months = collections.Counter(r["TxnDate"][:7] for r in company.records["Invoice"])
        for month, count in sorted(months.items()):
            print(f"{month} {count:6} {'#' * (count * 60 // max(months.values()))}")
        return
    limits = ThrottleLimits(per_second=args.per_second or None, per_minute=args.per_minute or None)
    state = SimulatorState(companies=[company], clock=SimClock(), access_tokens={args.access_token}, limits=limits)
    store = state.store(args.realm)
    for kind in ENTITIES.values():
        store.keyset(kind)  # sorted before serving: the real API's first page takes no longer than its others
    serve(create_app(state, latency=args.latency), args.host, args.port)


if __name__ == "__main__":
    main()
