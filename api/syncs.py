"""POST /api/syncs starts a sync; GET /api/syncs/{instance_id} reports on it."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from api.blueprint import bp
from api.starting import BadSyncRequest, parse_request, start_sync
from shared.db import runs
from shared.db.connect import connect

log = logging.getLogger(__name__)


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json",
                             headers=headers)


def _status_url(req: func.HttpRequest, instance_id: str) -> str:
    base = req.url.split("/api/")[0]
    return f"{base}/api/syncs/{instance_id}"


@bp.route(route="syncs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_sync_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        body = req.get_json() if req.get_body() else {}
    except ValueError:
        return _json({"error": "The body is not valid JSON"}, 400)
    try:
        scope, mode, options = parse_request(body)
    except BadSyncRequest as exc:
        return _json({"error": str(exc)}, 400)
    outcome = await start_sync(client, scope, mode, trigger="http", options=options)
    status_url = _status_url(req, outcome.instance_id)
    if not outcome.started:
        return _json(
            {"error": f"A sync covering {scope!r} is already running; poll it or try again when it ends",
             "instanceId": outcome.blocking_instance,
             "statusQueryGetUri": _status_url(req, outcome.blocking_instance or outcome.instance_id)},
            409,
        )
    log.info("started sync %s (%s, %s)", outcome.run_id, scope, mode)
    return _json(
        {"runId": outcome.run_id, "instanceId": outcome.instance_id, "scope": scope, "mode": mode,
         "statusQueryGetUri": status_url,
         "management": client.create_http_management_payload(outcome.instance_id)},
        202,
        headers={"Location": status_url, "Retry-After": "5"},
    )


@bp.route(route="syncs/{instance_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def get_sync_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params.get("instance_id", "")
    status = await client.get_status(instance_id)
    if not status or status.runtime_status is None:
        return _json({"error": f"No sync with instance id {instance_id!r}"}, 404)
    run_id = (status.input_ or {}).get("run_id") if isinstance(status.input_, dict) else None
    body: dict[str, Any] = {
        "instanceId": instance_id,
        "runtimeStatus": status.runtime_status.value,
        "customStatus": status.custom_status,
        "output": status.output,
        "createdTime": status.created_time,
        "lastUpdatedTime": status.last_updated_time,
        "runId": run_id,
    }
    if run_id:
        with connect() as conn:
            body["run"] = runs.run_summary(conn, run_id)
    return _json(body, 200)
