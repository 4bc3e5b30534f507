"""The simulator's control plane under /_sim/: change data, queue faults, move time, read meters.

It lets an out-of-process run be steered the way tests steer the in-process MondayState. These routes are
never faulted, limited or metered.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from .api import STATE_KEY
from .clock import iso_z
from .model import Board, Item, Update

# state methods reachable through POST /_sim/mutations/{op}, with their JSON arguments as keyword arguments
MUTATIONS = frozenset({"create_board", "archive_board", "delete_board", "create_item", "create_subitem",
                       "change_column_value", "change_column_values", "rename_item", "move_item_to_group",
                       "move_item_to_board", "archive_item", "delete_item", "restore_item", "add_update"})


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=lambda v: json.dumps(v, default=str))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text='{"error": "body must be JSON"}', content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return data


def _summary(record: Board | Item | Update) -> dict[str, Any]:
    if isinstance(record, Board):
        return {"id": record.id, "name": record.name, "state": record.state, "updated_at": iso_z(record.updated_at)}
    if isinstance(record, Item):
        return {"id": record.id, "board_id": record.board_id, "name": record.name,
                "state": record.state, "updated_at": iso_z(record.updated_at)}
    return asdict(record)


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _json({"status": "ok", "accounts": sorted(state.accounts), "now": iso_z(state.clock.now()),
                  "plan": asdict(state.limits), "default_version": state.default_version})


async def mutate(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    op = request.match_info["op"]
    if op not in MUTATIONS:
        return _json({"error": f"unknown mutation {op!r}; expected one of {sorted(MUTATIONS)}"}, status=404)
    body = await _body(request)
    try:
        record = getattr(state, op)(**body)
    except KeyError as error:
        return _json({"error": str(error.args[0] if error.args else error)}, status=404)
    except (TypeError, ValueError) as error:
        return _json({"error": str(error)}, status=400)
    return _json({"record": _summary(record), "now": iso_z(state.clock.now())})


async def add_fault(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _body(request)
    try:
        state.faults.inject(str(body.get("kind", "")), int(body.get("count", 1)), board_id=body.get("board_id"),
                            retry_in_seconds=body.get("retry_in_seconds"))
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
    return _json({"now": iso_z(moment)})


async def stats(request: web.Request) -> web.Response:
    try:
        return _json(request.app[STATE_KEY].stats(request.match_info["account"]))
    except KeyError as error:
        return _json({"error": str(error.args[0])}, status=404)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/faults", list_faults)
    app.router.add_post("/_sim/faults", add_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/clock", advance_clock)
    app.router.add_post("/_sim/mutations/{op}", mutate)
    app.router.add_get("/_sim/{account}/stats", stats)
