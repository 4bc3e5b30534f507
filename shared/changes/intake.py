"""Webhook intake, the part every source shares: after a plugin has verified a delivery's signature and read its
events (plugins/<name>/webhooks.py), drop what must not start a sync (stale, from the future, already seen, for no
connection), put one change notice per connection on the queue and say what happened.

Nothing here trusts an event beyond "something of this connection changed": the notices carry the plugin's hints,
and the sync reads the real records. Each refusal or drop is one log line (source, event id, reason), never the
body nor a header. Accepted event ids are recorded in the same transaction the notices are queued in, so a queue
failure (503: the source retries) leaves no id behind that would make the retry look like a repeat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pydantic import BaseModel

from shared.changes.notice import ChangeNotice
from shared.changes.queue import enqueue
from shared.core.config import int_setting
from shared.db.connections import Connection, enabled_connections

log = logging.getLogger(__name__)

# Webhook deliveries are small (a batch of events, or one); the API's own cap is the same.
MAX_BODY_BYTES = 64 * 1024
# How old an event may be and still start a sync. Sources retry a failed delivery for a while (one for
# half an hour, another for hours); an older event is a replay or news the next scheduled sync brings anyway.
REPLAY_WINDOW_SETTING = "WEBHOOK_REPLAY_WINDOW_SECONDS"
DEFAULT_REPLAY_WINDOW = 6 * 3600
# Clocks differ: an event this far ahead of ours is still taken.
FUTURE_SKEW = dt.timedelta(minutes=5)
# Seen ids are kept for the window and this margin (an older event is refused by its time first).
SEEN_MARGIN = dt.timedelta(hours=1)
PRUNE_EVERY_SECONDS = 60.0
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:@/+=-]")

_prune_lock = threading.Lock()
_last_prune = 0.0


class Refused(Exception):
    """A whole delivery refused before any of its events is taken; the route answers `status` with `code`."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class SourceEvent:
    """One verified event as its plugin read it: its id and time, the connections it concerns, the hints."""

    event_id: str
    occurred_at: dt.datetime
    connection_ids: tuple[str, ...]
    changed: tuple[str, ...] = ()  # empty: "something changed", an incremental run of everything


@dataclass(frozen=True)
class Dropped:
    event_id: str
    reason: str


@dataclass
class Batch:
    """What a plugin made of a delivery: the events it could map to connections and those it dropped."""

    events: list[SourceEvent] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)


class DroppedEvent(BaseModel):
    event_id: str
    reason: str


class Receipt(BaseModel):
    """The answer to a delivery that was taken: how many events started a sync, how many notices were queued
    (one per connection), and which events were dropped and why (a dropped event is not worth a retry)."""

    accepted: int
    queued: int
    dropped: list[DroppedEvent]


def replay_window() -> dt.timedelta:
    return dt.timedelta(seconds=int_setting(REPLAY_WINDOW_SETTING, DEFAULT_REPLAY_WINDOW, minimum=60, unit=" seconds"))


def safe_id(value: Any) -> str:
    """An event id as it may appear in a log line or an answer: short, printable, nothing a log could misread."""
    return _SAFE_ID.sub("?", str(value))[:100] if value not in (None, "") else "-"


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "body_too_large", f"The webhook body is over {MAX_BODY_BYTES} bytes")


@contextlib.contextmanager
def refusals(source: str) -> Iterator[None]:
    """Log a refused delivery (one line: status, code, reason) on its way to the route."""
    try:
        yield
    except Refused as exc:
        log.warning("webhook %s refused: %s %s: %s", source, exc.status, exc.code, exc.message)
        raise


def _default_db() -> Any:
    from shared.db.pool import get_pool

    return get_pool().connection()


