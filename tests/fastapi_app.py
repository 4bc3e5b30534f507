"""A FastAPI app around one plugin router for its tests: problems rendered as the API app renders them, and the
operator the authorize route would get from api.auth (overridden: the auth matrix is tested with the API app).

While api/auth/deps.py is still the contract stub (its requires() raises NotImplementedError), the router is
imported with a stand-in requires() whose dependency refuses every request unless a test overrides it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

import api.auth
import api.auth.deps
from api.auth.principal import CONNECTIONS_ADMIN, Principal
from api.problems import MEDIA_TYPE, Problem

OPERATOR = Principal("user", "0f1e2d3c-oid", "Olivia Operator", frozenset({CONNECTIONS_ADMIN}))


def _stand_in_requires(scope: str):
    def refuse(request: Request) -> Principal:
        raise Problem(401, "unauthenticated", "no credential (test stand-in for api.auth)")
    return refuse


def import_routes(module: str) -> ModuleType:
    """Import a plugin's routes module, with the stand-in requires() only while the real one is a stub."""
    try:
        api.auth.deps.requires(CONNECTIONS_ADMIN)
    except NotImplementedError:
        real = api.auth.deps.requires
        api.auth.deps.requires = api.auth.requires = _stand_in_requires
        try:
            return importlib.import_module(module)
        finally:
            api.auth.deps.requires = api.auth.requires = real
    return importlib.import_module(module)


def client(routes: ModuleType, *, operator: Principal | None = OPERATOR) -> TestClient:
    """A client (https, so the __Host- cookie is kept and sent back) of an app holding `routes.router`."""
    app = FastAPI()
    app.include_router(routes.router)

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse(exc.body(request.url.path), status_code=exc.status, media_type=MEDIA_TYPE,
                            headers=exc.headers)

    if operator is not None:
        app.dependency_overrides[routes.require_admin] = lambda: operator
    return TestClient(app, base_url="https://testserver", follow_redirects=False)
