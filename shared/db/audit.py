"""The audit trail (`audit_log`): who started or cancelled a sync, changed a connection, created or revoked a key.

`record` writes in the caller's transaction, so an entry exists exactly when the change it describes committed.
Actors are `Principal.actor` strings ("user:<oid> (<name>)", "key:<key id>", "cli:<os user>"); details never
carry a credential."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None


def record(conn: psycopg.Connection, actor: str, action: str, target: str | None = None,
           details: Mapping[str, Any] | None = None) -> int:
    """Append one entry (e.g. action "sync.started", target a run id); returns its id. Does not commit."""
    if not actor or not action:
        raise ValueError("An audit entry needs an actor and an action")
    row = conn.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s) RETURNING id",
        (actor, action, target, Jsonb(dict(details)) if details is not None else None),
    ).fetchone()
    assert row is not None
    return int(row[0])


def entries(conn: psycopg.Connection, *, target: str | None = None, action: str | None = None,
            limit: int = 100) -> list[AuditEntry]:
    """The newest entries first, optionally for one target and/or one action."""
    rows = conn.execute(
        """SELECT id, at, actor, action, target, details FROM audit_log
           WHERE (%(target)s::text IS NULL OR target = %(target)s)
             AND (%(action)s::text IS NULL OR action = %(action)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"target": target, "action": action, "limit": limit},
    ).fetchall()
    return [AuditEntry(*row) for row in rows]