def take(source: str, read: Callable[[list[Connection]], Batch], *,
         open_db: Callable[[], Any] | None = None, queue: Any = None,
         now: dt.datetime | None = None) -> Receipt:
    """Map a verified delivery to the enabled connections of `source` (`read`, the plugin's), drop what must not
    start a sync, queue one notice per connection; Refused(503) when the database or the queue is unavailable."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        window = replay_window()
    except ValueError as exc:  # a setting the operator must fix; the source retries meanwhile
        raise Refused(503, "webhooks_not_configured", str(exc)) from None
    try:
        with (open_db or _default_db)() as db, db.transaction():
            batch = read(enabled_connections(db, source))
            fresh, dropped = _timely(batch, now, window)
            new = _record_seen(db, source, [event.event_id for event in fresh], now)
            accepted = []
            for event in fresh:
                if event.event_id in new:
                    new.discard(event.event_id)  # a second copy in the same delivery is a repeat too
                    accepted.append(event)
                else:
                    dropped.append(Dropped(event.event_id, "repeated event: already taken"))
            notices = _notices(source, accepted, now)
            try:
                queued = enqueue(notices, queue) if notices else 0
            except Exception as exc:
                # Rolls the seen ids back with the transaction: the source's retry is taken, not called a repeat.
                raise Refused(503, "queue_unavailable", f"The change queue is unavailable ({type(exc).__name__}); "
                              "retry later", headers={"Retry-After": "30"}) from None
            _maybe_prune(db, now, window)
    except (psycopg.Error, OSError) as exc:  # the pool's timeout is a psycopg.OperationalError too
        raise Refused(503, "database_unavailable", f"The database is unavailable ({type(exc).__name__}); retry "
                      "later", headers={"Retry-After": "30"}) from None
    for drop in dropped:
        log.warning("webhook %s: event %s dropped: %s", source, safe_id(drop.event_id), drop.reason)
    log.info("webhook %s: %d events accepted, %d notices queued, %d dropped", source, len(accepted), queued,
             len(dropped))
    return Receipt(accepted=len(accepted), queued=queued,
                   dropped=[DroppedEvent(event_id=safe_id(d.event_id), reason=d.reason) for d in dropped])


def _timely(batch: Batch, now: dt.datetime, window: dt.timedelta) -> tuple[list[SourceEvent], list[Dropped]]:
    fresh, dropped = [], list(batch.dropped)
    for event in batch.events:
        if not event.connection_ids:
            dropped.append(Dropped(event.event_id, "no connection syncs what it concerns"))
        elif now - event.occurred_at > window:
            dropped.append(Dropped(event.event_id, f"older than the replay window ({int(window.total_seconds())} s)"))
        elif event.occurred_at - now > FUTURE_SKEW:
            dropped.append(Dropped(event.event_id, "its time is in the future"))
        else:
            fresh.append(event)
    return fresh, dropped


def _record_seen(db: psycopg.Connection, source: str, event_ids: list[str], now: dt.datetime) -> set[str]:
    """The ids not seen before, now recorded (a concurrent delivery of the same id waits for this transaction)."""
    if not event_ids:
        return set()
    rows = db.execute("""INSERT INTO webhook_events_seen (source, event_id, seen_at)
                         SELECT %s, id, %s FROM unnest(%s::text[]) AS id
                         ON CONFLICT DO NOTHING RETURNING event_id""",
                      (source, now, sorted(set(event_ids)))).fetchall()
    return {row[0] for row in rows}


def prune_seen(db: psycopg.Connection, now: dt.datetime, window: dt.timedelta) -> int:
    """Forget ids older than the window and its margin (their events are refused by their time anyway)."""
    return db.execute("DELETE FROM webhook_events_seen WHERE seen_at < %s", (now - window - SEEN_MARGIN,)).rowcount


def _maybe_prune(db: psycopg.Connection, now: dt.datetime, window: dt.timedelta) -> None:
    # At most once a minute per process: a busy webhook does not turn every delivery into a table scan.
    global _last_prune
    with _prune_lock:
        if time.monotonic() - _last_prune < PRUNE_EVERY_SECONDS:
            return
        _last_prune = time.monotonic()
    prune_seen(db, now, window)


def _notices(source: str, events: list[SourceEvent], now: dt.datetime) -> list[ChangeNotice]:
    """One notice per connection: a delivery naming fifty records of one account is one queued message.

    Hints merge; an event without hints means "everything", and then so does the notice. A notice of one event
    carries that event's id; of several, an id derived from all of theirs."""
    by_connection: dict[str, list[SourceEvent]] = {}
    for event in events:
        for connection_id in dict.fromkeys(event.connection_ids):
            by_connection.setdefault(connection_id, []).append(event)
    notices = []
    for connection_id, mine in by_connection.items():
        everything = any(not event.changed for event in mine)
        changed = [] if everything else sorted({hint for event in mine for hint in event.changed})
        if len(mine) == 1:
            event_id = mine[0].event_id
        else:
            digest = hashlib.sha256("\n".join(sorted(e.event_id for e in mine)).encode()).hexdigest()[:24]
            event_id = f"batch-{len(mine)}-{digest}"
        notices.append(ChangeNotice(connection_id=connection_id, source=source, event_id=event_id,
                                    received_at=now.isoformat(), changed=changed))
    return notices


@dataclass(frozen=True)
class Target:
    """Where a webhook route takes deliveries to: the database (None: the API's pool) and the change queue (None:
    the app's). A route dependency, so a test can lend its own database and queue."""

    open_db: Callable[[], Any] | None = None
    queue: Any = None


def default_target() -> Target:
    return Target()
