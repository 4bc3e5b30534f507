"""Non-determinism detection: every episode must re-yield the actions of earlier episodes, in order."""

from __future__ import annotations

import json
from typing import Any

from devhost.sequencer import ACTION_NAMES

_TEXT_LIMIT = 200


def signature(action: dict[str, Any]) -> tuple[Any, ...]:
    """What must stay equal across replays: type, target name, input, instance id, fire time, children."""
    return (
        action.get("actionType"),
        action.get("functionName") or action.get("externalEventName"),
        action.get("input"),
        action.get("instanceId"),
        action.get("fireAt"),
        tuple(signature(child) for child in action.get("compoundActions") or ()),
    )


def describe(action: dict[str, Any] | None) -> str:
    """One-line text of an action for error messages."""
    if action is None:
        return "nothing"
    kind = ACTION_NAMES.get(action.get("actionType"), str(action.get("actionType")))
    parts = [kind]
    name = action.get("functionName") or action.get("externalEventName")
    if name:
        parts.append(f"'{name}'")
    for key in ("input", "instanceId", "fireAt"):
        if action.get(key) is not None:
            parts.append(f"{key}={_clip(action[key])}")
    children = action.get("compoundActions")
    if children:
        parts.append("[" + ", ".join(describe(c) for c in children) + "]")
    return " ".join(parts)


def check_prefix(previous: list[dict[str, Any]], current: list[dict[str, Any]],
                 orchestrator: str) -> str | None:
    """Error text if `current` does not start with `previous`, else None."""
    for index, before in enumerate(previous):
        now = current[index] if index < len(current) else None
        if now is None or signature(now) != signature(before):
            return (f"Non-deterministic orchestrator '{orchestrator}': action #{index} was "
                    f"{describe(before)} in an earlier episode, but this replay yields {describe(now)}")
    return None


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."
