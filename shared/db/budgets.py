"""What the budget planner reads and records: the calls recent runs spent per stream, its decisions per run, and each
budget as last measured (migration 0035)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True)
class StreamSpend:
    """Calls one stream of one run spent (a token refresh is counted with the stream that needed it)."""

    run_id: str
    started_at: dt.datetime
    trigger: str
    stream: str
    calls: int


def recent_spend(conn: psycopg.Connection, connection_ids: Sequence[str], since: dt.datetime) -> list[StreamSpend]:
    """Per run and stream, the calls the given connections spent in runs started after `since`; a run that spent
    nothing (skipped, refused) appears once with stream '' so that it still counts as a run of its trigger."""
    rows = conn.execute(
        """SELECT r.run_id, r.started_at, r.trigger, coalesce(s.stream, ''), coalesce(sum(s.api_calls), 0)
           FROM sync_runs r
           LEFT JOIN sync_run_streams s ON s.run_id = r.run_id AND s.connection_id = ANY(%(ids)s)
           WHERE r.started_at > %(since)s
             AND (s.stream IS NOT NULL OR EXISTS (SELECT 1 FROM budget_decisions d
                                                  WHERE d.run_id = r.run_id AND d.connection_id = ANY(%(ids)s)))
           GROUP BY 1, 2, 3, 4
           ORDER BY 2, 1, 4""",
        {"ids": list(connection_ids), "since": since},
    ).fetchall()
    return [StreamSpend(*row) for row in rows]


@dataclass(frozen=True)
class DecisionRow:
    """One planner decision as recorded (the budget_decisions table)."""

    run_id: str
    connection_id: str
    budget: str
    plugin: str
    holder: str
    trigger: str
    action: str
    deferred: list[str]
    reason: str
    used: int
    quota: int
    allowance: int
    projected: int | None
    resets_at: dt.datetime
    decided_at: dt.datetime | None = None


def record_decision(conn: psycopg.Connection, row: DecisionRow) -> None:
    """Idempotent per run, connection and budget: a retried plan records its latest decision."""
    conn.execute(
        """INSERT INTO budget_decisions (run_id, connection_id, budget, plugin, holder, trigger, action, deferred,
                                         reason, used, quota, allowance, projected, resets_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (run_id, connection_id, budget) DO UPDATE SET
               action = EXCLUDED.action, deferred = EXCLUDED.deferred, reason = EXCLUDED.reason,
               used = EXCLUDED.used, quota = EXCLUDED.quota, allowance = EXCLUDED.allowance,
               projected = EXCLUDED.projected, resets_at = EXCLUDED.resets_at, decided_at = now()""",
        (row.run_id, row.connection_id, row.budget, row.plugin, row.holder, row.trigger, row.action, row.deferred,
         row.reason[:2000], row.used, row.quota, row.allowance, row.projected, row.resets_at),
    )


def add_deferred(conn: psycopg.Connection, run_id: str, connection_id: str, streams: Sequence[str]) -> None:
    """Name the streams a run's deferring decisions held back (each phase adds its own)."""
    conn.execute(
        """UPDATE budget_decisions
           SET deferred = ARRAY(SELECT DISTINCT s FROM unnest(deferred || %s::text[]) AS s ORDER BY s)
           WHERE run_id = %s AND connection_id = %s AND action = 'defer'""",
        (list(streams), run_id, connection_id),
    )


def synced_within(conn: psycopg.Connection, connection_id: str, streams: Sequence[str],
                  hours: float) -> set[str]:
    """Which of `streams` a run started in the last `hours` synced successfully for the connection."""
    if not streams:
        return set()
    return {row[0] for row in conn.execute(
        """SELECT DISTINCT s.stream FROM sync_runs r JOIN sync_run_streams s ON s.run_id = r.run_id
           WHERE r.started_at > now() - make_interval(secs => %s) AND s.connection_id = %s
             AND s.stream = ANY(%s) AND s.status = 'succeeded'""",
        (hours * 3600, connection_id, list(streams)))}


def run_decision(conn: psycopg.Connection, run_id: str, connection_id: str) -> DecisionRow | None:
    """The binding decision of a run for a connection (a later phase of the run follows it)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """SELECT * FROM budget_decisions WHERE run_id = %s AND connection_id = %s
               ORDER BY array_position(ARRAY['refuse', 'skip', 'defer', 'go'], action) LIMIT 1""",
            (run_id, connection_id),
        ).fetchone()
    return None if row is None else DecisionRow(**row)


def held_back(conn: psycopg.Connection, plugin: str, holder: str, budget: str, resets_at: dt.datetime,
              connection_ids: Sequence[str], limit: int = 50) -> list[DecisionRow]:
    """Decisions of the budget's current period (the same reset) that held something back: streams deferred, a
    scheduled run skipped, a run refused; newest first, for the given connections."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT * FROM budget_decisions
               WHERE plugin = %s AND holder = %s AND budget = %s AND resets_at = %s AND connection_id = ANY(%s)
                 AND (action IN ('skip', 'refuse') OR cardinality(deferred) > 0)
               ORDER BY decided_at DESC, run_id DESC LIMIT %s""",
            (plugin, holder, budget, resets_at, list(connection_ids), limit),
        ).fetchall()
    return [DecisionRow(**row) for row in rows]


def save_state(conn: psycopg.Connection, plugin: str, holder: str, budget: str, *, used: int, quota: int,
               allowance: int, resets_at: dt.datetime, projected: int | None, shared_by: str) -> None:
    """The budget as just measured, for the dashboards (which read limits from here, not from constants)."""
    conn.execute(
        """INSERT INTO budget_state (plugin, holder, budget, used, quota, allowance, resets_at, projected, shared_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (plugin, holder, budget) DO UPDATE SET
               used = EXCLUDED.used, quota = EXCLUDED.quota, allowance = EXCLUDED.allowance,
               resets_at = EXCLUDED.resets_at, projected = EXCLUDED.projected, shared_by = EXCLUDED.shared_by,
               measured_at = now()""",
        (plugin, holder, budget, used, quota, allowance, resets_at, projected, shared_by),
    )


def run_trigger(conn: psycopg.Connection, run_id: str) -> str:
    row = conn.execute("SELECT trigger FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone()
    return str(row[0]) if row else ""

