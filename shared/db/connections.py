"""Connections: one connected account of a source each (the `connections` table)."""

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
    if not isinstance(connection_id, str) or not _ID.fullmatch(connection_id):
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


def find_connection(conn: psycopg.Connection, connection_id: str) -> tuple[Connection, bool] | None:
    """(the connection, whether it is enabled), disabled ones included; None when there is none by that id."""
    row = conn.execute(
        "SELECT connection_id, plugin, display_name, config, enabled FROM connections WHERE connection_id = %s",
        (connection_id,),
    ).fetchone()
    return (_row_to_connection(row[:4]), row[4]) if row else None


def connections_in_scope(conn: psycopg.Connection, scope: str) -> list[Connection]:
    """`all` means every enabled connection; anything else names one connection."""
    if scope == "all":
        rows = conn.execute(
            "SELECT connection_id, plugin, display_name, config FROM connections WHERE enabled ORDER BY connection_id"
        ).fetchall()
        return [_row_to_connection(r) for r in rows]
    return [get_connection(conn, scope)]


def list_connection_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """(connection_id, plugin, display_name, enabled, status, status_reason, status_changed_at, auth) of every
    connection, by id: what a listing may show (never the config, which may name secrets)."""
    return conn.execute(
        """SELECT connection_id, plugin, display_name, enabled, status, status_reason, status_changed_at,
                  config->>'auth' FROM connections ORDER BY connection_id"""
    ).fetchall()
