"""Connections and the per-stream watermarks they carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Connection:
    """One connected account of a source (e.g. one company, one account). No secrets inside."""

    connection_id: str
    plugin: str
    display_name: str
    config: dict[str, Any]


class UnknownConnection(LookupError):
    """A connection id that is not configured (or is disabled)."""


def validate_connection_id(connection_id: str) -> str:
    """Connection ids end up in instance ids and blob paths: keep them to a safe alphabet."""
    if not isinstance(connection_id, str) or not _ID.match(connection_id):
        raise ValueError(
            f"Connection id {connection_id!r} is invalid: use 1-63 lowercase letters, digits, '-' or '_'"
        )
    return connection_id


def upsert_connection(conn: psycopg.Connection, connection: Connection, *, enabled: bool = True) -> None:
    """Create or update a connection's settings (never secrets: those are referenced by name)."""
    validate_connection_id(connection.connection_id)
    conn.execute(
        """INSERT INTO connections (connection_id, plugin, display_name, config, enabled)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (connection_id) DO UPDATE
           SET plugin = EXCLUDED.plugin, display_name = EXCLUDED.display_name,
               config = EXCLUDED.config, enabled = EXCLUDED.enabled""",
        (connection.connection_id, connection.plugin, connection.display_name, Jsonb(connection.config), enabled),
    )


def _row_to_connection(row: tuple[Any, ...]) -> Connection:
    return Connection(connection_id=row[0], plugin=row[1], display_name=row[2], config=row[3])


def get_connection(conn: psycopg.Connection, connection_id: str) -> Connection:
    row = conn.execute(
        "SELECT connection_id, plugin, display_name, config FROM connections WHERE connection_id = %s AND enabled",
        (connection_id,),
    ).fetchone()
    if row is None:
        raise UnknownConnection(f"No enabled connection {connection_id!r}; add it first (see README, Connections)")
    return _row_to_connection(row)


def connections_in_scope(conn: psycopg.Connection, scope: str) -> list[Connection]:
    """`all` means every enabled connection; anything else names one connection."""
    if scope == "all":
        rows = conn.execute(
            "SELECT connection_id, plugin, display_name, config FROM connections WHERE enabled ORDER BY connection_id"
        ).fetchall()
        return [_row_to_connection(r) for r in rows]
    return [get_connection(conn, scope)]


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
