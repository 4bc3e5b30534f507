"""Builders for the DTFx history events the Python SDK replays (field names as the extension sends them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.durable_functions.models.history import HistoryEventType as T

from devhost.clock import format_ts

# Error texts are bounded: the Azure Storage provider hangs an instance on a message over 64 KB.
MAX_ERROR_CHARS = 8 * 1024

# Events that carry the result of a scheduled task, and the field naming the task's sequence id.
COMPLETION_ID_FIELD = {
    T.TASK_COMPLETED: "TaskScheduledId",
    T.TASK_FAILED: "TaskScheduledId",
    T.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
    T.SUB_ORCHESTRATION_INSTANCE_FAILED: "TaskScheduledId",
    T.TIMER_FIRED: "TimerId",
}
SCHEDULING_TYPES = (T.TASK_SCHEDULED, T.TIMER_CREATED, T.SUB_ORCHESTRATION_INSTANCE_CREATED)


def truncate(text: str | None, limit: int = MAX_ERROR_CHARS) -> str | None:
    """Cut `text` to `limit` characters, saying how much was dropped."""
    if text is None or len(text) <= limit:
        return text
    keep = limit
    for _ in range(3):  # the marker's own length decides how much is kept; this settles in two rounds
        marker = f"... [truncated {len(text) - keep} chars]"
        keep = max(0, limit - len(marker))
    return text[:keep] + marker


def _event(event_type: T, ts: datetime, event_id: int = -1, **fields: Any) -> dict[str, Any]:
    return {"EventType": int(event_type), "EventId": event_id, "IsPlayed": False,
            "Timestamp": format_ts(ts), **fields}


def played(event: dict[str, Any]) -> dict[str, Any]:
    """Copy of a stored event marked as seen by an earlier episode."""
    return {**event, "IsPlayed": True}


def orchestrator_started(ts: datetime) -> dict[str, Any]:
    """First event of every episode; its Timestamp becomes current_utc_datetime."""
    return _event(T.ORCHESTRATOR_STARTED, ts)


def orchestrator_completed(ts: datetime) -> dict[str, Any]:
    """Last event of every episode."""
    return _event(T.ORCHESTRATOR_COMPLETED, ts)


def execution_started(ts: datetime, name: str, input_json: str | None, instance_id: str,
                      execution_id: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start of an execution; Version is required by the SDK even when empty."""
    return _event(T.EXECUTION_STARTED, ts, Name=name, Version="", Input=input_json,
                  OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
                  ParentInstance=parent)


def execution_completed(ts: datetime, status: str, result: str | None) -> dict[str, Any]:
    """End of an execution (Completed or Failed), kept for inspection."""
    return _event(T.EXECUTION_COMPLETED, ts, OrchestrationStatus=status, Result=result)


def execution_terminated(ts: datetime, reason: str | None) -> dict[str, Any]:
    """Termination request; the SDK never sees it, the host acts on it."""
    return _event(T.EXECUTION_TERMINATED, ts, Input=reason)


def task_scheduled(ts: datetime, task_id: int, name: str, input_json: str | None) -> dict[str, Any]:
    """An activity was scheduled with sequence number `task_id`."""
    return _event(T.TASK_SCHEDULED, ts, task_id, Name=name, Version="", Input=input_json)


def task_completed(ts: datetime, task_id: int, result_json: str) -> dict[str, Any]:
    """An activity returned; Result is a JSON text and must be present."""
    return _event(T.TASK_COMPLETED, ts, TaskScheduledId=task_id, Result=result_json)


def task_failed(ts: datetime, task_id: int, reason: str, details: str | None) -> dict[str, Any]:
    """An activity raised; the SDK raises Exception(f"{Reason} \\n {Details}") in the orchestrator."""
    return _event(T.TASK_FAILED, ts, TaskScheduledId=task_id, Reason=truncate(reason),
                  Details=truncate(details))


def sub_created(ts: datetime, task_id: int, name: str, instance_id: str,
                input_json: str | None) -> dict[str, Any]:
    """A sub-orchestration was started with sequence number `task_id`."""
    return _event(T.SUB_ORCHESTRATION_INSTANCE_CREATED, ts, task_id, Name=name, Version="",
                  InstanceId=instance_id, Input=input_json)


def sub_completed(ts: datetime, task_id: int, result_json: str) -> dict[str, Any]:
    """A sub-orchestration completed."""
    return _event(T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, ts, TaskScheduledId=task_id, Result=result_json)


def sub_failed(ts: datetime, task_id: int, reason: str, details: str | None) -> dict[str, Any]:
    """A sub-orchestration failed or was terminated."""
    return _event(T.SUB_ORCHESTRATION_INSTANCE_FAILED, ts, TaskScheduledId=task_id,
                  Reason=truncate(reason), Details=truncate(details))


def timer_created(ts: datetime, timer_id: int, fire_at: str) -> dict[str, Any]:
    """A durable timer was scheduled with sequence number `timer_id`."""
    return _event(T.TIMER_CREATED, ts, timer_id, FireAt=fire_at)


def timer_fired(ts: datetime, timer_id: int, fire_at: str) -> dict[str, Any]:
    """A durable timer is due; the episode delivering it must start at or after FireAt."""
    return _event(T.TIMER_FIRED, ts, TimerId=timer_id, FireAt=fire_at)


def event_raised(ts: datetime, name: str, input_json: str | None) -> dict[str, Any]:
    """An external event; Input is the JSON text of its data."""
    return _event(T.EVENT_RAISED, ts, Name=name, Input=input_json)


def completion_id(event: dict[str, Any]) -> int | None:
    """Sequence id a completion event refers to, or None for other events."""
    field = COMPLETION_ID_FIELD.get(event["EventType"])
    return None if field is None else event.get(field)
