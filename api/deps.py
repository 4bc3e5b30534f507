"""What routes borrow from the app: a database connection and the Durable client.

In Azure the Durable client is a per-request binding that the Functions bridge (api/functions.py) puts in the
request's ASGI state; the local server (devhost/api_server.py) sets one client for the app. Routes never build either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from fastapi import Request

from api.auth.deps import check_connection
from api.auth.principal import Principal
from api.problems import Problem, not_found
from shared.db.connections import ConnectionRecord, connection_record
from shared.db.pool import get_pool


def database() -> Iterator[psycopg.Connection]:
    """One pooled connection for the request, committed when the route returns, rolled back when it raises."""
    with get_pool().connection() as conn:
        yield conn


def visible_connection(db: psycopg.Connection, principal: Principal, connection_id: str) -> ConnectionRecord:
    """The connection a route names (disabled ones too): 404 when there is none, 403 outside the caller's
    allow-list; the one check every route that names a connection makes."""
    record = connection_record(db, connection_id)
    if record is None:
        raise not_found("connection", connection_id, "see GET /api/connections")
    check_connection(principal, connection_id)
    return record


def durable(request: Request) -> Any:
    """The DurableOrchestrationClient for this request (per-request binding, else the app's)."""
    client = getattr(request.state, "durable_client", None) or getattr(request.app.state, "durable_client", None)
    if client is None:
        raise Problem(503, "orchestrations_unavailable",
                      "This API instance has no Durable client; start it through the Functions app or `make api`")
    return client
