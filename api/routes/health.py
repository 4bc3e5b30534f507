"""Liveness (no I/O, anonymous) and readiness (database and storage reachable, with short timeouts)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import Principal, requires
from api.auth.principal import METRICS_READ
from shared.core.config import load_settings

router = APIRouter(prefix="/api/health", tags=["health"])

CHECK_TIMEOUT_S = 3.0


class Liveness(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    name: str
    ok: bool
    millis: int
    error: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: list[Check]


@router.get("/live", response_model=Liveness, summary="The process answers (no I/O, no credential)")
def live() -> Liveness:
    return Liveness(status="ok")


def _database() -> None:
    from plugins import registry
    from shared.db.migrate import check_schema
    from shared.db.pool import get_pool

    # Through the API's own pool (and its credentials, an Entra token included), waiting briefly for a connection;
    # and the schema at this code's version (else SchemaNotCurrent: a deploy skipped its migration step).
    with get_pool().connection(timeout=CHECK_TIMEOUT_S) as conn:
        check_schema(conn, registry.migration_folders())


def _storage() -> None:
    from azure.core.exceptions import ResourceNotFoundError

    from shared.blob.service import blob_service

    settings = load_settings()
    service = blob_service(settings.storage, connection_timeout=CHECK_TIMEOUT_S, read_timeout=CHECK_TIMEOUT_S,
                           retry_total=0)
    # A missing landing container still means the account answered (the container is created on first use).
    with contextlib.suppress(ResourceNotFoundError):
        service.get_container_client(settings.landing_container).get_container_properties()


async def _check(name: str, probe: object) -> Check:
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.to_thread(probe), CHECK_TIMEOUT_S + 1)  # type: ignore[arg-type]
    except Exception as exc:  # any failure means "not ready"; its kind is enough to act on
        from shared.db.migrate import SchemaNotCurrent

        # A schema behind the code says what to run (no secret in it); other errors only say their kind.
        error = str(exc) if isinstance(exc, SchemaNotCurrent) else type(exc).__name__
        return Check(name=name, ok=False, millis=int((time.monotonic() - started) * 1000), error=error)
    return Check(name=name, ok=True, millis=int((time.monotonic() - started) * 1000))


@router.get("/ready", response_model=Readiness,
            summary="Database reachable and at this code's schema version, landing storage reachable",
            responses={503: {"model": Readiness, "description": "A dependency is unreachable"}})
async def ready(principal: Principal = Depends(requires(METRICS_READ))) -> JSONResponse:
    checks = list(await asyncio.gather(_check("database", _database), _check("storage", _storage)))
    body = Readiness(status="ready" if all(c.ok for c in checks) else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ready" else 503)
