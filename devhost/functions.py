"""The app's function index and invocation, converting inputs and outputs as the Python worker does."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import threading
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

ORCHESTRATOR, ACTIVITY, HTTP, TIMER, QUEUE, ENTITY, OTHER = (
    "orchestrationTrigger", "activityTrigger", "httpTrigger", "timerTrigger", "queueTrigger", "entityTrigger", "other")
_HOST_DIR = os.path.dirname(os.path.abspath(__file__))
_OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
_MISSING = ("The function '{name}' doesn't exist, is disabled, or is not an {kind} function. "
            "Additional info: the app registers no such function.")


@dataclass(frozen=True)
class FunctionInfo:
    """One indexed function: its trigger, how to call it, and which parameters get bindings."""

    name: str
    kind: str
    trigger: Any
    trigger_param: str
    client_params: tuple[str, ...]
    wants_context: bool
    func: Callable[..., Any]


@dataclass(frozen=True)
class OrchestratorResult:
    """An orchestrator episode's OrchestratorState, or the failure it raised."""

    state: dict[str, Any] | None
    error: str | None = None
    details: str | None = None


@dataclass(frozen=True)
class ActivityOutcome:
    """An activity's JSON result, or its failure reason and details."""

    result_json: str | None = None
    reason: str | None = None
    details: str | None = None

    @property
    def failed(self) -> bool:
        """True when the activity raised."""
        return self.reason is not None


class InvocationContext(func.Context):
    """The `context` argument the worker passes to functions that declare it."""

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._tls = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return "."

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class FunctionIndex:
    """Functions of one DFApp by name, built from a single get_functions() call."""

    def __init__(self, functions: list[Any]) -> None:
        self.by_name: dict[str, FunctionInfo] = {}
        for function in functions:
            info = _describe(function)
            self.by_name[info.name] = info

    def names(self, kind: str) -> list[str]:
        """Names of the functions with this trigger type."""
        return sorted(n for n, i in self.by_name.items() if i.kind == kind)

    def get(self, name: str, kind: str) -> FunctionInfo:
        """The function `name` with trigger `kind`, or ValueError with the extension's wording."""
        info = self.by_name.get(name)
        if info is None or info.kind != kind:
            label = {ORCHESTRATOR: "orchestrator", ACTIVITY: "activity"}.get(kind, kind)
            raise ValueError(_MISSING.format(name=name, kind=label))
        return info

    def has(self, name: str, kind: str) -> bool:
        """True if `name` is a function with trigger `kind`."""
        info = self.by_name.get(name)
        return info is not None and info.kind == kind

    def run_orchestrator(self, name: str, envelope: dict[str, Any]) -> OrchestratorResult:
        """One episode: the SDK's handle() takes the context JSON and returns the OrchestratorState JSON."""
        try:
            info = self.get(name, ORCHESTRATOR)
        except ValueError as exc:
            return OrchestratorResult(None, str(exc))
        try:
            raw = info.func(func.OrchestrationContext(json.dumps(envelope)))
        except Exception as exc:  # the SDK reports orchestrator failures by raising
            return _orchestrator_failure(exc)
        return OrchestratorResult(json.loads(raw))

    def run_activity(self, name: str, input_json: str | None) -> ActivityOutcome:
        """Call an activity (sync or async) with its decoded input; encode its result as the worker does."""
        try:
            info = self.get(name, ACTIVITY)
            value = None if input_json is None else ActivityTriggerConverter.decode(
                meta.Datum(input_json, "json"), trigger_metadata=None)
            kwargs: dict[str, Any] = {info.trigger_param: value}
            if info.wants_context:
                kwargs["context"] = InvocationContext(name)
            out = run_sync(info.func(**kwargs))
            return ActivityOutcome(result_json=ActivityTriggerConverter.encode(out, expected_type=None).value)
        except Exception as exc:
            return ActivityOutcome(reason=f"Activity function '{name}' failed: {type(exc).__name__}: {exc}",
                                   details=user_traceback(exc))

    def invoke(self, name: str, kind: str, trigger_value: Any, client_binding: str) -> Any:
        """Call an HTTP, timer or queue function; durable client parameters receive the binding JSON string."""
        info = self.get(name, kind)
        kwargs: dict[str, Any] = {info.trigger_param: trigger_value}
        for param in info.client_params:
            # The DFApp's durable_client_input middleware turns this string into the rich client.
            kwargs[param] = client_binding
        if info.wants_context:
            kwargs["context"] = InvocationContext(name)
        return run_sync(info.func(**kwargs))


_CACHE: dict[int, tuple[Any, FunctionIndex]] = {}
_CACHE_LOCK = threading.Lock()


def function_index(app: Any) -> FunctionIndex:
    """Index `app` once: DFApp.get_functions() refuses a second call, so hosts share one index."""
    with _CACHE_LOCK:
        hit = _CACHE.get(id(app))
        if hit is not None and hit[0] is app:
            return hit[1]
        try:
            functions = app.get_functions()
        except ValueError:
            # Someone else already called get_functions(); building again is side-effect free.
            functions = [fb.build(getattr(app, "auth_level", None)) for fb in app._function_builders]
        index = FunctionIndex(functions)
        _CACHE[id(app)] = (app, index)  # keeps `app` alive, so its id cannot be reused
        return index


def run_sync(value: Any) -> Any:
    """Resolve an awaitable from sync code (in a helper thread if this thread already runs a loop)."""
    if not inspect.isawaitable(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(value))
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_await(value))
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="devhost-async")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _await(value: Awaitable[Any]) -> Any:
    return await value


def user_traceback(exc: BaseException) -> str:
    """The exception's traceback without the host's own frames on top."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_HOST_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _describe(function: Any) -> FunctionInfo:
    trigger = function.get_trigger()
    kind = getattr(trigger, "type", None) or trigger.get_binding_name()
    if kind not in (ORCHESTRATOR, ACTIVITY, HTTP, TIMER, QUEUE, ENTITY):
        kind = OTHER
    client_params = tuple(b.name for b in function.get_bindings()
                          if getattr(b, "type", None) == "durableClient")
    user_func = function.get_user_function()
    try:
        params = inspect.signature(user_func).parameters
    except (TypeError, ValueError):
        params = {}
    return FunctionInfo(name=function.get_function_name(), kind=kind, trigger=trigger,
                        trigger_param=trigger.name, client_params=client_params,
                        wants_context="context" in params and trigger.name != "context", func=user_func)


def _orchestrator_failure(exc: Exception) -> OrchestratorResult:
    text = str(exc)
    state: dict[str, Any] | None = None
    message = text
    index = text.find(_OUT_OF_PROC_LABEL)
    if index >= 0:
        message = text[:index]
        try:
            state = json.loads(text[index + len(_OUT_OF_PROC_LABEL):])
        except ValueError:
            state = None
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    details = user_traceback(cause)
    return OrchestratorResult(state, message or type(exc).__name__, details)
