"""Landed pages as the loads see them: which ones are loaded (exactly once each), and records put aside."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def claim_page(conn: psycopg.Connection, page_ref: str, run_id: str, records: int) -> bool:
    """Record the page as loaded in the caller's transaction; False when an earlier load already committed it."""
    return conn.execute(
        """INSERT INTO loaded_pages (page_ref, run_id, records) VALUES (%s, %s, %s)
           ON CONFLICT (page_ref) DO NOTHING RETURNING 1""",
        (page_ref, run_id, records),
    ).fetchone() is not None


def pages_of(conn: psycopg.Connection, run_id: str, prefix: str) -> list[str]:
    """The refs of the pages this run loaded under `prefix` (one stream of one connection), in order."""
    return [row[0] for row in conn.execute(
        "SELECT page_ref FROM loaded_pages WHERE run_id = %s AND starts_with(page_ref, %s) ORDER BY page_ref",
        (run_id, prefix))]


def quarantine(conn: psycopg.Connection, connection_id: str, stream: str, run_id: str, page_ref: str,
               position: int, record_id: str | None, reason: str, record: Any) -> None:
    """Put a record that cannot be loaded aside with its reason (once per page position)."""
    conn.execute(
        """INSERT INTO quarantine (connection_id, stream, run_id, page_ref, position, record_id, reason, payload)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (page_ref, position) DO NOTHING""",
        (connection_id, stream, run_id, page_ref, position, record_id, reason, Jsonb(record)),
    )
