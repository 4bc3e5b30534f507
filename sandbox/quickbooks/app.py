"""The aiohttp application: routes of the API, the token endpoint and the control plane."""

from __future__ import annotations

from aiohttp import web

from sandbox.latency import install_latency

from . import admin
from .api import handle_api
from .gate import STATE_KEY, gate
from .oauth import token_endpoint
from .state import SimulatorState


def create_app(state: SimulatorState, *, latency: float | None = None) -> web.Application:
    app = web.Application(middlewares=[gate])
    app[STATE_KEY] = state

    async def tokens(request: web.Request) -> web.Response:
        return await token_endpoint(state.oauth, request)

    app.router.add_route("*", "/v3/company/{realm}/{tail:.*}", handle_api)
    app.router.add_post("/oauth2/v1/tokens/bearer", tokens)
    admin.add_routes(app)
    # Seconds added to every API request (None: SIM_LATENCY_SECONDS, else none); /_sim/latency changes it.
    install_latency(app, latency)
    state.faults.release_on_shutdown(app)

    async def stop_webhooks(_: web.Application) -> None:
        state.webhooks.outbox.close()

    app.on_cleanup.append(stop_webhooks)
    return app
