"""The simulator's control plane under /_sim/: change data, queue faults, move time, read meters.

It lets an out-of-process run be steered the way tests steer the in-process SimulatorState.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox.admin import add_fault_and_clock_routes, add_webhook_outbox_routes, json_response, read_body

from .gate import STATE_KEY


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response({"status": "ok", "realms": sorted(state.stores), "now": state.clock.now().isoformat()})


async def change(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    realm, op = request.match_info["realm"], request.match_info["op"]
    body = await read_body(request)
    entity, ident = str(body.get("entity", "")), str(body.get("id", ""))
    try:
        if op == "update":
            return json_response({"record": state.update(realm, entity, ident, dict(body.get("fields") or {}))})
        if op == "create":
            return json_response({"id": state.create(realm, entity, dict(body.get("fields") or {}))})
        if op == "delete":
            state.delete(realm, entity, ident)
            return json_response({"deleted": True})
        return json_response({"record": state.void(realm, entity, ident)})
    except KeyError as error:
        return json_response({"error": str(error.args[0] if error.args else error)}, status=404)
    except ValueError as error:
        return json_response({"error": str(error)}, status=400)


async def stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATE_KEY].stats(request.match_info["realm"]))


async def tokens(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response({"refresh_token": state.oauth.current_refresh_token(request.match_info["realm"])})


async def cdc_selection(request: web.Request) -> web.Response:
    """GET: which 1,000 objects a full CDC response keeps; POST {"selection": .., "seed": ..}: change it."""
    selection = request.app[STATE_KEY].cdc_selection
    if request.method == "POST":
        body = await read_body(request)
        try:
            selection.set(str(body.get("selection", selection.mode)),
                          int(body["seed"]) if body.get("seed") is not None else None)
        except (TypeError, ValueError) as error:
            return json_response({"error": str(error)}, status=400)
    return json_response(selection.describe())


async def webhook_subscription(request: web.Request) -> web.Response:
    """GET: the app's webhook endpoint; PUT {"url", "verifier_token", "entities"?, "one_realm_per_post"?}: set
    it; DELETE: clear it. The token is never answered back."""
    webhooks = request.app[STATE_KEY].webhooks
    if request.method == "PUT":
        body = await read_body(request)
        entities = body.get("entities")
        try:
            if entities is not None and not isinstance(entities, list):
                raise ValueError("entities must be a list of entity names")
            webhooks.subscribe(str(body.get("url") or ""), str(body.get("verifier_token") or ""), entities,
                               one_realm_per_post=bool(body.get("one_realm_per_post", False)))
        except ValueError as error:
            return json_response({"error": str(error)}, status=400)
    elif request.method == "DELETE":
        webhooks.unsubscribe()
    return json_response(webhooks.describe())


def _inject_fault(state: Any, body: dict[str, Any]) -> None:
    state.faults.inject(str(body.get("kind", "")), int(body.get("count", 1)), body.get("path_contains"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    add_fault_and_clock_routes(app, STATE_KEY, inject=_inject_fault, format_time=datetime.isoformat)
    app.router.add_get("/_sim/cdc", cdc_selection)
    app.router.add_post("/_sim/cdc", cdc_selection)
    app.router.add_get("/_sim/{realm}/stats", stats)
    app.router.add_get("/_sim/{realm}/tokens", tokens)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, "/_sim/webhooks", webhook_subscription)
    add_webhook_outbox_routes(app, lambda served: served[STATE_KEY].webhooks.outbox)
    app.router.add_post("/_sim/{realm}/{op:update|create|delete|void}", change)
