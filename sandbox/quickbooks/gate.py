"""What happens to every API request before it reaches a handler: faults, auth, realm, limits, version.

The order follows the real service's layers: Intuit's gateway (injected failures, token check,
company authorization, throttling) answers before the QBO application sees the request.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import fault_bodies
from .clock import epoch_millis
from .responses import raw, reply
from .state import MIN_MINOR_VERSION, SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATE_KEY = web.AppKey("qbo_simulator_state", SimulatorState)
_API_PATH = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<tail>.*)$")
_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'}


def endpoint_of(tail: str) -> str:
    head = tail.strip("/").split("/", 1)[0].lower()
    return head if head in ("query", "cdc", "reports") else "read"


def unauthorized(state: SimulatorState, detail: str) -> web.Response:
    body = fault_bodies.authentication_failed(epoch_millis(state.clock.now()), detail)
    return reply(body, status=401, headers=_WWW_AUTHENTICATE)


async def injected(kind: str, state: SimulatorState, realm: str | None) -> web.Response:
    now = state.time_text(realm)
    if kind == "429":
        return reply(fault_bodies.throttle_exceeded(now), status=429)
    if kind == "429_xml":
        # Observed in production: XML even though the client asked for JSON.
        return raw(fault_bodies.throttle_exceeded_xml(now), status=429, content_type="text/xml")
    if kind == "500":
        return reply(fault_bodies.system_failure(now), status=500)
    if kind == "503":
        return raw(fault_bodies.SERVICE_UNAVAILABLE_HTML, status=503, content_type="text/html")
    if kind == "fault_in_200":
        return reply(fault_bodies.system_failure(now), status=200)
    if kind == "401":
        return unauthorized(state, "Token expired: simulated expiry")
    if kind == "timeout":
        await state.faults.hang()
        return raw(fault_bodies.GATEWAY_TIMEOUT_HTML, status=504, content_type="text/html")
    raise ValueError(f"no response for fault {kind!r}")


def truncate(response: web.StreamResponse) -> web.StreamResponse:
    """A 200 whose JSON stops half-way: complete as HTTP, broken as JSON."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    return raw(body[: max(1, len(body) // 2)], status=response.status,
               content_type=response.headers.get("Content-Type", "application/json"))


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _minor_version_ok(state: SimulatorState, value: str | None) -> bool:
    if state.minorversion_policy == "ignore":
        return True  # what QBO does since 2025-08-01: anything below 75 is served as 75
    return value is not None and value.isdigit() and int(value) >= MIN_MINOR_VERSION


async def _api_checks(request: web.Request, handler: Handler, state: SimulatorState,
                      realm: str) -> web.StreamResponse:
    verdict = state.oauth.check_access(_bearer(request), realm)
    if verdict in ("missing", "invalid"):
        return unauthorized(state, "Token invalid")
    if verdict == "expired":
        return unauthorized(state, f"Token expired: {_bearer(request)}")
    if verdict == "forbidden" or not state.has_realm(realm):
        return reply(fault_bodies.authorization_failed(epoch_millis(state.clock.now())), status=403)
    if not state.throttle.admit(realm):
        return reply(fault_bodies.throttle_exceeded(state.time_text(realm)), status=429)
    version = request.query.get("minorversion")
    if not _minor_version_ok(state, version):
        return reply(fault_bodies.minor_version_fault(state.time_text(realm), version), status=400)
    return await handler(request)


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if request.path.startswith("/_sim/"):
        return await handler(request)  # the control plane is never faulted, throttled or metered
    match = _API_PATH.match(request.path)
    realm = match.group("realm") if match else None
    fault = state.faults.take(request.path)
    response: web.StreamResponse
    if fault == "expire_token":
        state.oauth.expire(_bearer(request))
        fault = None  # the token check below answers 401, as for any token past its hour
    if fault is not None and fault != "truncated":
        response = await injected(fault, state, realm)
    elif realm is not None:
        response = await _api_checks(request, handler, state, realm)
    else:
        response = await handler(request)
    if fault == "truncated" and response.status == 200:
        response = truncate(response)
    if realm is not None and match is not None:
        state.meter.record(realm, endpoint_of(match.group("tail")), response.status)
    return response
