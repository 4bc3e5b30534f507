"""SQLite persistence of a task hub: instances, histories, inboxes and pending work.

Every state change is one transaction, so a process killed with SIGKILL leaves a consistent store:
an episode either committed (history, new work, messages to other instances) or did not (its inbox
events are still there and the episode runs again). Activities stay in `activities` until their
result is written, which makes them at-least-once, as in the real runtime.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.durable_functions.models.history import HistoryEventType as T

from devhost import history as ev
from devhost.clock import format_ts, parse_ts

RUNNING_STATES = ("Pending", "Running", "ContinuedAsNew")
TERMINAL_STATES = ("Completed", "Failed", "Terminated")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, name TEXT NOT NULL, execution_id TEXT NOT NULL,
    status TEXT NOT NULL, input TEXT, output TEXT, custom_status TEXT, error TEXT,
    created_time TEXT NOT NULL, last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER,
    actions TEXT, last_episode_ts TEXT, rev INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hub, instance_id));
CREATE TABLE IF NOT EXISTS history (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (hub, instance_id, seq));
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, instance_id TEXT NOT NULL,
    execution_id TEXT, event_type INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (hub, instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT, hub TEXT NOT NULL, instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL, task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT,
    dispatch_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS timers (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL, timer_id INTEGER NOT NULL,
    fire_at TEXT NOT NULL, canceled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hub, instance_id, execution_id, timer_id));
CREATE TABLE IF NOT EXISTS meta (hub TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (hub, key));
"""


class InstanceExistsError(Exception):
    """An instance with this id is still running, so it cannot be replaced."""


@dataclass
class Instance:
    """One orchestration instance row."""

    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    error: str | None
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    actions: str | None
    last_episode_ts: str | None
    rev: int


@dataclass
class InboxItem:
    """An event waiting to be delivered to an instance's next episode."""

    id: int
    execution_id: str | None
    event: dict[str, Any]


@dataclass
class Episode:
    """What an episode needs: the instance, its history, and the next batch of its inbox."""

    instance: Instance
    history: list[dict[str, Any]]
    batch: list[InboxItem]
    terminate: InboxItem | None


@dataclass
class ActivityWork:
    """A scheduled activity whose result has not been recorded yet."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass
class ChildStart:
    """A sub-orchestration to create in the parent's episode transaction."""

    instance_id: str
    name: str
    input: str | None
    task_id: int


@dataclass
class EpisodeCommit:
    """Everything one episode changes, applied atomically by Store.commit_episode."""

    instance_id: str
    execution_id: str
    rev: int
    consumed: list[int]
    events: list[dict[str, Any]]
    updates: dict[str, Any]
    now: datetime
    reset_history: bool = False
    activities: list[tuple[int, str, str | None]] = field(default_factory=list)
    timers: list[tuple[int, str, bool]] = field(default_factory=list)
    cancel_timers: list[int] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    parent_event: dict[str, Any] | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    keep_raised_events: bool = False


