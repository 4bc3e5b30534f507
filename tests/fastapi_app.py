"""A FastAPI app around one plugin router for its tests: problems rendered as the API app renders them, and the
operator the authorize route would get from api.auth (overridden here: credentials are tested route by route
against the whole API app in tests/api/test_auth_matrix.py)."""

from __future__ import annotations

import importlib
from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.auth.principal import CONNECTIONS_ADMIN, Principal
from api.problems import MEDIA_TYPE, Problem

OPERATOR = Principal("user", "0f1e2d3c-oid", "Olivia Operator", frozenset({CONNECTIONS_ADMIN}))


def import_routes(module: str) -> ModuleType:
    """A plugin's routes module."""
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
