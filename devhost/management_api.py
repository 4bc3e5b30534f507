"""The extension's HTTP management API, served in-process (routes and status codes of HttpApiHandler)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from devhost.clock import format_ts, parse_ts
from devhost.operations import GoneError, HubOperations, NotFoundError
from devhost.store import TERMINAL_STATES, InstanceExistsError

WEBHOOK_BASE = "http://localhost:7071/runtime/webhooks/durabletask"
_MARKER = "/durabletask"
_RUNNING_CODES = {"Pending": 202, "Running": 202, "ContinuedAsNew": 202}

Response = tuple[int, Any]


class ManagementApi:
    """Routes webhook and RPC URLs (`.../durabletask/orchestrators/...`, `.../instances/...`) to the hub."""

    def __init__(self, ops: HubOperations, task_hub: str) -> None:
        self.ops = ops
        self.task_hub = task_hub

    def handle(self, method: str, url: str, body_json: str | None = None) -> Response:
        """Serve one request; `body_json` is the request body's JSON text. Returns (status, JSON value)."""
        parts = urlsplit(url)
        path = parts.path
        at = path.find(_MARKER + "/")
        if at < 0 and not path.endswith(_MARKER):
            return 404, None
        segments = [unquote(s) for s in path[at + len(_MARKER):].split("/") if s] if at >= 0 else []
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        hub = query.get("taskHub")
        if hub and hub != self.task_hub:
            return 404, None
        method = method.upper()
        try:
            return self._route(method, segments, query, body_json)
        except ValueError as exc:  # unknown function names and bad JSON, as the extension's ArgumentException
            return 400, {"Message": "One or more of the arguments submitted is incorrect",
                         "ExceptionMessage": str(exc)}

    def management_payload(self, instance_id: str, origin: str | None = None) -> dict[str, str]:
        """The URLs create_check_status_response returns (HttpManagementPayload)."""
        base = WEBHOOK_BASE if origin is None else origin.rstrip("/") + "/runtime/webhooks/durabletask"
        prefix = f"{base}/instances/{quote(instance_id, safe='')}"
        qs = f"taskHub={quote(self.task_hub)}&connection=Storage"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{qs}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{qs}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{qs}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{qs}",
            "purgeHistoryDeleteUri": f"{prefix}?{qs}",
            "restartPostUri": f"{prefix}/restart?{qs}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{qs}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{qs}",
        }

    def _route(self, method: str, seg: list[str], query: dict[str, str], body: str | None) -> Response:
        if seg[:1] == ["orchestrators"] and len(seg) in (2, 3):
            return self._start(seg[1], seg[2] if len(seg) == 3 else None, body) if method == "POST" else (404, None)
        if seg[:1] != ["instances"]:
            return 404, None
        if len(seg) == 1:
            if method == "GET":
                return 200, self.ops.query(**_filters(query))
            if method == "DELETE":
                return self._purge_by(query)
            return 404, None
        instance_id = seg[1]
        if len(seg) == 2:
            if method == "GET":
                return self._status(instance_id, query)
            if method == "DELETE":
                return self._purge(instance_id)
            return 404, None
        if method != "POST":
            return 404, None
        if len(seg) == 4 and seg[2] == "raiseEvent":
            return self._raise(instance_id, seg[3], body)
        if len(seg) == 3 and seg[2].lower() == "terminate":
            return self._guard(lambda: self.ops.terminate(instance_id, query.get("reason")))
        if len(seg) == 3 and seg[2].lower() in ("rewind", "restart", "suspend", "resume"):
            return 501, {"Message": f"devhost does not implement {seg[2]}"}
        return 404, None

    def _start(self, name: str, instance_id: str | None, body: str | None) -> Response:
        if body is not None and body.strip():
            json.loads(body)  # invalid JSON is a 400, as in the extension
        else:
            body = None
        try:
            instance_id = self.ops.start(name, instance_id, body)
        except InstanceExistsError as exc:
            return 409, {"Message": str(exc)}
        return 202, self.management_payload(instance_id)

    def _status(self, instance_id: str, query: dict[str, str]) -> Response:
        status = self.ops.status(instance_id, show_history=query.get("showHistory", "").lower() == "true")
        if status is None:
            return 404, None  # no body: the SDK then builds its empty, falsy DurableOrchestrationStatus
        if query.get("showInput", "true").lower() == "false":
            status.pop("input", None)
        code = _RUNNING_CODES.get(status["runtimeStatus"], 200)
        if status["runtimeStatus"] == "Failed" and query.get("returnInternalServerErrorOnFailure") == "true":
            code = 500
        return code, status

    def _raise(self, instance_id: str, name: str, body: str | None) -> Response:
        if body is not None:
            try:
                json.loads(body)
            except ValueError:
                return 400, {"Message": "Invalid JSON content"}
        return self._guard(lambda: self.ops.raise_event(instance_id, name, body))

    def _purge(self, instance_id: str) -> Response:
        status = self.ops.status(instance_id)
        if status is None:
            return 404, None
        if status["runtimeStatus"] not in TERMINAL_STATES:
            return 412, (f"Only orchestrations in a terminal state can be purged, but the orchestration with "
                         f"instance ID {instance_id} has status {status['runtimeStatus']}")
        return 200, {"instancesDeleted": self.ops.purge([instance_id])}

    def _purge_by(self, query: dict[str, str]) -> Response:
        if not query.get("createdTimeFrom"):
            return 400, "Please provide value for 'createdTimeFrom' parameter."
        ids = [s["instanceId"] for s in self.ops.query(**_filters(query))]
        deleted = self.ops.purge(ids)
        return (200, {"instancesDeleted": deleted}) if deleted else (404, None)

    @staticmethod
    def _guard(action: Any) -> Response:
        try:
            action()
        except NotFoundError:
            return 404, None
        except GoneError:
            return 410, None
        return 202, None


def _filters(query: dict[str, str]) -> dict[str, Any]:
    statuses = [s for s in query.get("runtimeStatus", "").split(",") if s]
    return {
        "prefix": query.get("instanceIdPrefix") or None,
        "statuses": statuses or None,
        "created_from": _normalize_time(query.get("createdTimeFrom")),
        "created_to": _normalize_time(query.get("createdTimeTo")),
    }


def _normalize_time(text: str | None) -> str | None:
    if not text:
        return None
    return format_ts(parse_ts(text))
