"""Every activity's log records carry the ids of what it works on: run, connection, stream and the run's
orchestration instance (shared/core/logcontext.py), so an operator filters a run's lines in Application Insights by
any of them.

The ids come from the activity's input. The instance id is not in most inputs (adding it would change the inputs
of orchestrations already recorded, which replay compares): it is the one the run was recorded with in sync_runs,
read once per run and process.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from shared.core.logcontext import log_ids
from shared.db import runs
from shared.db.pool import lend

log = logging.getLogger(__name__)

_MAX_REMEMBERED = 1024
_instances: dict[str, str] = {}


def instance_for(run_id: str) -> str | None:
    """The run's orchestration instance, remembered per process; None when it cannot be read (never raises: log
    context must not fail an activity)."""
    known = _instances.get(run_id)
    if known is not None:
        return known
    try:
        with lend() as conn:
            found = runs.instance_of(conn, run_id)
    except Exception as exc:  # the activity itself will meet (and report) a database that is down
        log.debug("no instance id for run %s: %s", run_id, exc)
        return None
    if found is not None:
        if len(_instances) >= _MAX_REMEMBERED:
            _instances.clear()
        _instances[run_id] = found
    return found


def ids_of(request: Any) -> dict[str, str]:
    """The log ids an activity input names."""
    if not isinstance(request, Mapping):
        return {}
    ids = {name: request[name] for name in ("run_id", "connection_id", "stream", "instance_id")
           if isinstance(request.get(name), str) and request[name]}
    if "run_id" in ids and "instance_id" not in ids:
        instance = instance_for(ids["run_id"])
        if instance:
            ids["instance_id"] = instance
    return ids


def with_log_ids(activity: Callable[..., Any]) -> Callable[..., Any]:
    """The activity, its records carrying the ids of its input (`request`); async stays async (the worker awaits
    coroutine functions), and the signature is the activity's (the trigger binds by parameter name)."""
    if inspect.iscoroutinefunction(activity):
        @functools.wraps(activity)
        async def run_async(request: Any) -> Any:
            with log_ids(**ids_of(request)):
                return await activity(request)
        return run_async

    @functools.wraps(activity)
    def run(request: Any) -> Any:
        with log_ids(**ids_of(request)):
            return activity(request)
    return run
