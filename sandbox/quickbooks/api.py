"""The QBO read API: query, change data capture, read-by-Id and reports."""

from __future__ import annotations

from aiohttp import web

from . import cdc, fault_bodies
from .entities import by_name, by_resource
from .gate import STATE_KEY
from .keyset import answer
from .query import QueryError, evaluate, parse, validate
from .reports import handle_report
from .responses import reply


async def handle_api(request: web.Request) -> web.Response:
    """Dispatch /v3/company/{realm}/{...}; the gate has already checked auth, realm and limits."""
    state = request.app[STATE_KEY]
    realm = request.match_info["realm"]
    parts = [p for p in request.match_info["tail"].split("/") if p]
    if request.method in ("GET", "POST") and parts == ["query"]:
        return await _query(request, realm)
    if request.method == "GET" and parts == ["cdc"]:
        return _cdc(request, realm)
    if request.method == "GET" and parts == ["preferences"]:
        return _read(request, realm, "Preferences", "1")
    if request.method == "GET" and len(parts) == 2 and parts[0] == "reports":
        return handle_report(request, realm, parts[1])
    if request.method == "GET" and len(parts) == 2:
        kind = by_resource(parts[0])
        if kind is not None:
            ident = parts[1]
            if kind.name == "CompanyInfo" and ident == realm:
                ident = "1"  # CompanyInfo is read as /companyinfo/{realmId}
            return _read(request, realm, kind.name, ident)
    now = state.time_text(realm)
    full = f"https://sandbox-quickbooks.api.intuit.com{request.path}"
    return reply(fault_bodies.unsupported_operation(now, request.path, full), status=400)


async def _query(request: web.Request, realm: str) -> web.Response:
    state = request.app[STATE_KEY]
    text = request.query.get("query")
    if text is None and request.method == "POST":
        text = await request.text()  # QBO also takes the statement as an application/text body
    now = state.time_text(realm)
    try:
        parsed = parse(text or "")
        kind = by_name(parsed.entity)
        if kind is None:
            raise QueryError("validation", f"QueryValidationError: invalid context declaration: {parsed.entity}")
        store = state.store(realm)
        rows = store.rows(kind.name)
        validate(parsed, kind, rows, store.tz_name)
        # A keyset page or COUNT from the entity's sorted index; any other query filters and sorts it whole.
        result = answer(parsed, kind, lambda: store.keyset(kind), store.tz_name)
        if result is None:
            result = evaluate(parsed, kind, rows, store.tz_name)
    except QueryError as error:
        body = (fault_bodies.query_parser_error(now, error.detail) if error.kind == "parser"
                else fault_bodies.query_validation_error(now, error.detail))
        return reply(body, status=400)
    return reply({"QueryResponse": result, "time": now})


def _cdc(request: web.Request, realm: str) -> web.Response:
    state = request.app[STATE_KEY]
    now = state.time_text(realm)
    try:
        payload = cdc.changes(state.store(realm), request.query.get("entities"),
                              request.query.get("changedSince"), state.clock.now(), state.cdc_selection)
    except cdc.CdcError as error:
        return reply(fault_bodies.fault(now, error.message, error.detail, "4000"), status=400)
    return reply({"CDCResponse": payload, "time": now})


def _read(request: web.Request, realm: str, entity: str, ident: str) -> web.Response:
    state = request.app[STATE_KEY]
    if not ident.isdigit():
        return reply(fault_bodies.invalid_id(ident), status=400)
    record = state.store(realm).get(entity, ident)
    now = state.time_text(realm)
    if record is None:
        return reply(fault_bodies.object_not_found(now), status=400)
    return reply({entity: record, "time": now})
