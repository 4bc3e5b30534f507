"""Where activities run: a thread pool in the host's process, or worker processes as FUNCTIONS_WORKER_PROCESS_COUNT.

The Functions host runs a Python app's functions in `FUNCTIONS_WORKER_PROCESS_COUNT` worker processes per instance
(each importing the app once, running many invocations at a time on its threads), so CPU-bound activities of one
instance are not held to one core by the GIL. ProcessWorkers does the same locally: N spawned processes, each
imports the app by its "module:attribute" name once and runs the activities it is handed (by name, JSON in and
out, exactly as ThreadWorkers does through FunctionIndex.run_activity, so results and failures read the same). One
pipe per process carries calls, results and the process's log records, which are handed to the host process's
loggers (so handlers there, pytest's and the suite's secret scan included, see them). Orchestrator episodes stay
in the host process.

A worker process that dies fails the activities it was running with the Functions host's wording ("python exited
with code N": Azure/azure-functions-durable-extension#2486, Azure/azure-functions-durable-js#543 show the
extension recording such a WorkerProcessExitException as the activity's failure), and the next call starts a new
process in its place. Workers start at the first activity and see the environment as it was then.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from devhost.functions import ActivityOutcome, FunctionIndex, function_index

log = logging.getLogger(__name__)

# The folder `devhost` is imported from: a worker process imports devhost.workers from there before anything else.
_IMPORT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# How long close() waits for a worker process to exit after its pipe closed, before terminating it.
EXIT_GRACE_SECONDS = 10.0


class ActivityWorkers(Protocol):
    """Runs activities by name; the driver caps how many are in flight."""

    def submit(self, name: str, input_json: str | None) -> Future[ActivityOutcome]:
        """Start the activity; the future never raises (a failure is a failed ActivityOutcome)."""
        ...

    def close(self) -> None:
        """Stop, after the activities in flight finish."""
        ...

    def process_ids(self) -> list[int]:
        """Process ids of the worker processes alive now (none when activities run in the host's process)."""
        ...


class ThreadWorkers:
    """Activities on a thread pool of the host's own process (the default)."""

    def __init__(self, functions: FunctionIndex, threads: int) -> None:
        self.functions = functions
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="devhost-activity")

    def submit(self, name: str, input_json: str | None) -> Future[ActivityOutcome]:
        return self._pool.submit(self.functions.run_activity, name, input_json)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def process_ids(self) -> list[int]:
        return []


class ProcessWorkers:
    """Activities in `processes` worker processes, each running up to `threads` at a time.

    A call goes to the process with the fewest calls in flight; a process that died is replaced at the next call.
    """

    def __init__(self, app_ref: str, processes: int, threads: int) -> None:
        self.app_ref = app_ref
        self.threads = max(1, threads)
        self._slots: list[_WorkerProcess | None] = [None] * max(1, processes)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, name: str, input_json: str | None) -> Future[ActivityOutcome]:
        with self._lock:
            workers = self._fill_slots()
            worker = min(workers, key=lambda w: w.in_flight)
        return worker.call(name, input_json)

    def start(self, timeout: float | None = None) -> None:
        """Start the worker processes now (not at the first activity) and wait until each has imported the app or
        died: a benchmark's clock then starts with warm workers, as an instance's are in Azure."""
        with self._lock:
            workers = self._fill_slots()
        for worker in workers:
            worker.ready.wait(timeout)

    def _fill_slots(self) -> list[_WorkerProcess]:
        if self._closed:
            raise RuntimeError("the activity worker processes are closed")
        for index, worker in enumerate(self._slots):
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.stop()  # gone already: this closes our end of its pipe
                self._slots[index] = _WorkerProcess.start(self.app_ref, self.threads, index)
        return [w for w in self._slots if w is not None]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for w in self._slots if w is not None]
        for worker in workers:
            worker.stop()

    def process_ids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._slots if w is not None and w.alive and w.pid is not None]

    def startup_cpu_seconds(self) -> dict[int, float]:
        """CPU seconds each live worker process spent before it was ready (importing the app), by process id."""
        with self._lock:
            return {w.pid: w.startup_cpu for w in self._slots
                    if w is not None and w.pid is not None and w.startup_cpu is not None}


