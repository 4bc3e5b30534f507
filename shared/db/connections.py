"""Connections: one connected account of a source each (the `connections` table)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

# fullmatch, not match with "$": "$" also matches before a trailing newline ("acme\n" would pass).
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# A sync's scope is a connection id or "all": no connection may take that name.
RESERVED_IDS = frozenset({"all"})


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
    if connection_id in RESERVED_IDS:
        raise ValueError(f"Connection id {connection_id!r} is reserved (it means every connection): choose another")
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


def enabled_connections(conn: psycopg.Connection, plugin: str) -> list[Connection]:
    """Every enabled connection of one plugin, by id (e.g. to find which of them a webhook's event concerns)."""
    rows = conn.execute("SELECT connection_id, plugin, display_name, config FROM connections "
                        "WHERE enabled AND plugin = %s ORDER BY connection_id", (plugin,)).fetchall()
    return [_row_to_connection(r) for r in rows]


def list_connection_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """(connection_id, plugin, display_name, enabled, status, status_reason, status_changed_at, auth) of every
    connection, by id: what a listing may show (never the config, which may name secrets)."""
    return conn.execute(
        """SELECT connection_id, plugin, display_name, enabled, status, status_reason, status_changed_at,
                  config->>'auth' FROM connections ORDER BY connection_id"""
    ).fetchall()


@dataclass(frozen=True)
class ConnectionRecord:
    """A connection's row as the API manages it: settings, switch and health (config may name secrets: a caller
    sees it only through its plugin's public view)."""

    connection: Connection
    enabled: bool
    status: str
    status_reason: str | None
    status_changed_at: Any
    created_at: Any


_RECORDS = """SELECT connection_id, plugin, display_name, config, enabled, status, status_reason, status_changed_at,
                     created_at FROM connections"""


def _record(row: tuple[Any, ...]) -> ConnectionRecord:
    return ConnectionRecord(_row_to_connection(row[:4]), *row[4:])


def connection_records(conn: psycopg.Connection,
                       connection_ids: frozenset[str] | None = None) -> list[ConnectionRecord]:
    """Every connection (disabled ones too) by id, or only those in `connection_ids`."""
    if connection_ids is None:
        rows = conn.execute(_RECORDS + " ORDER BY connection_id").fetchall()
    else:
        rows = conn.execute(_RECORDS + " WHERE connection_id = ANY(%s) ORDER BY connection_id",
                            (sorted(connection_ids),)).fetchall()
    return [_record(row) for row in rows]


def connection_record(conn: psycopg.Connection, connection_id: str) -> ConnectionRecord | None:
    row = conn.execute(_RECORDS + " WHERE connection_id = %s", (connection_id,)).fetchone()
    return _record(row) if row else None


def create_connection(conn: psycopg.Connection, connection: Connection, *, enabled: bool = True) -> bool:
    """Insert a new connection; False (and nothing written) when the id is taken."""
    validate_connection_id(connection.connection_id)
    row = conn.execute(
        """INSERT INTO connections (connection_id, plugin, display_name, config, enabled)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (connection_id) DO NOTHING RETURNING connection_id""",
        (connection.connection_id, connection.plugin, connection.display_name, Jsonb(connection.config), enabled),
    ).fetchone()
    return row is not None


def update_connection(conn: psycopg.Connection, connection_id: str, *, display_name: str | None = None,
                      enabled: bool | None = None, config: dict[str, Any] | None = None) -> bool:
    """Change what is given (None leaves a field as it is); False when there is no such connection."""
    row = conn.execute(
        """UPDATE connections SET display_name = coalesce(%s, display_name), enabled = coalesce(%s, enabled),
                                  config = coalesce(%s, config)
           WHERE connection_id = %s RETURNING connection_id""",
        (display_name, enabled, Jsonb(config) if config is not None else None, connection_id),
    ).fetchone()
    return row is not None
