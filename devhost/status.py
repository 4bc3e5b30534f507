"""Instance status in the shape of the extension's status API."""

from __future__ import annotations

import json
from typing import Any

from devhost.clock import format_status_ts, parse_ts
from devhost.store import Instance


def to_status(instance: Instance, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """name, instanceId, runtimeStatus, input, output, customStatus, createdTime, lastUpdatedTime."""
    status = {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.status,
        "input": _loads(instance.input),
        "output": _loads(instance.output),
        "customStatus": _loads(instance.custom_status),
        "createdTime": format_status_ts(parse_ts(instance.created_time)),
        "lastUpdatedTime": format_status_ts(parse_ts(instance.last_updated_time)),
    }
    if history is not None:
        status["historyEvents"] = history
    return status


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # Inputs posted by hand may not be JSON; the runtime then shows them as text too.
        return text
