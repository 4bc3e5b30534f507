"""The QuickBooks routes: the consent endpoints (GET /api/connections/quickbooks/authorize and its anonymous
callback) and Intuit's webhook (POST /api/webhooks/quickbooks).

The consent pages are thin pages around plugins/quickbooks/consent.py (the command line uses the same flow); the
API app includes `router` through the plugin registry (plugin.router). The authorize route needs Connections.Admin
and binds the consent to the operator and to this browser (a __Host- cookie holding a nonce); the callback is
anonymous, so it refuses anything malformed before any I/O, and needs that cookie. The webhook carries no
credential of ours either: Intuit's signature over the body authenticates it (plugins/quickbooks/webhooks.py).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Cookie, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from api.auth import Principal, check_connection, requires
from api.auth.principal import CONNECTIONS_ADMIN
from api.problems import Problem, ProblemBody
from plugins.quickbooks import webhooks
from plugins.quickbooks.consent import (
    ConsentError,
    ConsentSetupError,
    begin_consent,
    check_callback,
    complete_consent,
)
from shared.changes.intake import Receipt, Refused, Target, default_target
from shared.core.http import ApiError
from shared.core.secrets import SecretNotFound
from shared.db.connect import connect
from shared.db.connections import Connection
from shared.tokens.crypto import CryptoError
from shared.tokens.oauth_states import STATE_TTL, InvalidState, new_token

log = logging.getLogger(__name__)

PREFIX = "/api/connections/quickbooks"
# __Host-: only set by this exact origin over HTTPS, for Path=/, never shared with a parent domain.
CONSENT_COOKIE = "__Host-bizmetrics_consent"
# Errors the person at the browser can fix by starting again; anything else is the operator's problem.
_USER_ERRORS = ("invalid_grant", "invalid_request", "access_denied")
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter()
require_admin = requires(CONNECTIONS_ADMIN)


def database() -> Callable[[], psycopg.Connection]:
    """How the consent routes open the database (a dependency, so the app or a test can lend another factory)."""
    return connect


class ConsentCompleted(BaseModel):
    connected: bool
    connection_id: str
    realm_id: str
    environment: str


def _message(exc: Exception) -> str:
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def reconnect_url(connection: Connection) -> str:
    """Where an operator (re)connects this QuickBooks connection: the authorize route for its environment."""
    environment = str(connection.config.get("environment") or "production")
    return f"{PREFIX}/authorize?{urlencode({'connection_id': connection.connection_id, 'environment': environment})}"


@router.get(f"{PREFIX}/authorize", tags=["connections"], status_code=302, response_class=RedirectResponse,
            responses={302: {"description": "Redirect to Intuit's consent page; sets the consent cookie"}})
def authorize_quickbooks(
    connection_id: Annotated[str, Query(max_length=200)],
    principal: Annotated[Principal, Depends(require_admin)],
    open_db: Annotated[Callable[[], psycopg.Connection], Depends(database)],
    environment: Annotated[str, Query(max_length=20)] = "production",
) -> RedirectResponse:
    """Start connecting a QuickBooks company: redirects the browser to Intuit with a one-time state."""
    check_connection(principal, connection_id)
    nonce = new_token()
    try:
        url = begin_consent(connection_id, environment, actor=principal.actor, browser_nonce=nonce,
                            conn_factory=open_db)
    except (ConsentError, ValueError) as exc:
        raise Problem(400, "invalid_consent_request", str(exc)) from None
    except (ConsentSetupError, CryptoError, SecretNotFound) as exc:
        raise Problem(500, "consent_not_configured", _message(exc)) from None
    response = RedirectResponse(url, status_code=302, headers=_NO_STORE)
    response.set_cookie(CONSENT_COOKIE, nonce, max_age=int(STATE_TTL.total_seconds()), path="/", secure=True,
                        httponly=True, samesite="lax")
    return response


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept") or ""
    return "text/html" in accept and "application/json" not in accept


def _forget_cookie(response: Response) -> Response:
    response.delete_cookie(CONSENT_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def _refuse(request: Request, status: int, code: str, text: str) -> Response:
    if _wants_html(request):
        return _forget_cookie(_page(status, "Not connected", text))
    problem = Problem(status, code, text)
    return _forget_cookie(JSONResponse(problem.body(str(request.url.path)), status_code=status,
                                       media_type="application/problem+json", headers=_NO_STORE))


def _page(status: int, title: str, text: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


# Anonymous: Intuit sends the user's browser here; the one-time state and the browser's cookie protect it.
@router.get(f"{PREFIX}/callback", tags=["connections"], response_model=ConsentCompleted,
            responses={400: {"description": "Refused consent, malformed or unknown state, or another browser"},
                       502: {"description": "Intuit's token endpoint or API failed"}})
def quickbooks_callback(
    request: Request,
    open_db: Annotated[Callable[[], psycopg.Connection], Depends(database)],
    code: Annotated[str, Query(max_length=600)] = "",
    state: Annotated[str, Query(max_length=100)] = "",
    realm_id: Annotated[str, Query(alias="realmId", max_length=40)] = "",
    error: Annotated[str | None, Query(max_length=100)] = None,
    nonce: Annotated[str | None, Cookie(alias=CONSENT_COOKIE, max_length=100)] = None,
) -> Response:
    """Finish connecting: Intuit redirects the browser here with code, state and realmId."""
    try:
        # Everything checkable without I/O first: a forged or garbled callback costs no database connection.
        check_callback(code, state, realm_id, error, nonce)
        if nonce is None:
            raise InvalidState("This browser did not start the consent (its consent cookie is missing): start the "
                               "connection again from this browser")
        done = complete_consent(code, state, realm_id, error=error, browser_nonce=nonce, conn_factory=open_db)
    except (ConsentError, InvalidState) as exc:
        return _refuse(request, 400, "consent_refused", str(exc))
    except ApiError as exc:
        user_error = exc.code in _USER_ERRORS
        return _refuse(request, 400 if user_error else 502, "consent_refused" if user_error else "quickbooks_failed",
                       str(exc))
    except (ConsentSetupError, CryptoError, SecretNotFound) as exc:
        log.error("QuickBooks consent cannot complete: %s", _message(exc))
        return _refuse(request, 500, "consent_not_configured", "The app is not fully configured; ask its operator.")
    if _wants_html(request):
        text = (f"QuickBooks company {done.realm_id} is connected as {done.connection_id}. "
                "You can close this window.")
        return _forget_cookie(_page(200, "Connected", text))
    body = ConsentCompleted(connected=True, connection_id=done.connection_id, realm_id=done.realm_id,
                            environment=done.environment)
    return _forget_cookie(JSONResponse(body.model_dump(), headers=_NO_STORE))


# What Intuit posts: documented for readers; the route reads the raw bytes itself (the signature covers them).
_CLOUDEVENTS = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "description": "CloudEvents of entity changes, possibly of several companies",
    "items": {"type": "object", "properties": {
        "specversion": {"type": "string", "example": "1.0"}, "id": {"type": "string"},
        "source": {"type": "string"}, "type": {"type": "string", "example": "qbo.invoice.updated.v1"},
        "time": {"type": "string", "format": "date-time"}, "intuitentityid": {"type": "string"},
        "intuitaccountid": {"type": "string", "description": "the company's realm id"},
        "datacontenttype": {"type": "string"}, "data": {"type": "object"}}}}}}}}


# Anonymous to api.auth: no API key or Entra token, because Intuit has none; the intuit-signature HMAC over the raw
# body, checked before anything is parsed, is its credential.
@router.post("/api/webhooks/quickbooks", tags=["webhooks"], response_model=Receipt, openapi_extra=_CLOUDEVENTS,
                     responses={503: {"model": ProblemBody, "description": "Webhooks not configured, or the database "
                                      "or the change queue unavailable: retry"}})
async def quickbooks_webhook(
    request: Request,
    target: Annotated[Target, Depends(default_target)],
    signature: Annotated[str | None, Header(alias=webhooks.SIGNATURE_HEADER)] = None,
) -> Receipt:
    """Intuit's change notifications: each event of a known company starts a debounced incremental sync of it."""
    body = await request.body()
    try:
        return await run_in_threadpool(webhooks.receive, body, signature, open_db=target.open_db, queue=target.queue)
    except Refused as exc:
        raise Problem(exc.status, exc.code, exc.message, headers=exc.headers) from None

