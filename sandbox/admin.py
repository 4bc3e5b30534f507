"""What every simulator's control plane under /_sim/ shares: JSON in and out, the fault queue, the clock,
and the webhook outbox (its delivery log, flush, faults and timing).

A simulator supplies how a fault request maps onto its own injector and how it writes a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .webhooks import WebhookOutbox


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda v: json.dumps(v, default=str))


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; a 400 that says so when it is not one."""
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return data


def add_fault_and_clock_routes(
    app: web.Application,
    state_key: web.AppKey[Any],
    *,
    inject: Callable[[Any, dict[str, Any]], None],
    format_time: Callable[[datetime], str],
) -> None:
    """GET/POST/DELETE /_sim/faults and POST /_sim/clock for the state stored under `state_key`."""

    async def add_fault(request: web.Request) -> web.Response:
        state = request.app[state_key]
        body = await read_body(request)
        try:
            inject(state, body)
        except (TypeError, ValueError) as error:
            return json_response({"error": str(error)}, status=400)
        if "hang_seconds" in body:
            state.faults.hang_seconds = float(body["hang_seconds"])
        return json_response({"pending": state.faults.pending()})

    async def list_faults(request: web.Request) -> web.Response:
        return json_response({"pending": request.app[state_key].faults.pending()})

    async def clear_faults(request: web.Request) -> web.Response:
        request.app[state_key].faults.clear()
        return json_response({"pending": []})

    async def advance_clock(request: web.Request) -> web.Response:
        state = request.app[state_key]
        body = await read_body(request)
        try:
            moment = state.clock.advance(float(body.get("advance_seconds", 0)))
        except (TypeError, ValueError) as error:
            return json_response({"error": str(error)}, status=400)
        return json_response({"now": format_time(moment)})

    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/clock", advance_clock)


def add_webhook_outbox_routes(app: web.Application, outbox_of: Callable[[web.Application], WebhookOutbox]) -> None:
    """/_sim/webhooks/{deliveries,flush,faults,settings}: what every simulator's webhooks share.

    A simulator adds its own subscription routes (what a subscription names differs per service).
    """

    async def deliveries(request: web.Request) -> web.Response:
        outbox = outbox_of(request.app)
        if request.method == "DELETE":
            outbox.clear_log()
        return json_response({"deliveries": outbox.log()})

    async def flush(request: web.Request) -> web.Response:
        body = await read_body(request) if request.can_read_body else {}
        try:
            timeout = float(body.get("timeout_seconds", 10.0))
        except (TypeError, ValueError):
            return json_response({"error": "timeout_seconds must be a number"}, status=400)
        outbox = outbox_of(request.app)
        # The wait happens off the event loop: receivers may be served by this very process.
        flushed = await asyncio.to_thread(outbox.flush, min(max(timeout, 0.0), 120.0))
        return json_response({"flushed": flushed, "deliveries": len(outbox.attempts())},
                             status=200 if flushed else 504)

    async def faults(request: web.Request) -> web.Response:
        queue = outbox_of(request.app).faults
        if request.method == "POST":
            body = await read_body(request)
            try:
                seconds = body.get("seconds")
                queue.inject(str(body.get("kind", "")), int(body.get("count", 1)),
                             None if seconds is None else float(seconds))
            except (TypeError, ValueError) as error:
                return json_response({"error": str(error)}, status=400)
        elif request.method == "DELETE":
            queue.clear()
        return json_response({"pending": queue.pending()})

    async def settings(request: web.Request) -> web.Response:
        current = outbox_of(request.app).settings
        if request.method == "POST":
            try:
                current.update(await read_body(request))
            except (TypeError, ValueError) as error:
                return json_response({"error": str(error)}, status=400)
        return json_response(current.describe())

    for method in ("GET", "DELETE"):
        app.router.add_route(method, "/_sim/webhooks/deliveries", deliveries)
    app.router.add_post("/_sim/webhooks/flush", flush)
    for method in ("GET", "POST", "DELETE"):
        app.router.add_route(method, "/_sim/webhooks/faults", faults)
    for method in ("GET", "POST"):
        app.router.add_route(method, "/_sim/webhooks/settings", settings)
