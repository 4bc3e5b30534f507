"""Watermarks: where each stream of a connection resumes (the `stream_state` table)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def get_watermark(conn: psycopg.Connection, connection_id: str, stream: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT watermark FROM stream_state WHERE connection_id = %s AND stream = %s", (connection_id, stream)
    ).fetchone()
    return row[0] if row else None


def set_watermark(
    conn: psycopg.Connection, connection_id: str, stream: str, watermark: dict[str, Any], run_id: str
) -> None:
    """Called inside the load's transaction, so the watermark never runs ahead of the rows it covers."""
    conn.execute(
        """INSERT INTO stream_state (connection_id, stream, watermark, last_run_id, last_success_at, updated_at)
           VALUES (%s, %s, %s, %s, now(), now())
           ON CONFLICT (connection_id, stream) DO UPDATE
           SET watermark = EXCLUDED.watermark, last_run_id = EXCLUDED.last_run_id,
               last_success_at = now(), updated_at = now()""",
        (connection_id, stream, Jsonb(watermark), run_id),
    )


def get_watermarks(conn: psycopg.Connection, connection_id: str) -> dict[str, dict[str, Any]]:
    """Every stream's watermark of a connection."""
    rows = conn.execute(
        "SELECT stream, watermark FROM stream_state WHERE connection_id = %s AND watermark IS NOT NULL",
        (connection_id,),
    ).fetchall()
    return dict(rows)
