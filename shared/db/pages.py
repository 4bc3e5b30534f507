"""Landed pages as the loads see them: which ones are loaded (exactly once each), and records put aside."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from shared.db.storable import storable


def claim_page(conn: psycopg.Connection, page_ref: str, run_id: str, records: int) -> bool:
    """Record the page as loaded in the caller's transaction; False when an earlier load already committed it."""
    return conn.execute(
        """INSERT INTO loaded_pages (page_ref, run_id, records) VALUES (%s, %s, %s)
           ON CONFLICT (page_ref) DO NOTHING RETURNING 1""",
        (page_ref, run_id, records),
    ).fetchone() is not None


def keep_seen_ids(conn: psycopg.Connection, page_ref: str, ids: Mapping[str, list[str]]) -> None:
    """Keep the ids a page held (per target table) beside its claim, in the caller's (the load's) transaction:
    committed exactly when the page's rows are, so a retried or replayed load finds them or writes them again."""
    conn.execute("INSERT INTO page_seen_ids (page_ref, ids) VALUES (%s, %s) ON CONFLICT (page_ref) DO NOTHING",
                 (page_ref, Jsonb(ids)))


def seen_ids_of(conn: psycopg.Connection, run_id: str,
                prefix: str) -> list[tuple[str, dict[str, list[str]] | None]]:
    """The pages this run loaded under `prefix`, in order, each with the ids its load kept (None: none kept)."""
    return [(row[0], row[1]) for row in conn.execute(
        """SELECT p.page_ref, s.ids FROM loaded_pages p LEFT JOIN page_seen_ids s USING (page_ref)
           WHERE p.run_id = %s AND starts_with(p.page_ref, %s) ORDER BY p.page_ref""",
        (run_id, prefix))]


def forget_seen_ids(conn: psycopg.Connection, page_refs: list[str]) -> None:
    """Drop the kept ids of pages a sweep has read (in its transaction: a sweep that fails keeps them)."""
    conn.execute("DELETE FROM page_seen_ids WHERE page_ref = ANY(%s)", (page_refs,))


def quarantine(conn: psycopg.Connection, connection_id: str, stream: str, run_id: str, page_ref: str,
               position: int, record_id: str | None, reason: str, record: Any) -> None:
    """Put a record that cannot be loaded aside with its reason (once per page position), as PostgreSQL can store
    it (`storable`; the record is whole in its landed page, at `position`)."""
    conn.execute(
        """INSERT INTO quarantine (connection_id, stream, run_id, page_ref, position, record_id, reason, payload)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (page_ref, position) DO NOTHING""",
        (connection_id, stream, run_id, page_ref, position, storable(record_id), storable(reason),
         Jsonb(storable(record))),
    )
