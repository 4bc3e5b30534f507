"""The monday.com routes: the board webhook of each connection (POST /api/webhooks/monday/{connection_id}).

The API app includes `router` through the plugin registry (plugin.router). The route carries no credential of
ours: monday's JWT in the Authorization header, signed with the app's signing secret, authenticates each event
(plugins/monday/webhooks.py); the registration handshake only echoes its challenge and starts nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.problems import Problem, ProblemBody
from plugins.monday import webhooks
from shared.changes.intake import Receipt, Refused, Target, default_target

router = APIRouter(tags=["webhooks"])


class Challenge(BaseModel):
    """The registration handshake's answer: the challenge, echoed."""

    challenge: str


_EVENT = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": 'monday\'s {"event": {...}}, or {"challenge": "..."} when the webhook is created',
    "properties": {"challenge": {"type": "string"}, "event": {"type": "object", "properties": {
        "type": {"type": "string", "example": "change_column_value"}, "boardId": {"type": "integer"},
        "pulseId": {"type": "integer"}, "triggerTime": {"type": "string", "format": "date-time"},
        "triggerUuid": {"type": "string"}}}}}}}}}


# Anonymous to api.auth: monday has no API key or Entra token of ours; its JWT (the Authorization header, read
# here, not by api.auth) signed with the app's signing secret is its credential.
@router.post(f"{webhooks.PATH}/{{connection_id}}", response_model=Receipt | Challenge, openapi_extra=_EVENT,
             responses={503: {"model": ProblemBody, "description": "Webhooks not configured, or the database or "
                              "the change queue unavailable: retry"}})
async def monday_webhook(
    request: Request,
    connection_id: Annotated[str, Path(max_length=100)],
    target: Annotated[Target, Depends(default_target)],
) -> Receipt | Challenge:
    """A board event of this connection starts a debounced incremental sync of the board; the handshake is echoed."""
    body = await request.body()
    try:
        answer = await run_in_threadpool(webhooks.receive, connection_id, body, request.headers.get("authorization"),
                                         open_db=target.open_db, queue=target.queue)
    except Refused as exc:
        raise Problem(exc.status, exc.code, exc.message, headers=exc.headers) from None
    return Challenge(challenge=answer) if isinstance(answer, str) else answer
