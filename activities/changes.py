"""Activities of the change driver (orchestrators/sync_on_change.py): count, claim and release a connection's
pending changes (shared/db/pending_changes.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import psycopg

from shared.core.messages import ChangeKey, ChangesClaimed, ChangesReleased, ClaimChanges, PendingEvents
from shared.db import leases, pending_changes, runs
from shared.db.connections import find_connection
from shared.db.pool import lend

log = logging.getLogger(__name__)


def count_changes(request: dict[str, Any]) -> dict[str, Any]:
    key = ChangeKey.from_json(request)
    with lend() as conn:
        return PendingEvents(pending_changes.pending(conn, key.connection_id).events).to_json()


def claim_changes(request: dict[str, Any]) -> dict[str, Any]:
    """Take the pending changes for one run, in one transaction with the run's record and the connection's lease.

    Nothing is taken when another run holds the connection (the notices wait for the next try), and nothing but the
    run's record and lease is written when the connection can be claimed: begin_sync then finds both (idempotent)."""
    claim = ClaimChanges.from_json(request)
    cid = claim.connection_id
    with lend() as conn, conn.transaction():
        if not pending_changes.drives(conn, cid, claim.instance_id):
            return ChangesClaimed("not_driver").to_json()
        waiting = pending_changes.pending(conn, cid)
        if waiting.events == 0:
            return ChangesClaimed("nothing").to_json()
        found = find_connection(conn, cid)
        if found is None or not found[1]:
            # Disabled (or removed) since its notices were accepted: they are dropped, as new ones would be.
            pending_changes.take(conn, cid)
            log.warning("dropped %d change notice(s) for connection %s: it is %s", waiting.events, cid,
                        "disabled" if found else "gone")
            return ChangesClaimed("nothing").to_json()
        with conn.transaction() as attempt:
            runs.begin_run(conn, claim.run_id, cid, "incremental", "webhook", claim.run_instance_id,
                           started_by=f"webhook:{found[0].plugin}")
            lease = leases.claim(conn, cid, claim.run_id, claim.run_instance_id)
            if not lease.granted:
                raise psycopg.Rollback(attempt)  # no run recorded, nothing taken
        if not lease.granted:
            return ChangesClaimed("busy", holder=lease.message()).to_json()
        taken = pending_changes.take(conn, cid)
        runs.add_notes(conn, claim.run_id, cid, [
            *([lease.message()] if lease.taken_over else []),
            f"started by {taken.events} change notice(s) received {_span(taken)}; "
            + (f"changed: {', '.join(taken.changed)}" if taken.hints() else "changed: not named (every stream)")])
    return ChangesClaimed("claimed", taken.hints(), taken.events).to_json()


def release_changes(request: dict[str, Any]) -> dict[str, Any]:
    key = ChangeKey.from_json(request)
    with lend() as conn, conn.transaction():
        return ChangesReleased(pending_changes.release(conn, key.connection_id, key.instance_id)).to_json()


def _span(taken: pending_changes.Pending) -> str:
    first, last = taken.first_event_at, taken.last_event_at
    if first is None or last is None:
        return "at an unknown time"
    first, last = (moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (first, last))
    return f"at {first}" if first == last else f"from {first} to {last}"