def load_app(path: str) -> Any:
    """Import `module:attribute` (attribute defaults to `app`)."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "app")


def app_reference(app: Any) -> str:
    """The "module:attribute" name a worker process imports `app` by: the first module (by name) holding it,
    preferring an attribute called `app`; ValueError when no imported module holds it."""
    found: list[tuple[bool, str, str]] = []
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name in ("__main__", "__mp_main__"):
            continue
        for attribute, value in list(getattr(module, "__dict__", {}).items()):
            if value is app:
                found.append((attribute != "app", module_name, attribute))
    if not found:
        raise ValueError("the app is not an attribute of any imported module; pass app_ref='module:attribute'")
    _, module_name, attribute = min(found)
    return f"{module_name}:{attribute}"


class _WorkerProcess:
    """The host's side of one worker process: its pipe, the calls in flight, a thread reading its answers."""

    _ids = itertools.count(1)

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process = process
        self.pid = process.pid
        self._socket = sock  # kept to shut its sending side down: close() would not wake the reader's recv()
        self.conn = Connection(os.dup(sock.fileno()))
        self.alive = True
        self.startup_cpu: float | None = None
        self.ready = threading.Event()  # set once the app is imported, or the process is gone
        self._startup_error: str | None = None
        self._calls: dict[int, tuple[str, Future[ActivityOutcome]]] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"devhost-worker-{self.pid}", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, app_ref: str, threads: int, index: int) -> _WorkerProcess:
        # A program of its own, as the Functions host starts its Python worker: nothing of this process (its
        # __main__, its threads, its open connections) is copied or re-run there. Its end of a socket pair is
        # handed over as a file descriptor; sys.path and the loggers' levels go with the arguments.
        ours, theirs = socket.socketpair()
        config = {"app": app_ref, "fd": theirs.fileno(), "threads": threads, "path": sys.path,
                  "levels": _logger_levels(), "name": f"devhost-activity-process-{index}"}
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (_IMPORT_ROOT, env.get("PYTHONPATH"))))
        process = subprocess.Popen([sys.executable, "-c", "from devhost.workers import main; main()",
                                    json.dumps(config)], pass_fds=(theirs.fileno(),), env=env,
                                   stdin=subprocess.DEVNULL)
        theirs.close()  # the child holds the other end: its exit is our end's EOF
        log.info("activity worker process %s started (%s, %d threads)", process.pid, app_ref, threads)
        return cls(process, ours)

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def call(self, name: str, input_json: str | None) -> Future[ActivityOutcome]:
        future: Future[ActivityOutcome] = Future()
        call_id = next(self._ids)
        with self._lock:
            if not self.alive:
                future.set_result(self._exited(name))
                return future
            self._calls[call_id] = (name, future)
        try:
            with self._send_lock:
                self.conn.send((call_id, name, input_json))
        except (OSError, ValueError):
            # The process is gone; the reader fails what it was running (this call too, if still listed).
            with self._lock:
                pending = self._calls.pop(call_id, None)
            if pending is not None:
                future.set_result(self._exited(name))
        return future

    def stop(self) -> None:
        """End the calls (the process finishes those in flight and exits), then wait for it."""
        with self._send_lock, contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_WR)
        try:
            self.process.wait(EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(EXIT_GRACE_SECONDS)
        self._reader.join(EXIT_GRACE_SECONDS)
        self.conn.close()
        self._socket.close()

    def _read(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                kind = message[0]
                if kind == "done":
                    _, call_id, result_json, reason, details = message
                    with self._lock:
                        pending = self._calls.pop(call_id, None)
                    if pending is not None:
                        pending[1].set_result(ActivityOutcome(result_json, reason, details))
                elif kind == "log":
                    _log_here(message[1])
                elif kind == "ready":
                    self.startup_cpu = message[1]
                    self.ready.set()
                elif kind == "failed":
                    self._startup_error = message[1]
                    self.ready.set()
        except (EOFError, OSError):
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(EXIT_GRACE_SECONDS)
        with self._lock:
            self.alive = False
            calls, self._calls = self._calls, {}
        self.ready.set()
        for name, future in calls.values():
            future.set_result(self._exited(name))
        if calls or self._startup_error:
            log.warning("activity worker process %s exited with code %s, failing %d activities in flight",
                        self.pid, self.process.returncode, len(calls))

    def _exited(self, name: str) -> ActivityOutcome:
        if self._startup_error:
            return ActivityOutcome(reason=f"Activity function '{name}' failed: the worker process could not load "
                                          f"the app: {self._startup_error}")
        return ActivityOutcome(reason=f"Activity function '{name}' failed: WorkerProcessExitException: python "
                                      f"exited with code {self.process.returncode} (worker process {self.pid})")


# ---- inside a worker process ------------------------------------------------------------------------------------

def main() -> None:
    """A worker process's entry point (its one argument: the JSON _WorkerProcess.start wrote)."""
    config = json.loads(sys.argv[1])
    sys.path[:] = config["path"]
    multiprocessing.current_process().name = config["name"]
    serve(config["app"], Connection(config["fd"]), config["threads"], config["levels"])


def serve(app_ref: str, conn: Connection, threads: int, levels: dict[str, int]) -> None:
    """A worker process's life: import the app, then run each call on a thread until the host closes the pipe."""
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)

    logging.getLogger().addHandler(_ToHost(send))
    try:
        functions = function_index(load_app(app_ref))
    except BaseException as exc:  # the host reports it as the failure of the activities sent here
        send(("failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        return
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    send(("ready", time.process_time()))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="devhost-activity")

    def run(call_id: int, name: str, input_json: str | None) -> None:
        try:
            outcome = functions.run_activity(name, input_json)
        except BaseException as exc:  # SystemExit and the like, which run_activity lets through
            outcome = ActivityOutcome(reason=f"Activity function '{name}' failed: {type(exc).__name__}: {exc}")
        with contextlib.suppress(OSError, ValueError):  # the host is gone: nobody waits for this result
            send(("done", call_id, outcome.result_json, outcome.reason, outcome.details))

    try:
        while True:
            try:
                call_id, name, input_json = conn.recv()
            except (EOFError, OSError):
                break
            pool.submit(run, call_id, name, input_json)
    finally:
        pool.shutdown(wait=True)
        conn.close()


class _ToHost(logging.Handler):
    """Sends each record to the host process, formatted (arguments applied, traceback as text)."""

    def __init__(self, send: Any) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {k: v for k, v in record.__dict__.items()
                      if isinstance(v, str | int | float | bool) or v is None}
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info and not record.exc_text:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["processName"] = multiprocessing.current_process().name
            self._send(("log", fields))
        except Exception:
            self.handleError(record)


def _log_here(fields: dict[str, Any]) -> None:
    record = logging.makeLogRecord(fields)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


def _logger_levels() -> dict[str, int]:
    """The levels set in this process ('' for the root), for a worker process to apply after importing the app."""
    levels = {"": logging.getLogger().level}
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels

