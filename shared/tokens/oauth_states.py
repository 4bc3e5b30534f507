"""One-time `state` values of OAuth consent flows: issued with the authorize URL, consumed by the callback.

The state ties the callback to the flow a user started (CSRF protection) and carries what the callback
needs: which connection, which environment, and the redirect URI the code exchange must repeat.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from shared.db.connections import validate_connection_id

STATE_TTL = timedelta(minutes=10)


class InvalidState(ValueError):
    """A callback whose state is unknown, expired, already used, or issued for another plugin."""


@dataclass(frozen=True)
class PendingConsent:
    plugin: str
    connection_id: str
    environment: str | None
    redirect_uri: str
    expires_at: datetime


def issue_state(conn: psycopg.Connection, plugin: str, connection_id: str, environment: str | None,
                redirect_uri: str, *, ttl: timedelta = STATE_TTL) -> str:
    """A new random state (256 bits), stored until it is consumed or expires."""
    validate_connection_id(connection_id)
    # Expired states are useless; dropping them here keeps the table small without a timer.
    conn.execute("DELETE FROM oauth_states WHERE expires_at < now()")
    state = secrets.token_urlsafe(32)
    conn.execute(
        """INSERT INTO oauth_states (state, plugin, connection_id, environment, redirect_uri, expires_at)
           VALUES (%s, %s, %s, %s, %s, now() + %s)""",
        (state, plugin, connection_id, environment, redirect_uri, ttl),
    )
    return state


def consume_state(conn: psycopg.Connection, state: str, plugin: str) -> PendingConsent:
    """Take the state out of the store (single use, even when refused); InvalidState says why it is refused."""
    if not state:
        raise InvalidState("The callback has no state parameter: start the connection again")
    row = conn.execute(
        """DELETE FROM oauth_states WHERE state = %s
           RETURNING plugin, connection_id, environment, redirect_uri, expires_at, expires_at < now()""",
        (state,),
    ).fetchone()
    if row is None:
        raise InvalidState("Unknown or already used state: start the connection again")
    pending = PendingConsent(*row[:5])
    if row[5]:
        raise InvalidState("This consent link expired: start the connection again (links last 10 minutes)")
    if pending.plugin != plugin:
        raise InvalidState(f"This state was issued for {pending.plugin}, not {plugin}: start the connection again")
    return pending
