"""A fixed delay added to every API request (never to the control plane under /_sim/), so a local run can show
the real services' page times: QuickBooks answers a 1,000-record query page in about a second.

Set at startup (`--latency SECONDS` on every simulator's command line, or SIM_LATENCY_SECONDS), or at run time
through `GET/POST /_sim/latency {"seconds": 1.0}`. The delay is an asyncio sleep: requests wait side by side,
as they do on the real service, and the simulator's own work is not slowed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from .admin import json_response, read_body

ENV = "SIM_LATENCY_SECONDS"
MAX_SECONDS = 120.0
CONTROL_PREFIX = "/_sim/"


@dataclass
class Latency:
    """The delay in seconds; changed by the control plane while the server runs."""

    seconds: float = 0.0

    @classmethod
    def from_env(cls) -> Latency:
        return cls(checked(os.environ.get(ENV) or 0.0))


LATENCY_KEY = web.AppKey("sim_latency", Latency)


def checked(value: object) -> float:
    """A delay between 0 and MAX_SECONDS, or ValueError saying what is wrong."""
    seconds = float(value)  # type: ignore[arg-type]
    if not 0.0 <= seconds <= MAX_SECONDS:
        raise ValueError(f"latency must be between 0 and {MAX_SECONDS:g} seconds, got {seconds:g}")
    return seconds


def install_latency(app: web.Application, seconds: float | None = None) -> Latency:
    """Delay the app's API requests by `seconds` (default: SIM_LATENCY_SECONDS, else none) and add
    /_sim/latency. Call before the app starts, after the app's own middlewares: the delay comes after a gateway's
    checks (faults, tokens, request limits), as the real service admits a request when it arrives and then takes
    its time to answer. Delayed first, requests held up by a busy event loop would reach the limits together."""
    latency = Latency(checked(seconds)) if seconds is not None else Latency.from_env()
    app[LATENCY_KEY] = latency

    @web.middleware
    async def delay(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if latency.seconds > 0 and not request.path.startswith(CONTROL_PREFIX):
            await asyncio.sleep(latency.seconds)
        return await handler(request)

    async def latency_route(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await read_body(request)
            try:
                latency.seconds = checked(body.get("seconds", 0.0))
            except (TypeError, ValueError) as error:
                return json_response({"error": str(error)}, status=400)
        return json_response({"seconds": latency.seconds})

    app.middlewares.append(delay)
    app.router.add_get("/_sim/latency", latency_route)
    app.router.add_post("/_sim/latency", latency_route)
    return latency