class Store:
    """A task hub in one SQLite file (WAL), shared by threads of this process and by other processes."""

    def __init__(self, path: str | Path, hub: str) -> None:
        self.path = Path(path)
        self.hub = hub
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe in WAL mode for process kills; only a power loss can drop the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._tx() as db:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            # A read transaction gives a consistent snapshot across several SELECTs.
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    # ---- instances -------------------------------------------------------------------------------

    def create_instance(self, instance_id: str, name: str, input_json: str | None, execution_id: str,
                        now: datetime) -> None:
        """Create a Pending instance with its ExecutionStarted message; replaces a finished one."""
        with self._tx() as db:
            existing = self._instance(db, instance_id)
            if existing is not None and existing.status in RUNNING_STATES:
                raise InstanceExistsError(
                    f"An orchestration instance with the ID '{instance_id}' is already {existing.status}.")
            self._insert_instance(db, instance_id, name, input_json, execution_id, now, None)

    def get_instance(self, instance_id: str) -> Instance | None:
        """The instance row, or None."""
        with self._read() as db:
            return self._instance(db, instance_id)

    def list_instances(self, *, prefix: str | None = None, statuses: list[str] | None = None,
                       created_from: str | None = None, created_to: str | None = None) -> list[Instance]:
        """Instances matching the filters, oldest first."""
        sql = "SELECT * FROM instances WHERE hub = ?"
        args: list[Any] = [self.hub]
        if prefix:
            sql += " AND instance_id >= ? AND instance_id < ?"
            args += [prefix, prefix + "\U0010ffff"]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        if created_from:
            sql += " AND created_time >= ?"
            args.append(created_from)
        if created_to:
            sql += " AND created_time <= ?"
            args.append(created_to)
        with self._read() as db:
            return [_row_to_instance(r) for r in db.execute(sql + " ORDER BY created_time, instance_id", args)]

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        """The current execution's history events, in order."""
        with self._read() as db:
            return self._history(db, instance_id)

    def enqueue(self, instance_id: str, event: dict[str, Any], execution_id: str | None = None) -> None:
        """Add an event to an instance's inbox (raise_event, terminate)."""
        with self._tx() as db:
            self._enqueue(db, instance_id, event, execution_id)

    def purge(self, instance_ids: list[str]) -> int:
        """Delete finished instances and everything about them; returns how many were deleted."""
        deleted = 0
        with self._tx() as db:
            for instance_id in instance_ids:
                row = self._instance(db, instance_id)
                if row is None or row.status not in TERMINAL_STATES:
                    continue
                self._forget(db, instance_id, keep_instance=False)
                deleted += 1
        return deleted

    # ---- episodes --------------------------------------------------------------------------------

    def ready_instance(self) -> str | None:
        """The instance owning the oldest undelivered inbox event."""
        with self._read() as db:
            row = db.execute(
                "SELECT b.instance_id FROM inbox b JOIN instances i ON i.hub = b.hub AND i.instance_id = "
                "b.instance_id WHERE b.hub = ? ORDER BY b.id LIMIT 1", (self.hub,)).fetchone()
        return None if row is None else row[0]

    def load_episode(self, instance_id: str, batch_size: int) -> Episode | None:
        """Snapshot for one episode: at most `batch_size` inbox events, plus any pending termination."""
        with self._read() as db:
            instance = self._instance(db, instance_id)
            if instance is None:
                return None
            # ExecutionStarted first: after continue_as_new it is queued behind carried-over events.
            rows = db.execute("SELECT id, execution_id, event FROM inbox WHERE hub = ? AND instance_id = ? "
                              "ORDER BY event_type != ?, id LIMIT ?",
                              (self.hub, instance_id, int(T.EXECUTION_STARTED), batch_size)).fetchall()
            terminate = db.execute("SELECT id, execution_id, event FROM inbox WHERE hub = ? AND instance_id = ? "
                                   "AND event_type = ? ORDER BY id LIMIT 1",
                                   (self.hub, instance_id, int(T.EXECUTION_TERMINATED))).fetchone()
            history = self._history(db, instance_id)
        batch = [InboxItem(r[0], r[1], json.loads(r[2])) for r in rows]
        term = None if terminate is None else InboxItem(terminate[0], terminate[1], json.loads(terminate[2]))
        return Episode(instance, history, batch, term)

    def discard_inbox(self, instance_id: str, ids: list[int] | None = None) -> None:
        """Drop undeliverable events: the given ones, or all of the instance's."""
        with self._tx() as db:
            if ids is None:
                db.execute("DELETE FROM inbox WHERE hub = ? AND instance_id = ?", (self.hub, instance_id))
            else:
                db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def commit_episode(self, commit: EpisodeCommit) -> bool:
        """Apply an episode atomically; False if the instance changed meanwhile (then nothing is applied)."""
        with self._tx() as db:
            row = db.execute("SELECT rev, execution_id FROM instances WHERE hub = ? AND instance_id = ?",
                             (self.hub, commit.instance_id)).fetchone()
            if row is None or row[0] != commit.rev or row[1] != commit.execution_id:
                return False
            execution_id = row[1]
            iid = commit.instance_id
            db.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in commit.consumed])
            if commit.reset_history:
                db.execute("DELETE FROM history WHERE hub = ? AND instance_id = ?", (self.hub, iid))
            else:
                self._append_history(db, iid, commit.events)
            self._update_instance(db, iid, commit.updates, commit.now)
            for task_id, name, input_json in commit.activities:
                db.execute("INSERT INTO activities (hub, instance_id, execution_id, task_id, name, input) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (self.hub, iid, execution_id, task_id, name, input_json))
            for timer_id, fire_at, canceled in commit.timers:
                db.execute("INSERT OR REPLACE INTO timers VALUES (?, ?, ?, ?, ?, ?)",
                           (self.hub, iid, execution_id, timer_id, fire_at, int(canceled)))
            db.executemany("UPDATE timers SET canceled = 1 WHERE hub = ? AND instance_id = ? AND execution_id = ? "
                           "AND timer_id = ?", [(self.hub, iid, execution_id, t) for t in commit.cancel_timers])
            if commit.finished:
                self._end_execution(db, iid, execution_id, commit.keep_raised_events)
            for child in commit.children:
                self._start_child(db, iid, execution_id, child, commit.now)
            if commit.parent_event is not None:
                self._notify_parent(db, iid, commit.parent_event)
            for event in commit.inbox:
                self._enqueue(db, iid, event, commit.updates.get("execution_id", execution_id))
        return True

    # ---- activities and timers -------------------------------------------------------------------

    def pending_activities(self, limit: int, exclude: set[int]) -> list[ActivityWork]:
        """Scheduled activities without a recorded result, oldest first, skipping `exclude`."""
        with self._read() as db:
            rows = db.execute("SELECT id, instance_id, execution_id, task_id, name, input FROM activities "
                              "WHERE hub = ? ORDER BY id LIMIT ?", (self.hub, limit + len(exclude))).fetchall()
        return [ActivityWork(*r) for r in rows if r[0] not in exclude][:limit]

    def mark_dispatched(self, activity_id: int) -> None:
        """Count a dispatch (a count above 1 means the activity ran again after a crash)."""
        with self._tx() as db:
            db.execute("UPDATE activities SET dispatch_count = dispatch_count + 1 WHERE id = ?", (activity_id,))

    def dispatch_counts(self, instance_id: str) -> dict[int, int]:
        """Dispatch count per pending task id of an instance (for inspection and tests)."""
        with self._read() as db:
            rows = db.execute("SELECT task_id, dispatch_count FROM activities WHERE hub = ? AND instance_id = ?",
                              (self.hub, instance_id)).fetchall()
        return {r[0]: r[1] for r in rows}

    def complete_activity(self, activity_id: int, event: dict[str, Any]) -> None:
        """Record an activity's result: drop the work item and message its instance (if still waiting)."""
        with self._tx() as db:
            row = db.execute("SELECT instance_id, execution_id FROM activities WHERE id = ?",
                             (activity_id,)).fetchone()
            if row is None:
                return
            db.execute("DELETE FROM activities WHERE id = ?", (activity_id,))
            if self._is_current(db, row[0], row[1]):
                self._enqueue(db, row[0], event, row[1])

    def fire_due_timers(self, now: datetime) -> int:
        """Turn timers due at `now` into TimerFired messages; returns how many fired."""
        fired = 0
        with self._tx() as db:
            rows = db.execute("SELECT instance_id, execution_id, timer_id, fire_at FROM timers WHERE hub = ? "
                              "AND canceled = 0 AND fire_at <= ? ORDER BY fire_at", (self.hub, format_ts(now)))
            for instance_id, execution_id, timer_id, fire_at in rows.fetchall():
                db.execute("DELETE FROM timers WHERE hub = ? AND instance_id = ? AND execution_id = ? "
                           "AND timer_id = ?", (self.hub, instance_id, execution_id, timer_id))
                if self._is_current(db, instance_id, execution_id):
                    self._enqueue(db, instance_id, ev.timer_fired(now, timer_id, fire_at), execution_id)
                    fired += 1
        return fired

    def next_timer(self) -> datetime | None:
        """When the earliest armed timer is due."""
        with self._read() as db:
            row = db.execute("SELECT min(fire_at) FROM timers WHERE hub = ? AND canceled = 0",
                             (self.hub,)).fetchone()
        return None if row[0] is None else parse_ts(row[0])

    # ---- clock -----------------------------------------------------------------------------------

    def clock_offset(self) -> float:
        """Seconds virtual time is ahead of real time."""
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE hub = ? AND key = 'clock_offset'",
                             (self.hub,)).fetchone()
        return 0.0 if row is None else float(row[0])

    def save_clock_offset(self, seconds: float) -> None:
        """Persist the virtual clock so a resumed host never goes back in time."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, 'clock_offset', ?)", (self.hub, repr(seconds)))

    # ---- recovery --------------------------------------------------------------------------------

    def repair(self, now: datetime) -> dict[str, int]:
        """Re-create missing work of running instances from their histories.

        Returns counts: running instances, pending activities, re-armed timers, reconnected children.
        """
        counts = {"instances": 0, "activities": 0, "timers": 0, "children": 0}
        with self._tx() as db:
            running = [_row_to_instance(r) for r in db.execute(
                f"SELECT * FROM instances WHERE hub = ? AND status IN ({','.join('?' * len(RUNNING_STATES))})",
                (self.hub, *RUNNING_STATES))]
            for instance in running:
                counts["instances"] += 1
                self._repair_instance(db, instance, now, counts)
            counts["activities"] = db.execute("SELECT count(*) FROM activities WHERE hub = ?",
                                              (self.hub,)).fetchone()[0]
        return counts

    def _repair_instance(self, db: sqlite3.Connection, inst: Instance, now: datetime,
                         counts: dict[str, int]) -> None:
        iid, execution_id = inst.instance_id, inst.execution_id
        events = self._history(db, iid)
        inbox = [json.loads(r[0]) for r in db.execute(
            "SELECT event FROM inbox WHERE hub = ? AND instance_id = ?", (self.hub, iid))]
        if not events and not any(e["EventType"] == T.EXECUTION_STARTED for e in inbox):
            self._enqueue(db, iid, ev.execution_started(now, inst.name, inst.input, iid, execution_id,
                                                        self._parent_ref(inst)), execution_id)
        done = {ev.completion_id(e) for e in events + inbox} - {None}
        for event in events:
            task_id = event.get("EventId")
            if event["EventType"] not in ev.SCHEDULING_TYPES or task_id in done:
                continue
            if event["EventType"] == T.TASK_SCHEDULED:
                exists = db.execute("SELECT 1 FROM activities WHERE hub = ? AND instance_id = ? AND execution_id = ? "
                                    "AND task_id = ?", (self.hub, iid, execution_id, task_id)).fetchone()
                if not exists:
                    db.execute("INSERT INTO activities (hub, instance_id, execution_id, task_id, name, input) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (self.hub, iid, execution_id, task_id, event["Name"], event.get("Input")))
            elif event["EventType"] == T.TIMER_CREATED:
                cur = db.execute("INSERT OR IGNORE INTO timers VALUES (?, ?, ?, ?, ?, 0)",
                                 (self.hub, iid, execution_id, task_id, event["FireAt"]))
                counts["timers"] += cur.rowcount
            else:
                counts["children"] += self._reconnect_child(db, inst, event, now)

    def _reconnect_child(self, db: sqlite3.Connection, parent: Instance, created: dict[str, Any],
                         now: datetime) -> int:
        child = self._instance(db, created["InstanceId"])
        linked = (child is not None and child.parent_instance_id == parent.instance_id
                  and child.parent_execution_id == parent.execution_id
                  and child.parent_task_id == created["EventId"])
        if not linked:
            if child is not None and child.status in RUNNING_STATES:
                return 0
            self._start_child(db, parent.instance_id, parent.execution_id,
                              ChildStart(created["InstanceId"], created["Name"], created.get("Input"),
                                         created["EventId"]), now)
            return 1
        assert child is not None
        if child.status in TERMINAL_STATES:
            self._notify_parent(db, child.instance_id, _outcome_event(child, now))
            return 1
        return 0

    # ---- helpers ---------------------------------------------------------------------------------

    def _instance(self, db: sqlite3.Connection, instance_id: str) -> Instance | None:
        row = db.execute("SELECT * FROM instances WHERE hub = ? AND instance_id = ?",
                         (self.hub, instance_id)).fetchone()
        return None if row is None else _row_to_instance(row)

    def _history(self, db: sqlite3.Connection, instance_id: str) -> list[dict[str, Any]]:
        rows = db.execute("SELECT event FROM history WHERE hub = ? AND instance_id = ? ORDER BY seq",
                          (self.hub, instance_id))
        return [json.loads(r[0]) for r in rows]

    def _append_history(self, db: sqlite3.Connection, instance_id: str, events: list[dict[str, Any]]) -> None:
        start = db.execute("SELECT coalesce(max(seq) + 1, 0) FROM history WHERE hub = ? AND instance_id = ?",
                           (self.hub, instance_id)).fetchone()[0]
        db.executemany("INSERT INTO history VALUES (?, ?, ?, ?)",
                       [(self.hub, instance_id, start + i, json.dumps(e)) for i, e in enumerate(events)])

    def _enqueue(self, db: sqlite3.Connection, instance_id: str, event: dict[str, Any],
                 execution_id: str | None) -> None:
        db.execute("INSERT INTO inbox (hub, instance_id, execution_id, event_type, event) VALUES (?, ?, ?, ?, ?)",
                   (self.hub, instance_id, execution_id, event["EventType"], json.dumps(event)))

    def _is_current(self, db: sqlite3.Connection, instance_id: str, execution_id: str) -> bool:
        row = db.execute("SELECT status, execution_id FROM instances WHERE hub = ? AND instance_id = ?",
                         (self.hub, instance_id)).fetchone()
        return row is not None and row[0] in RUNNING_STATES and row[1] == execution_id

    def _update_instance(self, db: sqlite3.Connection, instance_id: str, updates: dict[str, Any],
                         now: datetime) -> None:
        columns = {**updates, "last_updated_time": format_ts(now)}
        assignments = ", ".join(f"{k} = ?" for k in columns)
        db.execute(f"UPDATE instances SET {assignments}, rev = rev + 1 WHERE hub = ? AND instance_id = ?",
                   (*columns.values(), self.hub, instance_id))

    def _insert_instance(self, db: sqlite3.Connection, instance_id: str, name: str, input_json: str | None,
                         execution_id: str, now: datetime, parent: tuple[str, str, int] | None) -> None:
        self._forget(db, instance_id, keep_instance=False)
        stamp = format_ts(now)
        db.execute("INSERT INTO instances (hub, instance_id, name, execution_id, status, input, created_time, "
                   "last_updated_time, parent_instance_id, parent_execution_id, parent_task_id) "
                   "VALUES (?, ?, ?, ?, 'Pending', ?, ?, ?, ?, ?, ?)",
                   (self.hub, instance_id, name, execution_id, input_json, stamp, stamp,
                    *(parent or (None, None, None))))
        parent_ref = None if parent is None else {"OrchestrationInstance": {"InstanceId": parent[0]},
                                                  "TaskScheduleId": parent[2]}
        self._enqueue(db, instance_id, ev.execution_started(now, name, input_json, instance_id, execution_id,
                                                            parent_ref), execution_id)

    def _forget(self, db: sqlite3.Connection, instance_id: str, *, keep_instance: bool) -> None:
        for table in ("history", "inbox", "timers", "activities"):
            db.execute(f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", (self.hub, instance_id))
        if not keep_instance:
            db.execute("DELETE FROM instances WHERE hub = ? AND instance_id = ?", (self.hub, instance_id))

    def _end_execution(self, db: sqlite3.Connection, instance_id: str, execution_id: str,
                       keep_raised_events: bool) -> None:
        db.execute("DELETE FROM timers WHERE hub = ? AND instance_id = ? AND execution_id = ?",
                   (self.hub, instance_id, execution_id))
        if keep_raised_events:
            # continue_as_new: external events not delivered yet go to the next execution.
            db.execute("DELETE FROM inbox WHERE hub = ? AND instance_id = ? AND event_type != ?",
                       (self.hub, instance_id, int(T.EVENT_RAISED)))
            db.execute("UPDATE inbox SET execution_id = NULL WHERE hub = ? AND instance_id = ?",
                       (self.hub, instance_id))
        else:
            db.execute("DELETE FROM inbox WHERE hub = ? AND instance_id = ?", (self.hub, instance_id))

    def _start_child(self, db: sqlite3.Connection, parent_id: str, parent_execution: str, child: ChildStart,
                     now: datetime) -> None:
        existing = self._instance(db, child.instance_id)
        if existing is not None and existing.status in RUNNING_STATES:
            reason = f"An orchestration instance with the ID '{child.instance_id}' is already {existing.status}."
            if self._is_current(db, parent_id, parent_execution):
                self._enqueue(db, parent_id, ev.sub_failed(now, child.task_id, reason, None), parent_execution)
            return
        self._insert_instance(db, child.instance_id, child.name, child.input, uuid.uuid4().hex, now,
                              (parent_id, parent_execution, child.task_id))

    def _notify_parent(self, db: sqlite3.Connection, child_id: str, event: dict[str, Any]) -> None:
        child = self._instance(db, child_id)
        if child is None or child.parent_instance_id is None or child.parent_execution_id is None:
            return
        if self._is_current(db, child.parent_instance_id, child.parent_execution_id):
            self._enqueue(db, child.parent_instance_id, event, child.parent_execution_id)

    @staticmethod
    def _parent_ref(inst: Instance) -> dict[str, Any] | None:
        if inst.parent_instance_id is None:
            return None
        return {"OrchestrationInstance": {"InstanceId": inst.parent_instance_id},
                "TaskScheduleId": inst.parent_task_id}


def _outcome_event(child: Instance, now: datetime) -> dict[str, Any]:
    """The message a finished child sends its parent."""
    assert child.parent_task_id is not None
    if child.status == "Completed":
        return ev.sub_completed(now, child.parent_task_id, child.output or "null")
    reason = json.loads(child.output) if child.output else child.status
    return ev.sub_failed(now, child.parent_task_id, str(reason), child.error)


def _row_to_instance(row: sqlite3.Row) -> Instance:
    fields = dict(row)
    fields.pop("hub")
    return Instance(**fields)
