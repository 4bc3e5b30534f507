"""POST /v2: the layers a monday API call goes through before and after GraphQL runs.

Order: version header -> token (401) -> the call is metered (failed calls count toward the daily cap)
-> injected request faults -> daily cap -> requests per minute -> concurrency -> GraphQL (parse, validate,
complexity budget, execute) -> headers (Api-Version, X-Request-Id, RateLimit*, Retry-After on 429).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from . import errors, executor
from .errors import LimitError
from .faults import PendingFault
from .model import MondayAccount
from .resolution import RequestContext
from .responses import JSON_UTF8, rate_limit_headers, raw, reply, truncate
from .state import MondayState
from .versions import ApiVersion, resolve

log = logging.getLogger(__name__)
STATE_KEY = web.AppKey("monday_simulator_state", MondayState)
_TIMEOUT_BODY = "upstream request timeout"  # what monday's Envoy edge sends when it gives up


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else header  # monday takes the bare token; Bearer works too
    return token or None


def _limit_fault(state: MondayState, fault: PendingFault | None) -> LimitError | None:
    if fault is None:
        return None
    if fault.kind == "daily_limit":
        return LimitError("DAILY_LIMIT_EXCEEDED", "Daily limit exceeded",
                          fault.retry_in_seconds or state.clock.seconds_to_midnight_utc())
    if fault.kind == "rate_limited":
        return LimitError("RATE_LIMIT_EXCEEDED", "Rate limit exceeded", fault.retry_in_seconds or 30)
    return None


def _limits(state: MondayState, account: MondayAccount, fault: PendingFault | None) -> None:
    injected = _limit_fault(state, fault)
    if injected is not None:
        raise injected
    retry = state.budget.daily_retry(account.id)
    if retry is not None:
        raise LimitError("DAILY_LIMIT_EXCEEDED", "Daily limit exceeded", retry)
    retry = state.budget.minute_retry(account.id)
    if retry is not None:
        raise LimitError("RATE_LIMIT_EXCEEDED", "Rate limit exceeded", retry)


async def _graphql(request: web.Request, state: MondayState, account: MondayAccount, version: ApiVersion,
                   fault: PendingFault | None, request_id: str) -> executor.Outcome:
    kind = fault.kind if fault is not None else None
    if kind == "timeout":
        await state.faults.hang()
        return executor.Outcome(504, None)
    if kind == "500":
        body = {"data": None, "errors": [errors.internal_error_entry()], "extensions": {"request_id": request_id}}
        return executor.Outcome(500, body)
    try:
        payload = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return executor.Outcome(400, {"errors": [{"message": "POST body sent invalid JSON."}]})
    ctx = RequestContext(account=account, version=version, cursors=state.cursors, faults=state.faults)
    try:
        return executor.run(ctx, state.budget, payload, request_id=request_id,
                            force_exhausted=kind == "complexity_exhausted", error_in_200=kind == "error_in_200")
    except LimitError as refusal:
        if kind == "complexity_exhausted" and fault is not None and fault.retry_in_seconds:
            refusal.retry_in_seconds = fault.retry_in_seconds
        raise


def _respond(state: MondayState, account: MondayAccount, version: ApiVersion, outcome: executor.Outcome,
             request_id: str) -> web.Response:
    headers = rate_limit_headers(state.budget, account.id, state.clock.seconds_to_midnight_utc())
    if outcome.retry_after is not None:
        headers["Retry-After"] = str(outcome.retry_after)
    if outcome.status == 504:
        return raw(_TIMEOUT_BODY, status=504, content_type="text/plain", headers=headers)
    failed_validation = not outcome.executed and outcome.status == 200
    # Recorded: a 2025 answer to a document that failed validation carries no Api-Version or X-Request-Id.
    return reply(outcome.body, status=outcome.status, version=None if failed_validation else version,
                 request_id=None if failed_validation else request_id, headers=headers)


async def handle_graphql(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    version = resolve(request.headers.get("API-Version"), state.default_version, frozenset(state.retired_versions))
    account = state.account_for_token(_token(request))
    if account is None:
        return raw(json.dumps(errors.not_authenticated_body(), separators=(",", ":")), status=401,
                   content_type=JSON_UTF8)
    state.budget.record_call(account.id)
    request_id = state.request_id()
    fault = state.faults.take_request_fault()
    try:
        _limits(state, account, fault)
        if not state.budget.enter(account.id):
            raise LimitError("maxConcurrencyExceeded", "Max concurrency exceeded", 1)
        try:
            outcome = await _graphql(request, state, account, version, fault, request_id)
        finally:
            state.budget.leave(account.id)
    except LimitError as refusal:
        outcome = executor.Outcome(429, errors.limit_body(refusal),
                                   retry_after=refusal.retry_in_seconds)
    response = _respond(state, account, version, outcome, request_id)
    if fault is not None and fault.kind == "malformed" and response.status == 200:
        response = truncate(response)
    state.meter.record(account.id, response.status)
    return response
