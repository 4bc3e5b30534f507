"""The command line every simulator shares: the flags they all take, and serving an app on a host and port.

A simulator's `__main__` adds its own flags (its dataset's size, tokens, limits) and builds its state.
"""

from __future__ import annotations

import argparse
import gc
import logging

from aiohttp import web


def simulator_parser(prog: str, description: str | None, *, port: int, clock_start: str,
                     hang_seconds: float) -> argparse.ArgumentParser:
    """--host, --port, --seed (of the demo data), the simulated clock and how long a "timeout" fault hangs."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clock-start", default=clock_start, help="simulated time at startup (ISO, with offset)")
    parser.add_argument("--frozen-clock", action="store_true", help="time moves only through /_sim/clock")
    parser.add_argument("--hang-seconds", type=float, default=hang_seconds,
                        help='how long a "timeout" fault holds a request before its 504')
    parser.add_argument("--latency", type=float, default=None,
                        help="seconds added to every API request, not to /_sim/ (env SIM_LATENCY_SECONDS)")
    return parser


def serve(app: web.Application, host: str, port: int, banner: str | None = None) -> None:
    """Log at INFO, say what is served (`banner`), and serve until interrupted."""
    logging.basicConfig(level=logging.INFO)
    if banner is not None:
        print(banner, flush=True)
    # What was built before serving (a generated company: 1.4M objects at 100,000 transactions) lives as long as the
    # server: kept out of the cyclic collector, whose full pass over it took 2.4-2.9 s, holding every request (their
    # arrivals then reach the request limits together, as the real service's never do).
    gc.collect()
    gc.freeze()
    web.run_app(app, host=host, port=port, print=print)
