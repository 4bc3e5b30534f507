"""A small DFApp exercising the orchestration APIs the local host must support."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

ATTEMPTS: dict[str, int] = defaultdict(int)
ATTEMPTS_LOCK = threading.Lock()
RENDEZVOUS = threading.Barrier(4)
# Flipped by the non-determinism test between two episodes of the same instance.
FIRST_ACTIVITY = {"name": "double"}


# ---- activities ------------------------------------------------------------------------------------

@bp.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@bp.activity_trigger(input_name="value")
async def async_echo(value: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"echo": value}


@bp.activity_trigger(input_name="payload")
def flaky(payload: dict[str, Any]) -> str:
    with ATTEMPTS_LOCK:
        ATTEMPTS[payload["key"]] += 1
        attempt = ATTEMPTS[payload["key"]]
    if attempt <= payload["fail_times"]:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"ok after {attempt}"


@bp.activity_trigger(input_name="message")
def always_fail(message: str) -> None:
    raise ValueError(message)


@bp.activity_trigger(input_name="index")
def rendezvous(index: int) -> int:
    # Passes only if four activities run at the same time.
    RENDEZVOUS.wait(timeout=10)
    return index


@bp.activity_trigger(input_name="value")
def slow(value: int) -> int:
    marker = os.environ.get("DEVHOST_TEST_SLOW_MARKER")
    if marker:
        # Only in the crash test's child process: announce, then hang until killed.
        Path(marker).write_text("started")
        time.sleep(120)
    return value + 100


@bp.activity_trigger(input_name="value")
def where(value: int) -> dict[str, int]:
    # The worker-process tests: which process ran this (and a record the host process should receive).
    logging.getLogger(__name__).warning("where %s ran in process %s", value, os.getpid())
    return {"value": value, "pid": os.getpid()}


@bp.activity_trigger(input_name="marker")
def hang(marker: str) -> None:
    # The worker-process tests: say which process runs this, then hang until that process is killed.
    Path(marker).write_text(str(os.getpid()))
    time.sleep(120)


# ---- orchestrators -------------------------------------------------------------------------------

@bp.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext):
    start = context.get_input()
    doubled = yield context.call_activity("double", start)
    echoed = yield context.call_activity("async_echo", {"n": doubled, "text": "héllo"})
    return {"doubled": doubled, "echoed": echoed}


@bp.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("double", i) for i in range(count)])
    return sum(results)


@bp.orchestration_trigger(context_name="context")
def fan_out_together(context: df.DurableOrchestrationContext):
    results = yield context.task_all([context.call_activity("rendezvous", i) for i in range(4)])
    return results


@bp.orchestration_trigger(context_name="context")
def empty_all(context: df.DurableOrchestrationContext):
    nothing = yield context.task_all([])
    after = yield context.call_activity("double", 1)
    return {"empty": nothing, "after": after}


@bp.orchestration_trigger(context_name="context")
def retry_then_next(context: df.DurableOrchestrationContext):
    payload = context.get_input()
    value = yield context.call_activity_with_retry("flaky", df.RetryOptions(1000, 3), payload)
    after = yield context.call_activity("double", 21)
    return [value, after]


@bp.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity_with_retry("always_fail", df.RetryOptions(500, 2), "nope")
        error = None
    except Exception as exc:
        error = str(exc)
    after = yield context.call_activity("double", 2)
    return {"error": error, "after": after}


@bp.orchestration_trigger(context_name="context")
def retry_in_fan_out(context: df.DurableOrchestrationContext):
    keys = context.get_input()
    tasks = [context.call_activity_with_retry("flaky", df.RetryOptions(1000, 3), {"key": k, "fail_times": i})
             for i, k in enumerate(keys)]
    values = yield context.task_all(tasks)
    after = yield context.call_activity("double", 5)
    return {"values": values, "after": after}


@bp.orchestration_trigger(context_name="context")
def timer_wait(context: df.DurableOrchestrationContext):
    hours = context.get_input()
    fire_at = context.current_utc_datetime + timedelta(hours=hours)
    yield context.create_timer(fire_at)
    return {"fire_at": fire_at.isoformat(), "now": context.current_utc_datetime.isoformat()}


@bp.orchestration_trigger(context_name="context")
def any_over_earlier_tasks(context: df.DurableOrchestrationContext):
    # A task_any over a task yielded before (late) and a new one (later), then an activity: the SDK goes on when
    # `late` fires, the extension's replay only when `later` does; the host refuses it (see test_timers).
    start = context.current_utc_datetime
    early = context.create_timer(start + timedelta(minutes=1))
    late = context.create_timer(start + timedelta(minutes=5))
    yield context.task_any([early, late])
    later = context.create_timer(start + timedelta(minutes=10))
    yield context.task_any([late, later])
    yield context.call_activity("double", 21)  # the yield past the task_any the extension still waits on


@bp.orchestration_trigger(context_name="context")
def short_real_timer(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=300))
    return "fired"


@bp.orchestration_trigger(context_name="context")
def event_or_timeout(context: df.DurableOrchestrationContext):
    timeout = context.create_timer(context.current_utc_datetime + timedelta(days=1))
    approval = context.wait_for_external_event("approval")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        return {"approved": approval.result}
    return "timed out"


@bp.orchestration_trigger(context_name="context")
def wait_event(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    data = yield context.wait_for_external_event("approval")
    context.set_custom_status(0)  # falsy: the SDK drops it
    return data


@bp.orchestration_trigger(context_name="context")
def collect_events(context: df.DurableOrchestrationContext):
    count = context.get_input()
    seen = []
    for _ in range(count):
        seen.append((yield context.wait_for_external_event("tick")))
    return seen


@bp.orchestration_trigger(context_name="context")
def nested(context: df.DurableOrchestrationContext):
    depth = context.get_input()["depth"]
    if depth == 0:
        leaf = yield context.call_activity("double", 1)
        return [context.instance_id, leaf]
    # Even depths name their child explicitly, odd depths let the runtime generate the id.
    child_id = f"{context.instance_id}.child" if depth % 2 == 0 else None
    below = yield context.call_sub_orchestrator("nested", {"depth": depth - 1}, child_id)
    return [context.instance_id, *below]


@bp.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    value = yield context.call_activity("flaky", context.get_input())
    return {"child": context.instance_id, "value": value, "parent": context.parent_instance_id}


@bp.orchestration_trigger(context_name="context")
def sub_retry(context: df.DurableOrchestrationContext):
    payload = context.get_input()
    result = yield context.call_sub_orchestrator_with_retry(
        "flaky_child", df.RetryOptions(1000, 3), payload, f"{context.instance_id}-child")
    return result


@bp.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    state = context.get_input()
    doubled = yield context.call_activity("double", state["i"])
    total = state["total"] + doubled
    if state["i"] + 1 < state["n"]:
        context.continue_as_new({"i": state["i"] + 1, "n": state["n"], "total": total})
        return None
    return total


@bp.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("double", 1)
    raise ValueError("boom " + "x" * 20000)


@bp.orchestration_trigger(context_name="context")
def activity_failure(context: df.DurableOrchestrationContext):
    size = context.get_input()
    try:
        yield context.call_activity("always_fail", "y" * size)
    except Exception as exc:
        return str(exc)[:300]
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def drifting(context: df.DurableOrchestrationContext):
    first = yield context.call_activity(FIRST_ACTIVITY["name"], 1)
    yield context.wait_for_external_event("go")
    return first


@bp.orchestration_trigger(context_name="context")
def calls_missing(context: df.DurableOrchestrationContext):
    yield context.call_activity("no_such_activity", 1)
    return "unreachable"


@bp.orchestration_trigger(context_name="context")
def crash_target(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("double", 1)
    slow_value = yield context.call_activity("slow", first)
    last = yield context.call_activity("double", slow_value)
    return [first, slow_value, last]


@bp.orchestration_trigger(context_name="context")
def where_fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input()
    results = yield context.task_all([context.call_activity("where", i) for i in range(count)])
    return results


@bp.orchestration_trigger(context_name="context")
def outlives_its_worker(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("hang", context.get_input())
        error = None
    except Exception as exc:
        error = str(exc)
    after = yield context.call_activity("where", 1)
    return {"error": error, "after": after}


# ---- client functions ----------------------------------------------------------------------------

@bp.route(route="start/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"), payload)
    return client.create_check_status_response(req, instance_id)


@bp.route(route="status/{instance_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def http_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instance_id"])
    if not status:
        return func.HttpResponse("not found", status_code=404)
    return func.HttpResponse(f'{{"runtimeStatus": "{status.runtime_status.value}"}}', status_code=200,
                             mimetype="application/json")


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def timer_start(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    existing = await client.get_status("timer-singleton")
    if not existing or existing.runtime_status.value in ("Completed", "Failed", "Terminated"):
        await client.start_new("sequence", "timer-singleton", 7 if not timer.past_due else 0)


# What the queue function was handed, per attempt (the queue tests read it).
QUEUE_SEEN: list[dict[str, Any]] = []
SAMPLE_QUEUE = "devhost-sample"


@bp.queue_trigger(arg_name="message", queue_name=SAMPLE_QUEUE, connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def queue_start(message: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    payload = message.get_json()
    QUEUE_SEEN.append({"id": message.id, "dequeue_count": message.dequeue_count, "body": payload,
                       "inserted": message.insertion_time})
    if payload.get("fail"):
        raise RuntimeError("asked to fail")
    if payload.get("start"):
        await client.start_new("sequence", payload["start"], payload.get("input", 1))


app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)
