"""The Functions side of the API: one anonymous HTTP function hands every /api/* request to the FastAPI app.

Anonymous at the Functions layer on purpose: the app authenticates every route itself (deny by default), so a
function key is neither needed nor trusted. The Durable client binding of the invocation is handed to the app in
the request's ASGI state, so the routes that start, follow or cancel orchestrations use it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from starlette.types import ASGIApp, Receive, Scope, Send

from api.blueprint import bp


@cache
def fastapi_app() -> Any:
    """Built on first use (not at import), so indexing the Functions app needs no settings or database."""
    from api.app import create_app

    return create_app()


def with_durable_client(app: ASGIApp, client: Any) -> ASGIApp:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["durable_client"] = client
        await app(scope, receive, send)

    return call


@bp.route(route="{*path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def api_http(req: func.HttpRequest, context: func.Context,
                   client: df.DurableOrchestrationClient) -> func.HttpResponse:
    handler = func.AsgiMiddleware(with_durable_client(fastapi_app(), client))
    return await handler.handle_async(req, context)
