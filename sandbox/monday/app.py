"""The aiohttp application: the GraphQL endpoint and the control plane."""

from __future__ import annotations

from aiohttp import web

from . import admin
from .api import STATE_KEY, handle_graphql
from .state import MondayState


def create_app(state: MondayState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state

    async def release_hung_requests(_: web.Application) -> None:
        # Let "timeout" faults end when the server stops instead of holding shutdown for a minute.
        state.faults.release()

    app.router.add_post("/v2", handle_graphql)
    app.router.add_post("/v2/", handle_graphql)
    admin.add_routes(app)
    app.on_shutdown.append(release_hung_requests)
    return app
