"""The change queue's trigger: each notice a webhook left becomes pending for its connection, and the connection's
one driver (orchestrators/sync_on_change.py) is started when nobody drives it yet.

A message that is not a notice, or names a connection that is unknown, disabled or of another source, is dropped with
a log line: retrying it could never succeed, so it must neither loop to the poison queue nor stop the trigger. Only
a failure that may pass (the database, the task hub) raises, and the host retries the message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from api.blueprint import bp
from shared.changes.notice import ChangeNotice
from shared.changes.queue import QUEUE_CONNECTION, QUEUE_NAME, decode
from shared.core.config import int_setting
from shared.core.convert import as_instant
from shared.core.messages import ChangeDrive
from shared.db import pending_changes
from shared.db.connect import connect
from shared.db.connections import find_connection

log = logging.getLogger(__name__)

# The quiet time that ends a burst of notices, and the longest a notice waits for its run while notices keep coming
# (also how often a connection another run holds is tried again).
DEBOUNCE_SETTING = "BIZ_CHANGE_DEBOUNCE_SECONDS"
MAX_WAIT_SETTING = "BIZ_CHANGE_MAX_WAIT_SECONDS"
DEFAULT_DEBOUNCE_SECONDS = 2
DEFAULT_MAX_WAIT_SECONDS = 60
ORCHESTRATOR = "sync_on_change"
# A driver recorded but not (yet) visible in the task hub is taken for one still being started for this long.
START_GRACE = dt.timedelta(minutes=1)
ENDED = {df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed,
         df.OrchestrationRuntimeStatus.Terminated, df.OrchestrationRuntimeStatus.Canceled}
_CONNECTION_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Longest hint (and source, event id, time) a notice may carry: hints name streams or boards, nothing longer.
MAX_HINT_LENGTH = 200


class MalformedNotice(ValueError):
    """A queue message that is not a change notice."""


def read_notice(body: bytes) -> ChangeNotice:
    """The notice in a message body (the trigger has base64-decoded it), checked field by field."""
    try:
        notice = decode(body)
    except (ValueError, TypeError) as exc:  # JSON, UTF-8 and MessageError are all ValueErrors
        raise MalformedNotice(f"not a change notice: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(notice.connection_id, str) or not _CONNECTION_ID.fullmatch(notice.connection_id):
        raise MalformedNotice("connection_id is not a connection id")
    for name in ("source", "event_id", "received_at"):
        value = getattr(notice, name)
        if not isinstance(value, str) or not 0 < len(value) <= MAX_HINT_LENGTH:
            raise MalformedNotice(f"{name} must be text of 1-{MAX_HINT_LENGTH} characters")
    if not isinstance(notice.changed, list) or not all(
            isinstance(h, str) and 0 < len(h) <= MAX_HINT_LENGTH for h in notice.changed):
        raise MalformedNotice(f"changed must be a list of hints (text of 1-{MAX_HINT_LENGTH} characters)")
    return notice


def debounce() -> tuple[int, int]:
    """(quiet window, max wait) in seconds, from the settings."""
    window = int_setting(DEBOUNCE_SETTING, DEFAULT_DEBOUNCE_SECONDS)
    max_wait = int_setting(MAX_WAIT_SETTING, DEFAULT_MAX_WAIT_SECONDS)
    if window < 0 or max_wait < window:
        raise ValueError(f"{DEBOUNCE_SETTING} must be 0 or more and {MAX_WAIT_SETTING} at least as long "
                         f"(got {window} and {max_wait})")
    return window, max_wait


def _received(notice: ChangeNotice) -> dt.datetime:
    try:
        return as_instant(notice.received_at) or dt.datetime.now(dt.UTC)
    except ValueError:
        return dt.datetime.now(dt.UTC)


def record_notice(notice: ChangeNotice) -> pending_changes.Noted | None:
    """The notice pending for its connection; None when it is dropped (the connection cannot take it)."""
    with connect() as conn, conn.transaction():
        found = find_connection(conn, notice.connection_id)
        if found is None or not found[1] or found[0].plugin != notice.source:
            why = ("unknown" if found is None else "disabled" if not found[1]
                   else f"a {found[0].plugin} connection, not {notice.source}")
            log.warning("dropped change notice %s for connection %s: the connection is %s",
                        notice.event_id, notice.connection_id, why)
            return None
        return pending_changes.note(conn, notice, _received(notice))


def _replace(connection_id: str, dead: str) -> str | None:
    with connect() as conn, conn.transaction():
        return pending_changes.replace_driver(conn, connection_id, dead)


def _abandon(connection_id: str, driver: str) -> None:
    with connect() as conn, conn.transaction():
        pending_changes.abandon(conn, connection_id, driver)


def _ended(status: Any, driving_since: dt.datetime) -> bool:
    """Whether the recorded driver is gone: it ended, or the task hub never heard of it past the start grace."""
    runtime = getattr(status, "runtime_status", None) if status else None
    if runtime is None:
        return dt.datetime.now(dt.UTC) - driving_since > START_GRACE
    return runtime in ENDED


async def _start(client: df.DurableOrchestrationClient, connection_id: str, instance_id: str) -> None:
    window, max_wait = debounce()
    try:
        await client.start_new(ORCHESTRATOR, instance_id, ChangeDrive(connection_id, window, max_wait).to_json())
    except Exception:
        # Nobody drives the connection then: the retried message (or the next notice) starts a driver.
        await asyncio.to_thread(_abandon, connection_id, instance_id)
        raise
    log.info("change driver %s started for connection %s", instance_id, connection_id)


@bp.queue_trigger(arg_name="message", queue_name=QUEUE_NAME, connection=QUEUE_CONNECTION)
@bp.durable_client_input(client_name="client")
async def dispatch_change(message: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    body = message.get_body()
    try:
        notice = read_notice(body)
    except MalformedNotice as exc:
        log.warning("dropped a malformed change notice (message %s, %d bytes): %s", message.id, len(body), exc)
        return
    noted = await asyncio.to_thread(record_notice, notice)
    if noted is None:
        return
    if noted.start is not None:
        await _start(client, notice.connection_id, noted.start)
        return
    # A driver is at work and will see this notice, unless it ended without letting go (a crash, a terminate).
    if _ended(await client.get_status(noted.driver), noted.driving_since):
        replacement = await asyncio.to_thread(_replace, notice.connection_id, noted.driver)
        if replacement is not None:
            log.warning("change driver %s of connection %s ended without letting go; starting %s",
                        noted.driver, notice.connection_id, replacement)
            await _start(client, notice.connection_id, replacement)
