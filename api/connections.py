"""Connections: GET /api/connections lists them with what needs attention; QuickBooks consent endpoints.

The consent pages are thin: the flow itself lives in plugins/quickbooks/consent.py (also used by the CLI).
"""

from __future__ import annotations

import html
import importlib
import json
import logging
from typing import Any

import azure.functions as func
import psycopg

from api.blueprint import bp
from plugins.quickbooks.consent import ConsentError, begin_consent, complete_consent
from shared.crypto import CryptoError
from shared.db.connect import connect
from shared.http import ApiError
from shared.oauth_states import InvalidState
from shared.secrets import SecretNotFound
from shared.tokens import TokenInfo, load_info

log = logging.getLogger(__name__)

CALLBACK_ROUTE = "connections/quickbooks/callback"
# Errors the person at the browser can fix by starting again; anything else is the operator's problem.
_USER_ERRORS = ("invalid_grant", "invalid_request", "access_denied")


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _message(exc: Exception) -> str:
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def _plugin_warnings(plugin: str, info: TokenInfo) -> list[str]:
    """A plugin with OAuth exposes connection_warnings in plugins/<name>/oauth.py; no registry to edit."""
    if not plugin.isidentifier():
        return []
    name = f"plugins.{plugin}.oauth"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, f"plugins.{plugin}"):
            raise  # the module exists but is broken: say so rather than hide its warnings
        return []
    warn = getattr(module, "connection_warnings", None)
    return list(warn(info)) if warn else []


def list_connections(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every connection with its health and token dates; never tokens, never config (it may name secrets)."""
    rows = conn.execute(
        """SELECT connection_id, plugin, display_name, enabled, status, status_reason, status_changed_at,
                  config->>'auth' FROM connections ORDER BY connection_id"""
    ).fetchall()
    listed = []
    for cid, plugin, name, enabled, status, reason, changed, auth in rows:
        info = load_info(conn, cid)
        item: dict[str, Any] = {"connection_id": cid, "plugin": plugin, "display_name": name, "enabled": enabled,
                                "status": status, "status_reason": reason, "status_changed_at": changed,
                                "warnings": _plugin_warnings(plugin, info) if info else []}
        if info:
            item["oauth"] = {"consented_at": info.consented_at, "access_expires_at": info.access_expires_at,
                             "refresh_expires_at": info.refresh_expires_at,
                             "last_refreshed_at": info.last_refreshed_at, "refresh_count": info.refresh_count}
        elif auth == "oauth":
            item["warnings"].append("No OAuth tokens are stored: connect this account")
        listed.append(item)
    return listed


@bp.route(route="connections", methods=["GET"])
def list_connections_http(req: func.HttpRequest) -> func.HttpResponse:
    with connect() as conn:
        return _json({"connections": list_connections(conn)})


def _callback_url(req: func.HttpRequest) -> str:
    return req.url.split("/api/")[0] + "/api/" + CALLBACK_ROUTE


@bp.route(route="connections/quickbooks/authorize", methods=["GET"])
def authorize_quickbooks_http(req: func.HttpRequest) -> func.HttpResponse:
    connection_id = req.params.get("connection_id", "")
    environment = req.params.get("environment", "production")
    redirect_uri = req.params.get("redirect_uri") or _callback_url(req)
    try:
        url = begin_consent(connection_id, environment, redirect_uri)
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
                                error=params.get("error"))
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
