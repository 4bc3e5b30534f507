"""FastAPI dependencies: `Depends(requires(SCOPE))` on every protected route.

401 (with WWW-Authenticate) when no valid credential is presented, 403 when the credential lacks the scope;
both as problem details. Owned by the auth work; the signature is the contract routes code against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth.authenticator import Authenticator
from api.auth.principal import SCOPES, Principal
from api.problems import Problem
from shared.core.logcontext import note_caller

# Declared so that the OpenAPI document shows both ways to authenticate (and /api/docs offers "Authorize");
# auto_error=False because the Authenticator, not FastAPI, decides and words the refusal.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="An Entra ID access token for this API, or an API key (bzk_...)")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="An API key (bzk_...) created with `python -m api.auth create`")


def requires(scope: str) -> Callable[..., Principal]:
    """A dependency that authenticates the request and checks `scope`; returns the Principal."""
    if scope not in SCOPES:
        raise ValueError(f"Unknown scope {scope!r}; scopes are {', '.join(SCOPES)}")

    def dependency(request: Request,
                   _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
                   _api_key: Annotated[str | None, Security(api_key_scheme)] = None) -> Principal:
        principal = authenticator(request).authenticate(request.headers)
        # Routes and the error logs can name the caller without authenticating twice.
        request.state.principal = principal
        note_caller(principal.actor)  # the request's log records carry who called (shared/core/logcontext.py)
        if not principal.has(scope):
            held = ", ".join(sorted(principal.scopes)) or "no scopes"
            raise Problem(403, "forbidden", f"This operation needs scope {scope}; the credential has {held}",
                          title="Forbidden", required_scope=scope)
        return principal

    dependency.__name__ = f"requires_{scope.replace('.', '_').lower()}"
    dependency.required_scope = scope  # type: ignore[attr-defined]  (the OpenAPI document names it per operation)
    return dependency


def check_connection(principal: Principal, connection_id: str) -> None:
    """403 connection_forbidden unless the principal may use `connection_id` (an API key's allow-list)."""
    if not principal.may_use(connection_id):
        raise Problem(403, "connection_forbidden",
                      f"This credential is limited to other connections and may not use {connection_id!r}",
                      title="Forbidden", connection_id=connection_id)


def authenticator(request: Request) -> Authenticator:
    """The app's Authenticator (`app.state.authenticator`, set where the app is built)."""
    found = getattr(request.app.state, "authenticator", None)
    if not isinstance(found, Authenticator):
        raise RuntimeError("app.state.authenticator is not set: build it with Authenticator.from_settings(...)")
    return found
