"""The QuickBooks consent endpoints: /api/connections/quickbooks/authorize and its callback.

Thin pages around plugins/quickbooks/consent.py (the command line uses the same flow); function_app
registers `bp` through the plugin registry.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

import azure.functions as func

from plugins.quickbooks.consent import ConsentError, begin_consent, complete_consent
from shared.core.http import ApiError
from shared.core.secrets import SecretNotFound
from shared.db.connect import connect
from shared.tokens.crypto import CryptoError
from shared.tokens.oauth_states import InvalidState

log = logging.getLogger(__name__)

bp = func.Blueprint()

CALLBACK_ROUTE = "connections/quickbooks/callback"
# Errors the person at the browser can fix by starting again; anything else is the operator's problem.
_USER_ERRORS = ("invalid_grant", "invalid_request", "access_denied")


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _message(exc: Exception) -> str:
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def _callback_url(req: func.HttpRequest) -> str:
    return req.url.split("/api/")[0] + "/api/" + CALLBACK_ROUTE


@bp.route(route="connections/quickbooks/authorize", methods=["GET"])
def authorize_quickbooks_http(req: func.HttpRequest) -> func.HttpResponse:
    connection_id = req.params.get("connection_id", "")
    environment = req.params.get("environment", "production")
    redirect_uri = req.params.get("redirect_uri") or _callback_url(req)
    try:
        url = begin_consent(connection_id, environment, redirect_uri, conn_factory=connect)
    except (ConsentError, ValueError) as exc:
        return _json({"error": str(exc)}, 400)
    except (CryptoError, SecretNotFound) as exc:
        return _json({"error": _message(exc)}, 500)
    return func.HttpResponse(status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


def _page(req: func.HttpRequest, status: int, title: str, text: str, extra: dict[str, Any]) -> func.HttpResponse:
    if "application/json" in (req.headers.get("Accept") or ""):
        return _json({"message": text, **extra}, status)
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return func.HttpResponse(body, status_code=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


# Anonymous: Intuit redirects the user's browser here without a function key; the one-time state protects it.
@bp.route(route=CALLBACK_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def quickbooks_callback_http(req: func.HttpRequest) -> func.HttpResponse:
    params = req.params
    try:
        done = complete_consent(params.get("code", ""), params.get("state", ""), params.get("realmId", ""),
                                error=params.get("error"), conn_factory=connect)
    except (ConsentError, InvalidState, ValueError) as exc:
        return _page(req, 400, "Not connected", str(exc), {"error": str(exc)})
    except ApiError as exc:
        status = 400 if exc.code in _USER_ERRORS else 502
        return _page(req, status, "Not connected", str(exc), {"error": str(exc)})
    except (CryptoError, SecretNotFound) as exc:
        log.error("QuickBooks consent cannot complete: %s", _message(exc))
        return _page(req, 500, "Not connected", "The app is not fully configured; ask its operator.",
                     {"error": "server configuration"})
    text = f"QuickBooks company {done.realm_id} is connected as {done.connection_id}. You can close this window."
    return _page(req, 200, "Connected", text, {"connected": True, "connection_id": done.connection_id,
                                               "realm_id": done.realm_id, "environment": done.environment})
