"""Connections: GET /api/connections lists them with what needs attention.

Connecting an account (e.g. an OAuth consent) is the plugin's own route, registered from the plugin registry.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import psycopg

from api.blueprint import bp
from plugins import registry
from shared.db.connect import connect
from shared.db.connections import list_connection_rows
from shared.tokens.store import TokenInfo, load_info


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _plugin_warnings(plugin: str, info: TokenInfo) -> list[str]:
    """The plugin's warnings about the stored tokens; a connection whose plugin is not installed has none."""
    try:
        found = registry.get(plugin)
    except registry.UnknownPlugin:
        return []
    return list(found.connection_warnings(info))


def list_connections(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every connection with its health and token dates; never tokens, never config (it may name secrets)."""
    rows = list_connection_rows(conn)
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
