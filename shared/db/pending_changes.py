"""Pending changes per connection: what the change queue's notices announced, until a debounced sync claims it.

Who drives a connection's event-driven syncs is decided under the connection's row lock (migration 0033):
- note() (the queue trigger) adds a notice and, when nobody drives the connection, makes a new driver of it;
- claim() (the driver, before a run) takes everything pending, together with the connection's lease;
- release() (the driver, after a run) lets go of the connection only when nothing is pending, else it goes on.
So a notice arriving while the driver releases is either seen by that driver or starts the next one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from shared.changes.notice import ChangeNotice

# Distinct hints kept per connection; past this many a run reads every stream (a notice's hints name streams or
# boards: this many is already most of a connection, and it bounds the orchestration input).
MAX_HINTS = 200


def driver_instance_id(connection_id: str, generation: int) -> str:
    """The orchestration instance that drives the connection's event-driven syncs, once per generation."""
    return f"changes-{connection_id}-{generation}"


@dataclass(frozen=True)
class Noted:
    """After a notice: the instance to start now (it made a new driver), or the driver already at work."""

    start: str | None
    driver: str
    driving_since: dt.datetime


@dataclass(frozen=True)
class Pending:
    """What waits for the connection's next run."""

    events: int
    changed: list[str]
    everything: bool
    first_event_at: dt.datetime | None
    last_event_at: dt.datetime | None

    def hints(self) -> list[str]:
        """The run's `changed`: empty when a run of everything is due."""
        return [] if self.everything else self.changed


def _merge(changed: list[str], everything: bool, hints: list[str]) -> tuple[list[str], bool]:
    if everything or not hints:
        return [], True
    merged = sorted(set(changed) | set(hints))
    if len(merged) > MAX_HINTS:
        return [], True
    return merged, False


def note(conn: psycopg.Connection, notice: ChangeNotice, received_at: dt.datetime) -> Noted:
    """Add the notice to the connection's pending changes; start a driver if none drives it. Call in a transaction."""
    conn.execute("INSERT INTO pending_changes (connection_id) VALUES (%s) ON CONFLICT DO NOTHING",
                 (notice.connection_id,))
    changed, everything, events, state, driver, generation, since = conn.execute(
        """SELECT changed, everything, events, state, driver, generation, driving_since
           FROM pending_changes WHERE connection_id = %s FOR UPDATE""", (notice.connection_id,)).fetchone()
    changed, everything = _merge(changed if events else [], everything and events > 0, notice.changed)
    start = None
    if state == "idle":
        generation += 1
        driver = start = driver_instance_id(notice.connection_id, generation)
    row = conn.execute(
        """UPDATE pending_changes
           SET changed = %s, everything = %s, events = events + 1,
               first_event_at = CASE WHEN events = 0 THEN %s ELSE least(first_event_at, %s) END,
               last_event_at = CASE WHEN events = 0 THEN %s ELSE greatest(last_event_at, %s) END,
               state = 'driving', driver = %s, generation = %s,
               driving_since = CASE WHEN state = 'idle' THEN now() ELSE driving_since END, updated_at = now()
           WHERE connection_id = %s RETURNING driving_since""",
        (changed, everything, received_at, received_at, received_at, received_at, driver, generation,
         notice.connection_id)).fetchone()
    return Noted(start, driver, row[0] if start else since)


def replace_driver(conn: psycopg.Connection, connection_id: str, dead: str) -> str | None:
    """Make a new driver in place of `dead` (an instance that ended without releasing the connection).

    Returns the instance to start, or None when `dead` no longer drives it (another notice replaced it, or it
    released the connection after all). Call in a transaction."""
    row = conn.execute("SELECT generation FROM pending_changes WHERE connection_id = %s AND driver = %s FOR UPDATE",
                       (connection_id, dead)).fetchone()
    if row is None:
        return None
    driver = driver_instance_id(connection_id, row[0] + 1)
    conn.execute("""UPDATE pending_changes SET generation = generation + 1, driver = %s, driving_since = now(),
                           updated_at = now() WHERE connection_id = %s""", (driver, connection_id))
    return driver


def pending(conn: psycopg.Connection, connection_id: str) -> Pending:
    """What waits for the connection's next run (nothing, for a connection without notices)."""
    row = conn.execute(
        """SELECT events, changed, everything, first_event_at, last_event_at FROM pending_changes
           WHERE connection_id = %s""", (connection_id,)).fetchone()
    return Pending(*row) if row else Pending(0, [], False, None, None)


def drives(conn: psycopg.Connection, connection_id: str, instance_id: str) -> bool:
    """Whether the instance is the connection's driver; locks the row until the transaction ends."""
    row = conn.execute("SELECT driver FROM pending_changes WHERE connection_id = %s FOR UPDATE",
                       (connection_id,)).fetchone()
    return row is not None and row[0] == instance_id


def take(conn: psycopg.Connection, connection_id: str) -> Pending:
    """Everything pending, emptied from the row (call after drives(), in its transaction)."""
    taken = pending(conn, connection_id)
    conn.execute(
        """UPDATE pending_changes SET changed = '{}', everything = false, events = 0, first_event_at = NULL,
                  last_event_at = NULL, updated_at = now() WHERE connection_id = %s""", (connection_id,))
    return taken


def release(conn: psycopg.Connection, connection_id: str, instance_id: str) -> bool:
    """Let go of the connection if nothing is pending; False when notices arrived meanwhile (a follow-up run is due)
    or when the instance does not drive it. Call in a transaction."""
    row = conn.execute(
        """UPDATE pending_changes SET state = 'idle', driver = NULL, driving_since = NULL, updated_at = now()
           WHERE connection_id = %s AND driver = %s AND events = 0 RETURNING 1""",
        (connection_id, instance_id)).fetchone()
    return row is not None


def abandon(conn: psycopg.Connection, connection_id: str, driver: str) -> None:
    """Undo a driver that could not be started: nobody drives the connection, its notices stay pending (the next
    notice, or the retried one, starts a driver). Call in a transaction."""
    conn.execute("""UPDATE pending_changes SET state = 'idle', driver = NULL, driving_since = NULL, updated_at = now()
                    WHERE connection_id = %s AND driver = %s""", (connection_id, driver))
