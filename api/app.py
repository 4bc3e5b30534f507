"""The Bizmetrics HTTP API: one FastAPI application, served by the Functions app (api/functions.py) and locally
(devhost/api_server.py). Its OpenAPI document is the contract (api/openapi.json, docs/API.md)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.limits import AccessLog, BodyLimit
from api.problems import MEDIA_TYPE, Problem, ProblemBody
from shared.db.pool import close_pool, get_pool

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
DESCRIPTION = """Bizmetrics syncs operational and accounting sources into business time series.

Every route but liveness, the OAuth consent callback and the sources' webhooks needs a credential: an Entra ID
bearer token with an app role, or an API key (`Authorization: Bearer bzk_...`). A webhook is authenticated by its
source's signature instead (docs/webhooks.md). Errors are RFC 9457 problem details with a stable `code`. See
docs/API.md for the guides."""

# Every operation documents the problem shape for the statuses any route can answer.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemBody, "content": {MEDIA_TYPE: {}}, "description": text}
    for status, text in ((400, "Bad request"), (401, "No valid credential"), (403, "Credential lacks the scope"),
                         (404, "Not found"), (413, "Body too large"), (422, "Invalid input"),
                         (500, "Unexpected error"))
}


def _problem_response(request: Request, problem: Problem) -> JSONResponse:
    return JSONResponse(problem.body(instance=request.url.path), status_code=problem.status,
                        media_type=MEDIA_TYPE, headers=problem.headers)


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for error in exc.errors():
        # Never echo the rejected input back: it may be huge, binary, or a secret sent in the wrong field.
        errors.append({"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))[:200],
                       "type": str(error.get("type", ""))})
    first = errors[0] if errors else {"loc": [], "msg": "invalid input"}
    where = ".".join(first["loc"]) or "request"
    return f"{where}: {first['msg']}", errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return _problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return _problem_response(request, Problem(422, "invalid_input", detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "route_not_found", 405: "method_not_allowed", 400: "bad_request"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return _problem_response(request, Problem(exc.status_code, code, str(exc.detail),
                                                  headers=dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _problem_response(request, Problem(500, "internal_error",
                                                  "Something went wrong on our side; the error is logged"))


def _required_scope(dependant: Any) -> str | None:
    """The scope a route's `requires(...)` dependency asks for (it carries `required_scope`), if any."""
    for dependency in dependant.dependencies:
        scope = getattr(dependency.call, "required_scope", None) or _required_scope(dependency)
        if scope:
            return scope
    return None


def _problems_as_problem_json(operation: dict[str, Any]) -> None:
    """Error responses are documented as what they are sent as: application/problem+json with ProblemBody."""
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if status[:1] in ("4", "5") and schema.get("$ref", "").endswith("/ProblemBody"):
            content.pop("application/json")
            content[MEDIA_TYPE] = {"schema": schema}


def _document_scopes(app: FastAPI, routers: list[APIRouter]) -> None:
    """OpenAPI: each protected operation names the scope it needs (`x-required-scope`); open ones say so."""
    scopes = {(route.path, method.lower()): _required_scope(route.dependant)
              for router in routers for route in router.routes if isinstance(route, APIRoute)
              for method in route.methods}
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                _problems_as_problem_json(operation)
                scope = scopes.get((path, method))
                if scope:
                    operation["x-required-scope"] = scope
                else:
                    operation["security"] = []
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    close_pool()  # where the server runs a lifespan (uvicorn); a Functions worker keeps its pool for its life


def create_app(*, authenticator: Any = None, durable_client: Any = None) -> FastAPI:
    """The API. `authenticator` defaults to the one the settings describe; `durable_client` is the app-wide
    Durable client when one exists (the local server); in Azure each request brings its own."""
    from api.auth.authenticator import Authenticator
    from api.routes import all_routers
    from shared.core.logcontext import install_log_context

    install_log_context()  # the request's records carry its caller (api/limits.py AccessLog, api/auth/deps.py)
    app = FastAPI(title="Bizmetrics API", version=API_VERSION, description=DESCRIPTION,
                  openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None,
                  responses=COMMON_RESPONSES, lifespan=_lifespan)
    # Key checks borrow from the request pool too: authenticating must not cost a new database connection.
    app.state.authenticator = authenticator or Authenticator.from_settings(lambda: get_pool().connection())
    app.state.durable_client = durable_client
    install_problem_handlers(app)
    routers = all_routers()
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodyLimit)
    app.add_middleware(AccessLog)
    _document_scopes(app, routers)
    return app
