"""FastAPI dependencies: `Depends(requires(SCOPE))` on every protected route.

401 (with WWW-Authenticate) when no valid credential is presented, 403 when the credential lacks the scope;
both as problem details. Owned by the auth work; the signature is the contract routes code against."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from api.auth.principal import Principal


def requires(scope: str) -> Callable[[Request], Principal]:
    """A dependency that authenticates the request and checks `scope`; returns the Principal."""
    raise NotImplementedError("filled in by the auth work")
