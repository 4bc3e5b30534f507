"""Syncs: start one (all connections or one; full, incremental or a backfill from a date), follow it, list runs,
cancel one.

Status and cancel go through these routes, never through the Durable management URLs (in Azure those carry the
task hub's system key). Every start and cancel records who did it, on sync_runs and in the audit log.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from api.auth import Principal, requires
from api.auth.principal import METRICS_READ, SYNC_RUN
from api.deps import database, durable, visible_connection
from api.models.common import CONNECTION_ID_PATTERN, ConnectionId
from api.problems import Problem, not_found
from api.starting import ACTIVE, ALL, SyncNotStarted, instance_id_for, run_of, start_sync
from shared.core.backfill import MODE as BACKFILL
from shared.core.backfill import parse_since
from shared.db import audit, leases, runs
from shared.db.connections import ConnectionRecord

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/syncs", tags=["syncs"])

RUN_ID = r"^run-[a-z0-9-]{1,64}$"
# Child instances whose live phase the status shows (one per stream); more are summarised by counts only.
MAX_LIVE_STREAMS = 50

CONNECTION_ID = CONNECTION_ID_PATTERN
RunStatus = Literal["running", "succeeded", "failed", "partial", "skipped", "cancelled"]
RunId = Annotated[str, Path(pattern=RUN_ID, description="The run id returned when the sync started")]


class SyncOptions(BaseModel):
    """Operational knobs, allow-listed and capped (they shrink a run's loops; they cannot make it unbounded)."""

    model_config = ConfigDict(extra="forbid")

    max_pages: StrictInt | None = Field(None, ge=1, le=100_000, description="Stop each stream after this many pages")
    iterations_per_execution: StrictInt | None = Field(
        None, ge=1, le=1_000, description="Pages per orchestration execution before it continues as new")

    def to_options(self) -> dict[str, int]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


class SyncStartRequest(BaseModel):
    """What to sync: one connection or every enabled one; `incremental` reads what changed since the last run,
    `backfill` re-reads what changed since the date `since` (no complete read, no delete sweep)."""

    model_config = ConfigDict(extra="forbid")

    connection_id: ConnectionId | None = Field(None, description="A connection id (see GET /api/connections); "
                                                                 "omit (or null) for every enabled connection")
    mode: Literal["full", "incremental", "backfill"] = "incremental"
    since: str | None = Field(None, max_length=40, examples=["2026-01-01"], json_schema_extra={"format": "date"},
                              description="With mode `backfill` (and only then, where it is required): re-read "
                                          "from 00:00 UTC of this date, YYYY-MM-DD, not in the future")
    options: SyncOptions = Field(default_factory=SyncOptions)

    @field_validator("since")
    @classmethod
    def _a_date(cls, since: str | None) -> str | None:
        if since is not None:
            parse_since(since)
        return since

    @model_validator(mode="after")
    def _since_only_for_backfill(self) -> SyncStartRequest:
        if self.mode == BACKFILL and self.since is None:
            raise ValueError("mode backfill needs since: the date to re-read from, YYYY-MM-DD")
        if self.mode != BACKFILL and self.since is not None:
            raise ValueError(f"since is for mode backfill only; a {self.mode} run reads from its own watermarks")
        return self


class SyncAccepted(BaseModel):
    run_id: str
    scope: str = Field(description="The connection id, or `all`")
    mode: str
    since: dt.date | None = Field(None, description="A backfill's start date")
    status_url: str
    cancel_url: str


class StreamProgress(BaseModel):
    connection_id: str
    stream: str
    status: str
    phase: str | None = Field(None, description="Live phase of a running stream (loading, throttled, ...)")
    pages: int
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    api_calls: int
    throttle_waits: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    error: str | None


class SyncRun(BaseModel):
    run_id: str
    scope: str
    mode: str
    since: dt.date | None = Field(None, description="A backfill's start date (null for other modes)")
    trigger: str
    status: RunStatus
    runtime_status: str | None = Field(None, description="The orchestration's state, while it is known")
    started_at: dt.datetime
    ended_at: dt.datetime | None
    started_by: str | None
    cancelled_by: str | None
    totals: dict[str, int]
    streams: list[StreamProgress]
    errors: list[dict[str, Any]]
    notes: list[dict[str, Any]]


class RunListItem(BaseModel):
    run_id: str
    scope: str
    mode: str
    since: dt.date | None = Field(None, description="A backfill's start date (null for other modes)")
    trigger: str
    status: RunStatus
    started_at: dt.datetime
    ended_at: dt.datetime | None
    started_by: str | None
    streams: int
    totals: dict[str, int]
    errors: list[dict[str, Any]]


class RunList(BaseModel):
    items: list[RunListItem]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page; null at the end")


def _urls(run_id: str) -> tuple[str, str]:
    return f"/api/syncs/{run_id}", f"/api/syncs/{run_id}/cancel"


def _check_scope(conn: psycopg.Connection, principal: Principal, scope: str) -> ConnectionRecord | None:
    """The scope's connection (None for every connection) if the caller may use it: 404 / 403 otherwise."""
    if scope == ALL:
        if principal.connections is not None:
            raise Problem(403, "connection_forbidden",
                          "This credential is limited to some connections: name one in connection_id")
        return None
    return visible_connection(conn, principal, scope)


@router.post("", status_code=202, response_model=SyncAccepted, summary="Start a sync",
             responses={409: {"description": "A sync of this scope is running, or the connection is disabled"}})
async def start(body: SyncStartRequest, response: Response,
                principal: Principal = Depends(requires(SYNC_RUN)),
                conn: psycopg.Connection = Depends(database), client: Any = Depends(durable)) -> SyncAccepted:
    scope = body.connection_id if body.connection_id is not None else ALL
    record = _check_scope(conn, principal, scope)
    if record is not None and not record.enabled:
        raise Problem(409, "connection_disabled", f"Connection {scope!r} is disabled; enable it first "
                      "(PATCH /api/connections/{id} with enabled=true)")

    held = leases.live_holder(conn, scope) if scope != ALL else None
    if held is not None:
        # A run holding the connection (e.g. one a webhook started, whose orchestration is not this scope's sync_all
        # instance) gets the same friendly 409 as start_sync's instance check, not a started run that skips it.
        raise Problem(409, "sync_running", f"A sync covering {scope!r} is already running: follow or cancel it, "
                      "or try again when it ends", run_id=held.run_id)

    def record(run_id: str, instance_id: str) -> None:
        with conn.transaction():
            runs.begin_run(conn, run_id, scope, body.mode, "http", instance_id, started_by=principal.actor,
                           since=body.since)
            audit.record(conn, principal.actor, "sync.started", run_id,
                         {"scope": scope, "mode": body.mode, **({"since": body.since} if body.since else {})})
        conn.commit()

    try:
        outcome = await start_sync(client, scope, body.mode, trigger="http", options=body.options.to_options(),
                                   record=record, since=body.since)
    except SyncNotStarted as failed:
        log.warning("sync %s was recorded but its orchestration did not start (%s)", failed.run_id,
                    type(failed.__cause__).__name__)
        with conn.transaction():
            runs.end_run(conn, failed.run_id, "failed", [{"error": "The orchestration could not be started"}])
        conn.commit()
        status = await client.get_status(instance_id_for(scope))
        if status and status.runtime_status in ACTIVE:  # another start won the race for the instance id
            raise Problem(409, "sync_running", f"A sync covering {scope!r} is already running",
                          run_id=run_of(status)) from None
        raise Problem(503, "orchestrations_unavailable", "The sync could not be started; try again shortly",
                      run_id=failed.run_id) from None
    if not outcome.started:
        raise Problem(409, "sync_running", f"A sync covering {scope!r} is already running: follow or cancel it, "
                      "or try again when it ends", run_id=outcome.blocking_run)
    assert outcome.run_id is not None
    status_url, cancel_url = _urls(outcome.run_id)
    log.info("sync %s started (%s, %s) by %s", outcome.run_id, scope, body.mode, principal.actor)
    response.headers["Location"] = status_url
    response.headers["Retry-After"] = "5"
    return SyncAccepted(run_id=outcome.run_id, scope=scope, mode=body.mode,
                        since=dt.date.fromisoformat(body.since) if body.since else None, status_url=status_url,
                        cancel_url=cancel_url)


def _encode_cursor(started_at: dt.datetime, run_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([started_at.isoformat(), run_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        at, run_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = dt.datetime.fromisoformat(at)
        if not isinstance(run_id, str) or when.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Problem(422, "invalid_cursor", "cursor is not one this API returned; start again without it") from None
    return when, run_id


@router.get("", response_model=RunList, summary="Recent runs, newest first")
def list_syncs(principal: Principal = Depends(requires(METRICS_READ)),
               conn: psycopg.Connection = Depends(database),
               connection_id: Annotated[str | None, Query(pattern=CONNECTION_ID)] = None,
               status: Annotated[RunStatus | None, Query()] = None,
               trigger: Annotated[Literal["http", "timer", "webhook", "manual", "cli"] | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20,
               cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None) -> RunList:
    if connection_id is not None:
        _check_scope(conn, principal, connection_id)
    elif principal.connections is not None:
        raise Problem(403, "connection_forbidden",
                      "This credential is limited to some connections: filter by connection_id")
    # A key limited to some connections sees only the runs of exactly one of them: a run of every connection
    # carries the others' counts and errors (and GET /api/syncs/{run_id} refuses it such runs too).
    rows = runs.list_runs(conn, runs.RunFilter(connection_id, status, trigger,
                                               _decode_cursor(cursor) if cursor else None,
                                               only_scope=principal.connections is not None), limit + 1)
    items = [RunListItem(**{k: row[k] for k in RunListItem.model_fields if k in row and k != "totals"},
                         totals={name: int(row[name]) for name in runs.COUNTERS}) for row in rows[:limit]]
    more = len(rows) > limit
    return RunList(items=items, next_cursor=_encode_cursor(rows[limit - 1]["started_at"], rows[limit - 1]["run_id"])
                   if more else None)


async def _live_phases(client: Any, instance_id: str, streams: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    phases: dict[tuple[str, str], str] = {}
    for stream in [s for s in streams if s["status"] == "running"][:MAX_LIVE_STREAMS]:
        status = await client.get_status(f"{instance_id}:{stream['connection_id']}:{stream['stream']}")
        custom = getattr(status, "custom_status", None) if status else None
        if isinstance(custom, dict) and isinstance(custom.get("phase"), str):
            phases[(stream["connection_id"], stream["stream"])] = custom["phase"]
    return phases


def _load_run(conn: psycopg.Connection, principal: Principal, run_id: str) -> dict[str, Any]:
    run = runs.run_summary(conn, run_id)
    if run is None:
        raise not_found("run", run_id, "see GET /api/syncs")
    if principal.connections is not None:
        _check_scope(conn, principal, run["scope"])
    return run


@router.get("/{run_id}", response_model=SyncRun, summary="One run with its live progress")
async def get_sync(run_id: RunId, principal: Principal = Depends(requires(METRICS_READ)),
                   conn: psycopg.Connection = Depends(database), client: Any = Depends(durable)) -> SyncRun:
    run = _load_run(conn, principal, run_id)
    instance_id = run["instance_id"] or instance_id_for(run["scope"])
    runtime_status = None
    phases: dict[tuple[str, str], str] = {}
    status = await client.get_status(instance_id)
    if status and status.runtime_status is not None and run_of(status) == run_id:
        runtime_status = status.runtime_status.value
        if run["status"] == "running":
            phases = await _live_phases(client, instance_id, run["streams"])
    streams = [StreamProgress(**{k: s[k] for k in StreamProgress.model_fields if k in s},
                              phase=phases.get((s["connection_id"], s["stream"]))) for s in run["streams"]]
    return SyncRun(**{k: run[k] for k in SyncRun.model_fields if k in run and k not in ("streams", "runtime_status")},
                   runtime_status=runtime_status, streams=streams)


class Cancelled(BaseModel):
    run_id: str
    status: Literal["cancelled"]
    terminated: list[str] = Field(description="Orchestration instances that were stopped")


@router.post("/{run_id}/cancel", response_model=Cancelled, summary="Cancel a running sync",
             responses={409: {"description": "The run is not running"}})
async def cancel(run_id: RunId, principal: Principal = Depends(requires(SYNC_RUN)),
                 conn: psycopg.Connection = Depends(database), client: Any = Depends(durable)) -> Cancelled:
    run = _load_run(conn, principal, run_id)
    if run["status"] != "running":
        raise Problem(409, "sync_not_running", f"Run {run_id} is {run['status']}; only a running sync can be cancelled")
    instance_id = run["instance_id"] or instance_id_for(run["scope"])
    # Every instance of this run still active: the run's own and its sub-orchestrations (connections, streams;
    # Durable does not stop children with their parent), found by id prefix and by the run id in their input, so
    # a child of another run of the same scope is never touched and one not yet in sync_run_streams is not missed.
    active = await client.get_status_by(created_time_from=run["started_at"] - dt.timedelta(minutes=1),
                                        runtime_status=list(ACTIVE))
    mine = [s.instance_id for s in active
            if (s.instance_id == instance_id or s.instance_id.startswith(instance_id + ":")) and run_of(s) == run_id]
    terminated = []
    for candidate in sorted(mine, key=len, reverse=True):  # deepest first, the run itself last
        await client.terminate(candidate, f"cancelled by {principal.actor}")
        terminated.append(candidate)
    with conn.transaction():
        if not runs.cancel_run(conn, run_id, principal.actor):
            raise Problem(409, "sync_not_running", f"Run {run_id} finished before it could be cancelled")
        # The run's connection leases are stale from now on (its run is no longer running): the next run takes
        # them over (shared/db/leases.py); an activity still finishing cannot lose them to a parallel run first.
        audit.record(conn, principal.actor, "sync.cancelled", run_id, {"terminated": terminated})
    return Cancelled(run_id=run_id, status="cancelled", terminated=terminated)
