"""The aiohttp application: the GraphQL endpoint and the control plane."""

from __future__ import annotations

from aiohttp import web

from sandbox.latency import install_latency

from . import admin
from .api import STATE_KEY, handle_graphql
from .state import MondayState


def create_app(state: MondayState, *, latency: float | None = None) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_post("/v2", handle_graphql)
    app.router.add_post("/v2/", handle_graphql)
    admin.add_routes(app)
    # Seconds added to every API request (None: SIM_LATENCY_SECONDS, else none); /_sim/latency changes it.
    install_latency(app, latency)
    state.faults.release_on_shutdown(app)

    async def stop_webhooks(_: web.Application) -> None:
        state.webhooks.outbox.close()

    app.on_cleanup.append(stop_webhooks)
    return app
