"""The API's routers: core areas here, then each installed plugin's own (e.g. an OAuth consent flow)."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from api.routes import budgets, connections, health, metrics, syncs
    from plugins import registry

    routers = [health.router, syncs.router, connections.router, budgets.router, metrics.router]
    routers += [plugin.router for plugin in registry.installed() if getattr(plugin, "router", None) is not None]
    return routers
