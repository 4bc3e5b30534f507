"""The sync audit: one sync_runs row per run, one sync_run_streams row per stream of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.core.messages import LOAD_COUNTERS

MAX_ERROR_TEXT = 2000
COUNTERS = (*LOAD_COUNTERS, "api_calls", "throttle_waits")


def begin_run(conn: psycopg.Connection, run_id: str, scope: str, mode: str, trigger: str, instance_id: str,
              started_by: str | None = None, since: dt.date | str | None = None) -> None:
    """Idempotent: the API records the run (with who started it) before the orchestration starts, and begin_sync
    (or a retry of it) finds it there. `since`: a backfill's start date (and only a backfill's)."""
    conn.execute(
        """INSERT INTO sync_runs (run_id, scope, mode, trigger, instance_id, started_by, since)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING""",
        (run_id, scope, mode, trigger, instance_id, started_by, since),
    )


def begin_stream(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> None:
    conn.execute(
        """INSERT INTO sync_run_streams (run_id, connection_id, stream) VALUES (%s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (run_id, connection_id, stream),
    )


def add_counts(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str, **deltas: int) -> None:
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"Unknown sync counters: {sorted(unknown)}")
    if not deltas:
        return
    assignments = ", ".join(f"{name} = {name} + %({name})s" for name in deltas)
    conn.execute(
        # Column names come from COUNTERS (checked above), values are parameters.
        f"UPDATE sync_run_streams SET {assignments} "
        "WHERE run_id = %(run_id)s AND connection_id = %(connection_id)s AND stream = %(stream)s",
        {**deltas, "run_id": run_id, "connection_id": connection_id, "stream": stream},
    )


def end_stream(
    conn: psycopg.Connection, run_id: str, connection_id: str, stream: str, status: str, error: str | None = None
) -> None:
    conn.execute(
        """UPDATE sync_run_streams SET status = %s, error = %s, ended_at = now()
           WHERE run_id = %s AND connection_id = %s AND stream = %s""",
        (status, error[:MAX_ERROR_TEXT] if error else None, run_id, connection_id, stream),
    )


