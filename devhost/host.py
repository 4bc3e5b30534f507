"""LocalDurableHost: runs a DFApp's orchestrations through the real Durable SDK, persisted in SQLite."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.utils.df_serialization import df_dumps

from devhost import client as clients
from devhost.clock import Clock
from devhost.engine import EpisodeRunner
from devhost.functions import HTTP, QUEUE, TIMER, function_index
from devhost.management_api import ManagementApi
from devhost.operations import HubOperations
from devhost.queues import QueueListener, QueueTrigger
from devhost.scheduler import POLL_SECONDS, Driver
from devhost.store import TERMINAL_STATES, Store
from devhost.triggers import as_http_response, http_request, timer_request
from devhost.workers import ActivityWorkers, ProcessWorkers, ThreadWorkers, app_reference

log = logging.getLogger(__name__)

# Longest single sleep, so events raised by other threads or processes are noticed promptly.
MAX_WAIT = 0.5
# How long run_until_complete polls an idle hub for outside input before reporting a stall.
STALL_GRACE = 1.0
# Queue polling: at once while messages come, backing off to this when the queues are empty (the Functions host's
# maxPollingInterval is a minute; locally a short one keeps webhooks prompt).
QUEUE_MAX_POLL_SECONDS = 2.0


class StalledError(RuntimeError):
    """The instance is not finished, and nothing in the hub can move it forward without outside input."""


class LocalDurableHost:
    """A local Durable host: one task hub in one SQLite file, driven inline or by a background thread."""

    def __init__(self, app: Any, store_path: str | Path, *, virtual_time: bool = False,
                 max_activity_workers: int = 4, task_hub: str = "devhost",
                 queue_names: Mapping[str, str] | None = None, activity_processes: int = 0,
                 app_ref: str | None = None) -> None:
        """`queue_names` reads another queue in place of a trigger's (tests on a storage account others share).

        `activity_processes` > 1 runs activities in that many worker processes (as FUNCTIONS_WORKER_PROCESS_COUNT;
        devhost/workers.py), at most `max_activity_workers` in flight in all; each process imports the app by
        `app_ref` ("module:attribute"; found among the imported modules when not given). 0 or 1: the host's own
        threads.
        """
        self.app = app
        self.task_hub = task_hub
        self.functions = function_index(app)
        self.store = Store(store_path, task_hub)
        self.clock = Clock(virtual=virtual_time, offset_seconds=self.store.clock_offset(),
                           persist=self.store.save_clock_offset)
        self.episodes = EpisodeRunner(self.store, self.functions, self.clock)
        self.workers: ActivityWorkers = (
            ProcessWorkers(app_ref or app_reference(app), activity_processes, max_activity_workers)
            if activity_processes > 1 else ThreadWorkers(self.functions, max_activity_workers))
        self.driver = Driver(self.store, self.episodes, self.workers, self.clock, max_activity_workers)
        self.ops = HubOperations(self.store, self.functions, self.clock, self.driver.wake)
        self.api = ManagementApi(self.ops, task_hub)
        self._token = clients.new_token()
        self._binding = clients.binding_json(task_hub, self._token)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.queues = QueueListener(
            [QueueTrigger(name, self.functions.get(name, QUEUE).trigger.queue_name,
                          self.functions.get(name, QUEUE).trigger.connection) for name in self.functions.names(QUEUE)],
            self.invoke_queue, queue_names=queue_names)
        self._queue_thread: threading.Thread | None = None

    # ---- instances -------------------------------------------------------------------------------

    def start_new(self, orchestrator_name: str, instance_id: str | None = None, input: Any = None) -> str:
        """Schedule an orchestration; replaces a finished instance with the same id, refuses a running one."""
        return self.ops.start(orchestrator_name, instance_id, None if input is None else df_dumps(input))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Send an external event to a running instance."""
        self.ops.raise_event(instance_id, event_name, df_dumps(data))

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        """Terminate a running instance (applied by the driver at its next step)."""
        self.ops.terminate(instance_id, reason)

    def get_status(self, instance_id: str) -> dict[str, Any] | None:
        """Runtime-shaped status of an instance, or None."""
        return self.ops.status(instance_id)

    def list_instances(self) -> list[dict[str, Any]]:
        """Statuses of every instance in the task hub."""
        return self.ops.query()

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        """History events of the instance's current execution."""
        return self.store.history(instance_id)

    def resume(self) -> dict[str, int]:
        """After a crash: re-create missing activity, timer and child work from the histories.

        Activities scheduled but not completed are dispatched again by the next drive (at-least-once).
        """
        counts = self.store.repair(self.clock.now())
        self.driver.wake()
        return counts

    # ---- driving ---------------------------------------------------------------------------------

    def run_until_idle(self, timeout: float | None = None) -> None:
        """Drive until nothing can run: no inbox, no activity in flight, no armed timer."""
        deadline = _deadline(timeout)
        while True:
            if self.driver.step():
                _check(deadline, "the task hub to become idle")
                continue
            if self.driver.wait_for_work(min(MAX_WAIT, _remaining(deadline))) == "idle":
                return
            _check(deadline, "the task hub to become idle")

    def run_until_complete(self, instance_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Drive until the instance is Completed, Failed or Terminated; returns its status.

        Raises TimeoutError after `timeout` seconds, and StalledError soon after nothing is left to run.
        """
        status = self._drive_until_terminal(instance_id, timeout, stall_grace=STALL_GRACE)
        if status["runtimeStatus"] not in TERMINAL_STATES:
            raise TimeoutError(f"instance {instance_id} is still {status['runtimeStatus']} after {timeout} s")
        return status

    def wait_for(self, instance_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait (or drive, without a background thread) until the instance is finished or `timeout` passes.

        Returns the status either way, so callers can poll progress with a short timeout.
        """
        try:
            return self._drive_until_terminal(instance_id, timeout,
                                              stall_grace=STALL_GRACE if timeout is None else None)
        except StalledError:
            return self._status_or_raise(instance_id)

    def start(self, *, queues: bool = False) -> None:
        """Drive in a background thread until stop(); with `queues`, also run the queue triggers (another thread)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._background, name="devhost-driver", daemon=True)
        self._thread.start()
        if queues and self.queues.triggers:
            self._queue_thread = threading.Thread(target=self._poll_queues, name="devhost-queues", daemon=True)
            self._queue_thread.start()

    def stop(self) -> None:
        """Stop the background threads; in-flight activities finish and their results are recorded."""
        self._stop.set()
        self.driver.wake()
        for thread in (self._queue_thread, self._thread):
            if thread is not None:
                thread.join()
        self._thread = self._queue_thread = None
        self.driver.drain()

    def close(self) -> None:
        """Stop driving, stop the activity workers and close the store."""
        self.stop()
        self.driver.close()
        self.store.close()

    def __enter__(self) -> LocalDurableHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- client and functions --------------------------------------------------------------------

    def client(self) -> DurableOrchestrationClient:
        """A real SDK DurableOrchestrationClient whose HTTP calls are served in-process by this host."""
        return clients.make_client(self.api, self._binding)

    def client_binding(self) -> str:
        """The durableClient binding JSON this host passes to client functions."""
        return self._binding

    def webhook(self, method: str, url: str, body: bytes | str | None = None) -> tuple[int, Any]:
        """Call a management URL (e.g. statusQueryGetUri from a 202 response); returns (status, JSON)."""
        text = body.decode() if isinstance(body, bytes) else body
        return self.api.handle(method, url, text)

    def invoke_http(self, function_name: str, method: str = "POST", url: str = "http://localhost/api/",
                    body: bytes | str | None = b"", params: dict[str, str] | None = None,
                    route_params: dict[str, str] | None = None,
                    headers: dict[str, str] | None = None) -> func.HttpResponse:
        """Call an HTTP-triggered function; its durable client talks to this host."""
        info = self.functions.get(function_name, HTTP)
        request = http_request(info.trigger, method, url, body, params, route_params, headers)
        clients.register(self._token, self.api)
        return as_http_response(self.functions.invoke(function_name, HTTP, request, self._binding))

    def invoke_timer(self, function_name: str, past_due: bool = False) -> Any:
        """Call a timer-triggered function; its durable client talks to this host."""
        clients.register(self._token, self.api)
        return self.functions.invoke(function_name, TIMER, timer_request(past_due), self._binding)

    def invoke_queue(self, function_name: str, message: func.QueueMessage) -> Any:
        """Call a queue-triggered function with one message; its durable client talks to this host."""
        clients.register(self._token, self.api)
        return self.functions.invoke(function_name, QUEUE, message, self._binding)

    def poll_queues(self) -> int:
        """One round of every queue trigger (see devhost/queues.py); returns how many messages were handled."""
        return self.queues.poll()

    # ---- internals -------------------------------------------------------------------------------

    def _poll_queues(self) -> None:
        idle = 0.0
        while not self._stop.is_set():
            try:
                handled = self.queues.poll()
            except Exception as exc:  # storage unreachable for a moment: keep listening, as the host does
                log.warning("polling the queues failed: %s: %s", type(exc).__name__, exc)
                handled = 0
            idle = 0.0 if handled else min(QUEUE_MAX_POLL_SECONDS, max(POLL_SECONDS, idle * 2))
            if idle:
                self._stop.wait(idle)

    def _background(self) -> None:
        while not self._stop.is_set():
            if not self.driver.step() and self.driver.wait_for_work(POLL_SECONDS) == "idle":
                # Nothing to do: clients of this or another process may enqueue work at any time.
                self.driver.sleep(POLL_SECONDS)

    def _drive_until_terminal(self, instance_id: str, timeout: float | None,
                              stall_grace: float | None) -> dict[str, Any]:
        deadline = _deadline(timeout)
        idle_since: float | None = None
        while True:
            status = self._status_or_raise(instance_id)
            if status["runtimeStatus"] in TERMINAL_STATES or _expired(deadline):
                return status
            if self._thread is not None and self._thread.is_alive():
                with self.driver.changed:
                    self.driver.changed.wait(min(POLL_SECONDS * 4, _remaining(deadline)))
                continue
            if self.driver.step() or self.driver.wait_for_work(min(MAX_WAIT, _remaining(deadline))) == "busy":
                idle_since = None
                continue
            # Nothing can run. Another thread or process may still raise an event, so poll for a while.
            idle_since = idle_since or time.monotonic()
            if stall_grace is not None and time.monotonic() - idle_since >= stall_grace:
                raise StalledError(
                    f"instance {instance_id} is {status['runtimeStatus']} but nothing is left to run: it waits for "
                    "an external event, or for a task the SDK never saw complete")
            self.driver.sleep(min(POLL_SECONDS, _remaining(deadline)))

    def _status_or_raise(self, instance_id: str) -> dict[str, Any]:
        status = self.get_status(instance_id)
        if status is None:
            raise KeyError(f"no instance {instance_id!r} in task hub {self.task_hub!r}")
        return status


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float:
    return 3600.0 if deadline is None else max(0.0, deadline - time.monotonic())


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _check(deadline: float | None, what: str) -> None:
    if _expired(deadline):
        raise TimeoutError(f"timed out waiting for {what}")
