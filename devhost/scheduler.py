"""The driver: activities to their workers (devhost/workers.py), due timers, and one orchestrator episode at a time."""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Literal

from devhost import history as ev
from devhost.clock import Clock
from devhost.engine import EpisodeRunner
from devhost.functions import ActivityOutcome
from devhost.store import ActivityWork, Store
from devhost.workers import ActivityWorkers

# How long an idle driver sleeps before looking again for work other threads or processes added.
POLL_SECONDS = 0.05

Wait = Literal["busy", "idle"]


class Driver:
    """Moves a task hub forward; step() does one round of work, wait_for_work() blocks until more may exist."""

    def __init__(self, store: Store, episodes: EpisodeRunner, workers: ActivityWorkers, clock: Clock,
                 max_workers: int) -> None:
        """`max_workers` caps the activities in flight, wherever `workers` runs them."""
        self.store = store
        self.episodes = episodes
        self.workers = workers
        self.clock = clock
        self.max_workers = max(1, max_workers)
        self._inflight: dict[int, tuple[ActivityWork, Future[ActivityOutcome]]] = {}
        self._wake = threading.Event()
        self.changed = threading.Condition()
        # Only one thread drives at a time (the background thread or a foreground run_* call).
        self.drive_lock = threading.RLock()

    def wake(self) -> None:
        """Cut a sleeping driver's wait short (new work was enqueued)."""
        self._wake.set()

    def step(self) -> bool:
        """One round: record finished activities, start new ones, fire due timers, run one episode."""
        with self.drive_lock:
            progressed = self._collect()
            progressed = self._dispatch() or progressed
            progressed = self.store.fire_due_timers(self.clock.now()) > 0 or progressed
            instance_id = self.store.ready_instance()
            if instance_id is not None:
                progressed = self.episodes.run(instance_id) or progressed
        if progressed:
            with self.changed:
                self.changed.notify_all()
        return progressed

    def wait_for_work(self, max_wait: float) -> Wait:
        """Block until work may be runnable; 'idle' means nothing is in flight and no timer is armed."""
        self._wake.clear()
        with self.drive_lock:
            futures = [future for _, future in self._inflight.values()]
        if futures:
            wait(futures, timeout=min(max_wait, self._until_next_timer(max_wait)), return_when=FIRST_COMPLETED)
            return "busy"
        due = self.store.next_timer()
        if due is None:
            return "idle"
        # Only timers are pending: virtual time jumps to the earliest one, real time waits for it.
        if not self.clock.advance_to(due):
            self._wake.wait(min(max_wait, max(0.0, (due - self.clock.now()).total_seconds())))
        return "busy"

    def sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when new work is enqueued in this process."""
        self._wake.wait(seconds)
        self._wake.clear()

    def drain(self) -> None:
        """Wait for in-flight activities and record their results."""
        with self.drive_lock:
            for _, future in list(self._inflight.values()):
                future.exception()
            self._collect()

    def close(self) -> None:
        """Stop the activity workers (after in-flight activities finish)."""
        self.drain()
        self.workers.close()

    def _until_next_timer(self, cap: float) -> float:
        due = self.store.next_timer()
        if due is None:
            return cap
        return max(0.0, (due - self.clock.now()).total_seconds())

    def _dispatch(self) -> bool:
        free = self.max_workers - len(self._inflight)
        if free <= 0:
            return False
        work = self.store.pending_activities(free, set(self._inflight))
        for item in work:
            self.store.mark_dispatched(item.id)
            future = self.workers.submit(item.name, item.input)
            future.add_done_callback(lambda _f: self._wake.set())
            self._inflight[item.id] = (item, future)
        return bool(work)

    def _collect(self) -> bool:
        done = [(key, item, future) for key, (item, future) in self._inflight.items() if future.done()]
        for key, item, future in done:
            outcome = future.result()
            now = self.clock.now()
            if outcome.failed:
                event = ev.task_failed(now, item.task_id, outcome.reason or "", outcome.details)
            else:
                event = ev.task_completed(now, item.task_id, outcome.result_json or "null")
            self.store.complete_activity(item.id, event)
            del self._inflight[key]
        return bool(done)
