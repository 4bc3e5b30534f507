"""The fault suite: each case ends with the database equal to the simulator's truth, record by record.

Marked `faults` (and `integration`): `make test` runs it with the rest; `pytest -m faults tests/faults` alone.
Sizes and the full 50,000-record variant: tests/faults/README.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration import conftest as integration

# A local Durable host on a store of the test's own (virtual time), as the integration tests use it.
host = integration.host


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


def pages_loaded(dsn: str, connection_id: str) -> int:
    """Pages the running sync of a connection has loaded so far (0 while the database does not answer)."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pages), 0) FROM sync_run_streams s JOIN sync_runs r USING (run_id) "
                "WHERE r.scope = %s AND r.status = 'running'", (connection_id,)).fetchone()
    except psycopg.OperationalError:
        return 0
    return int(row[0]) if row else 0


def a_load_waits_on_a_lock(dsn: str) -> bool:
    """Whether a session of the database waits on a lock (a load held at a table the test has locked)."""
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()
    except psycopg.OperationalError:
        return False
    return bool(row and row[0])


class Trigger:
    """Runs `action` once, from a thread of its own, when `ready()` first turns true (checked every 20 ms)."""

    def __init__(self, ready: Callable[[], bool], action: Callable[[], None], timeout: float = 240) -> None:
        self.fired = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()

        def watch() -> None:
            deadline = time.monotonic() + timeout
            while not self._stop.is_set() and time.monotonic() < deadline:
                if ready():
                    try:
                        action()
                    except BaseException as exc:
                        self.error = exc
                    self.fired.set()
                    return
                time.sleep(0.02)

        self._thread = threading.Thread(target=watch, name="fault-trigger", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Stop watching; raise what the action raised, and fail if it never ran."""
        self._stop.set()
        self._thread.join(300)
        if self.error is not None:
            raise self.error
        assert self.fired.is_set(), "the fault never struck: the sync ended before its trigger"


@pytest.fixture
def trigger() -> Iterator[Callable[..., Trigger]]:
    made: list[Trigger] = []

    def make(ready: Callable[[], bool], action: Callable[[], None]) -> Trigger:
        made.append(Trigger(ready, action))
        return made[-1]

    yield make
    for each in made:
        each._stop.set()


def failed_activities(host: Any) -> list[tuple[str, str]]:
    """(activity, reason) of every failed activity attempt in the host's instances: proof a fault struck one."""
    from azure.durable_functions.models.history import HistoryEventType as T

    failed = []
    for instance in host.list_instances():
        events = host.history(instance["instanceId"])
        names = {e["EventId"]: e.get("Name") for e in events if e["EventType"] == int(T.TASK_SCHEDULED)}
        failed += [(names.get(e["TaskScheduledId"], "?"), e.get("Reason") or "") for e in events
                   if e["EventType"] == int(T.TASK_FAILED)]
    return failed


def run_to_success(host: Any, mode: str, **options: Any) -> tuple[str, dict]:
    """A QuickBooks sync through the API to its successful end: (run id, counts per stream)."""
    from tests.integration import helpers

    instance_id, run_id = helpers.start(host, mode, **options)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
    return run_id, helpers.streams_of(run_id)
