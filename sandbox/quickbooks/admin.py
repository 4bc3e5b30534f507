"""The simulator's control plane under /_sim/: change data, queue faults, move time, read meters.

It lets an out-of-process run be steered the way tests steer the in-process SimulatorState.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .gate import STATE_KEY


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return data


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _json({"status": "ok", "realms": sorted(state.stores), "now": state.clock.now().isoformat()})


async def change(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    realm, op = request.match_info["realm"], request.match_info["op"]
    body = await _body(request)
    entity, ident = str(body.get("entity", "")), str(body.get("id", ""))
    try:
        if op == "update":
            return _json({"record": state.update(realm, entity, ident, dict(body.get("fields") or {}))})
        if op == "create":
            return _json({"id": state.create(realm, entity, dict(body.get("fields") or {}))})
        if op == "delete":
            state.delete(realm, entity, ident)
            return _json({"deleted": True})
        return _json({"record": state.void(realm, entity, ident)})
    except KeyError as error:
        return _json({"error": str(error.args[0] if error.args else error)}, status=404)
    except ValueError as error:
        return _json({"error": str(error)}, status=400)


async def add_fault(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    try:
        state.faults.inject(str(body.get("kind", "")), int(body.get("count", 1)), body.get("path_contains"))
    except (TypeError, ValueError) as error:
        return _json({"error": str(error)}, status=400)
    if "hang_seconds" in body:
        state.faults.hang_seconds = float(body["hang_seconds"])
    return _json({"pending": state.faults.pending()})


async def list_faults(request: web.Request) -> web.Response:
    return _json({"pending": request.app[STATE_KEY].faults.pending()})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.clear()
    return _json({"pending": []})


async def advance_clock(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    try:
        moment = state.clock.advance(float(body.get("advance_seconds", 0)))
    except (TypeError, ValueError) as error:
        return _json({"error": str(error)}, status=400)
    return _json({"now": moment.isoformat()})


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE_KEY].stats(request.match_info["realm"]))


async def tokens(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _json({"refresh_token": state.oauth.current_refresh_token(request.match_info["realm"])})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/clock", advance_clock)
    app.router.add_get("/_sim/{realm}/stats", stats)
    app.router.add_get("/_sim/{realm}/tokens", tokens)
    app.router.add_post("/_sim/{realm}/{op:update|create|delete|void}", change)