def stream_status(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> str | None:
    """The stream's status in the run ('running', 'succeeded', 'failed'); None when the run did not plan it."""
    row = conn.execute("SELECT status FROM sync_run_streams WHERE run_id = %s AND connection_id = %s AND stream = %s",
                       (run_id, connection_id, stream)).fetchone()
    return row[0] if row else None


def others_running(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> bool:
    """Whether another stream of the connection planned in this run has not ended yet (nor been recorded as
    ended: a stream whose orchestration was lost stays running, and the answer stays yes)."""
    return conn.execute(
        """SELECT EXISTS (SELECT 1 FROM sync_run_streams WHERE run_id = %s AND connection_id = %s AND stream <> %s
                                                          AND status = 'running')""",
        (run_id, connection_id, stream)).fetchone()[0]


def mark_chains_ended(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> None:
    """The stream has no more than its last read left: its chains have all ended, its source counted its next read
    as its last, or it has read everything (activities/aggregates.py refresh_ahead)."""
    conn.execute("""UPDATE sync_run_streams SET chains_ended_at = coalesce(chains_ended_at, now())
                    WHERE run_id = %s AND connection_id = %s AND stream = %s""", (run_id, connection_id, stream))


def others_reading(conn: psycopg.Connection, run_id: str, connection_id: str, stream: str) -> bool:
    """Whether another stream of the connection in this run is still running with more than its last read left
    (mark_chains_ended; a stream not so marked counts as reading until it ends)."""
    return conn.execute(
        """SELECT EXISTS (SELECT 1 FROM sync_run_streams WHERE run_id = %s AND connection_id = %s AND stream <> %s
                                                          AND status = 'running' AND chains_ended_at IS NULL)""",
        (run_id, connection_id, stream)).fetchone()[0]


def ended_streams(conn: psycopg.Connection, run_id: str, connection_id: str, status: str) -> dict[str, str | None]:
    """The streams of one connection in a run that ended with `status`, with their errors: what a sharded phase's
    orchestrations do not carry (they count the streams, and name only the first failures)."""
    rows = conn.execute(
        "SELECT stream, error FROM sync_run_streams WHERE run_id = %s AND connection_id = %s AND status = %s "
        "ORDER BY stream", (run_id, connection_id, status)).fetchall()
    return {stream: error for stream, error in rows}


def end_run(conn: psycopg.Connection, run_id: str, status: str, errors: list[dict[str, Any]]) -> None:
    conn.execute(
        # A run a caller cancelled stays cancelled, whatever its last activity reports.
        "UPDATE sync_runs SET status = %s, errors = %s, ended_at = now() WHERE run_id = %s AND status <> 'cancelled'",
        (status, Jsonb(errors), run_id),
    )


def stream_rows(conn: psycopg.Connection, run_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM sync_run_streams WHERE run_id = %s ORDER BY connection_id, stream", (run_id,)
        ).fetchall()


def run_summary(conn: psycopg.Connection, run_id: str) -> dict[str, Any] | None:
    """The run with its per-stream counts and totals, as the API and the demo show it."""
    with conn.cursor(row_factory=dict_row) as cur:
        run = cur.execute("SELECT * FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone()
    if run is None:
        return None
    streams = stream_rows(conn, run_id)
    run["streams"] = streams
    run["totals"] = {name: sum(s[name] for s in streams) for name in COUNTERS}
    return run


def count_api_calls(conn: psycopg.Connection, connection_id: str, plugin: str, calls: int, meter: str = "") -> None:
    """Add to this month's metered call count of the connection under `meter` (who meters them, plugin.meter())."""
    if calls <= 0:
        return
    conn.execute(
        """INSERT INTO api_usage (connection_id, plugin, month, calls, meter)
           VALUES (%s, %s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, %s, %s)
           ON CONFLICT (connection_id, month, meter) DO UPDATE
           SET calls = api_usage.calls + EXCLUDED.calls, updated_at = now()""",
        (connection_id, plugin, calls, meter),
    )


def calls_this_month(conn: psycopg.Connection, plugin: str, meter: str | None = None) -> int:
    """Metered calls this month of every connection of a plugin, or only of those metered by `meter` (quotas are
    per developer app or account). Calls counted before meters existed (meter '') count against every meter: an
    overestimate only makes the planner careful, an underestimate would let a quota run out."""
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM api_usage "
        "WHERE plugin = %s AND (%s::text IS NULL OR meter = %s OR meter = '') "
        "AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date",
        (plugin, meter, meter),
    ).fetchone()
    return int(row[0])


def connection_calls_this_month(conn: psycopg.Connection, connection_id: str) -> int:
    """One connection's own metered calls this month, whoever metered them."""
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM api_usage "
        "WHERE connection_id = %s AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date",
        (connection_id,),
    ).fetchone()
    return int(row[0])


def add_notes(conn: psycopg.Connection, run_id: str, connection_id: str, notes: list[str]) -> None:
    """Append a connection's plan notes to the run."""
    if not notes:
        return
    conn.execute(
        "UPDATE sync_runs SET notes = notes || %s WHERE run_id = %s",
        (Jsonb([{"connection_id": connection_id, "note": note[:MAX_ERROR_TEXT]} for note in notes]), run_id),
    )


@dataclass(frozen=True)
class RunFilter:
    """Which runs a listing shows: a connection's (runs of it alone, or of all connections, that synced it)."""

    connection_id: str | None = None
    status: str | None = None
    trigger: str | None = None
    # Keyset position: runs started strictly before (started_at, run_id).
    before: tuple[dt.datetime, str] | None = None
    # Only runs whose scope is exactly connection_id (not runs of every connection that synced it).
    only_scope: bool = False


def list_runs(conn: psycopg.Connection, where: RunFilter, limit: int) -> list[dict[str, Any]]:
    """Runs newest first with their totals, at most `limit` (keyset-paged by (started_at, run_id))."""
    totals = ", ".join(f"coalesce(sum(s.{name}), 0) AS {name}" for name in COUNTERS)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            # Column names come from COUNTERS; values are parameters.
            f"""SELECT r.*, {totals}, count(s.stream) AS streams
                FROM sync_runs r LEFT JOIN sync_run_streams s ON s.run_id = r.run_id
                WHERE (%(cid)s::text IS NULL OR r.scope = %(cid)s OR (NOT %(only_scope)s AND EXISTS (
                          SELECT 1 FROM sync_run_streams x WHERE x.run_id = r.run_id AND x.connection_id = %(cid)s)))
                  AND (%(status)s::text IS NULL OR r.status = %(status)s)
                  AND (%(trigger)s::text IS NULL OR r.trigger = %(trigger)s)
                  AND (%(at)s::timestamptz IS NULL OR (r.started_at, r.run_id) < (%(at)s::timestamptz, %(id)s::text))
                GROUP BY r.run_id
                ORDER BY r.started_at DESC, r.run_id DESC
                LIMIT %(limit)s""",
            {"cid": where.connection_id, "only_scope": where.only_scope, "status": where.status,
             "trigger": where.trigger,
             "at": where.before[0] if where.before else None, "id": where.before[1] if where.before else None,
             "limit": limit},
        ).fetchall()


def cancel_run(conn: psycopg.Connection, run_id: str, actor: str) -> bool:
    """Mark a running run cancelled by `actor`; False when it is not running (finished meanwhile)."""
    row = conn.execute(
        """UPDATE sync_runs SET status = 'cancelled', cancelled_by = %s, ended_at = now()
           WHERE run_id = %s AND status = 'running' RETURNING run_id""",
        (actor, run_id),
    ).fetchone()
    return row is not None


def instance_of(conn: psycopg.Connection, run_id: str) -> str | None:
    """The orchestration instance a run was recorded with (sync_all's; its children's ids extend it)."""
    row = conn.execute("SELECT instance_id FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone()
    return row[0] if row and row[0] else None
