"""The simulator's control plane under /_sim/: change data, queue faults, move time, read meters.

It lets an out-of-process run be steered the way tests steer the in-process MondayState. These routes are
never faulted, limited or metered.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import web

from sandbox.admin import add_fault_and_clock_routes, add_webhook_outbox_routes, json_response, read_body

from .api import STATE_KEY
from .clock import iso_z
from .model import Board, Item, Update

# state methods reachable through POST /_sim/mutations/{op}, with their JSON arguments as keyword arguments
MUTATIONS = frozenset({"create_board", "archive_board", "delete_board", "create_item", "create_subitem",
                       "change_column_value", "change_column_values", "rename_item", "move_item_to_group",
                       "move_item_to_board", "archive_item", "delete_item", "restore_item", "add_update"})


def _summary(record: Board | Item | Update) -> dict[str, Any]:
    if isinstance(record, Board):
        return {"id": record.id, "name": record.name, "state": record.state, "updated_at": iso_z(record.updated_at)}
    if isinstance(record, Item):
        return {"id": record.id, "board_id": record.board_id, "name": record.name,
                "state": record.state, "updated_at": iso_z(record.updated_at)}
    return asdict(record)


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return json_response({"status": "ok", "accounts": sorted(state.accounts), "now": iso_z(state.clock.now()),
                          "plan": asdict(state.limits), "default_version": state.default_version})


async def mutate(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    op = request.match_info["op"]
    if op not in MUTATIONS:
        return json_response({"error": f"unknown mutation {op!r}; expected one of {sorted(MUTATIONS)}"}, status=404)
    body = await read_body(request)
    try:
        record = getattr(state, op)(**body)
    except KeyError as error:
        return json_response({"error": str(error.args[0] if error.args else error)}, status=404)
    except (TypeError, ValueError) as error:
        return json_response({"error": str(error)}, status=400)
    return json_response({"record": _summary(record), "now": iso_z(state.clock.now())})


async def stats(request: web.Request) -> web.Response:
    try:
        return json_response(request.app[STATE_KEY].stats(request.match_info["account"]))
    except KeyError as error:
        return json_response({"error": str(error.args[0])}, status=404)


async def create_webhook(request: web.Request) -> web.Response:
    """POST {"board_id", "url", "event", "config"?, "signing_secret"?}: as create_webhook, after the challenge."""
    state = request.app[STATE_KEY]
    body = await read_body(request)
    try:
        # The challenge POST waits for the receiver, which may be served by this very process: off the loop.
        subscription = await asyncio.to_thread(
            state.create_webhook, body.get("board_id", ""), str(body.get("url") or ""),
            str(body.get("event") or ""), body.get("config"), body.get("signing_secret"))
    except KeyError as error:
        return json_response({"error": str(error.args[0] if error.args else error)}, status=404)
    except (ValueError, TypeError) as error:
        return json_response({"error": str(error)}, status=400)
    return json_response(subscription.describe())


async def list_webhooks(request: web.Request) -> web.Response:
    """GET [?board_id=]: the subscriptions (never their secrets)."""
    subscriptions = request.app[STATE_KEY].webhooks.subscriptions(request.query.get("board_id"))
    return json_response({"webhooks": [s.describe() for s in subscriptions]})


async def delete_webhook(request: web.Request) -> web.Response:
    try:
        subscription = request.app[STATE_KEY].webhooks.unsubscribe(request.match_info["id"])
    except KeyError as error:
        return json_response({"error": str(error.args[0])}, status=404)
    return json_response({"id": subscription.id, "board_id": subscription.board_id})


def _inject_fault(state: Any, body: dict[str, Any]) -> None:
    state.faults.inject(str(body.get("kind", "")), int(body.get("count", 1)), board_id=body.get("board_id"),
                        retry_in_seconds=body.get("retry_in_seconds"), field=body.get("field"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    add_fault_and_clock_routes(app, STATE_KEY, inject=_inject_fault, format_time=iso_z)
    app.router.add_post("/_sim/mutations/{op}", mutate)
    add_webhook_outbox_routes(app, lambda served: served[STATE_KEY].webhooks.outbox)
    app.router.add_get("/_sim/webhooks", list_webhooks)
    app.router.add_post("/_sim/webhooks", create_webhook)
    app.router.add_delete(r"/_sim/webhooks/{id:\d+}", delete_webhook)
    app.router.add_get("/_sim/{account}/stats", stats)
