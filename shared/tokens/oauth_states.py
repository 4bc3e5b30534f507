"""One-time `state` values of OAuth consent flows: issued with the authorize URL, consumed by the callback.

The state ties the callback to the flow a user started (CSRF protection) and carries what the callback
needs: which connection, which environment, the redirect URI the code exchange must repeat, the PKCE verifier,
and who started it. A flow started in a browser is also bound to that browser: the browser holds a random
nonce in a cookie, the row holds only the nonce's SHA-256, and the callback must present the nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from shared.db.connections import validate_connection_id

STATE_TTL = timedelta(minutes=10)
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet. Anything else is not ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class InvalidState(ValueError):
    """A callback whose state is unknown, expired, already used, issued for another plugin or another browser."""


@dataclass(frozen=True)
class PendingConsent:
    plugin: str
    connection_id: str
    environment: str | None
    redirect_uri: str
    expires_at: datetime
    actor: str | None = None
    code_verifier: str | None = field(default=None, repr=False)


def new_token() -> str:
    """A random 256-bit value in the form states and browser nonces take."""
    return secrets.token_urlsafe(32)


def is_well_formed(value: object) -> bool:
    """Whether `value` has the exact shape of a state or nonce this module issues (checked before any I/O)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def nonce_digest(nonce: str) -> bytes:
    return hashlib.sha256(nonce.encode()).digest()


def issue_state(conn: psycopg.Connection, plugin: str, connection_id: str, environment: str | None,
                redirect_uri: str, *, actor: str, browser_nonce: str | None = None,
                code_verifier: str | None = None, ttl: timedelta = STATE_TTL) -> str:
    """A new random state (256 bits), stored until it is consumed or expires.

    browser_nonce: the value set as the starting browser's cookie (only its hash is stored); None for a flow that
    is finished from a terminal. actor: who started it (recorded when the consent completes).
    """
    validate_connection_id(connection_id)
    if browser_nonce is not None and not is_well_formed(browser_nonce):
        raise ValueError("browser_nonce must come from new_token()")
    # Expired states are useless; dropping them here keeps the table small without a timer.
    conn.execute("DELETE FROM oauth_states WHERE expires_at < now()")
    state = new_token()
    conn.execute(
        """INSERT INTO oauth_states (state, plugin, connection_id, environment, redirect_uri, expires_at,
                                     browser_nonce_sha256, actor, code_verifier)
           VALUES (%s, %s, %s, %s, %s, now() + %s, %s, %s, %s)""",
        (state, plugin, connection_id, environment, redirect_uri, ttl,
         nonce_digest(browser_nonce) if browser_nonce is not None else None, actor, code_verifier),
    )
    return state


def _check_binding(stored: bytes | None, browser_nonce: str | None) -> None:
    if stored is None:
        if browser_nonce is not None:
            raise InvalidState("This consent was started from a terminal: paste the URL you were sent to there")
        return
    if browser_nonce is None:
        raise InvalidState("This consent was started in a browser: finish it in that browser")
    # Constant time: the comparison must not tell an attacker how much of a guessed nonce was right.
    if not hmac.compare_digest(bytes(stored), nonce_digest(browser_nonce)):
        raise InvalidState("This consent was started in another browser (or its cookie was lost): "
                           "start the connection again from this browser")


def consume_state(conn: psycopg.Connection, state: str, plugin: str, *,
                  browser_nonce: str | None = None) -> PendingConsent:
    """Take the state out of the store (single use, even when refused); InvalidState says why it is refused.

    The removal is committed before the checks (call it outside a transaction of your own): a state presented by
    another browser, too late or to another plugin is spent. browser_nonce: the nonce from the callback's cookie
    (None from a terminal); it must match the one the flow was started with.
    """
    if not state:
        raise InvalidState("The callback has no state parameter: start the connection again")
    if not is_well_formed(state):
        raise InvalidState("The callback's state is malformed: start the connection again")
    with conn.transaction():
        row = conn.execute(
            """DELETE FROM oauth_states WHERE state = %s
               RETURNING plugin, connection_id, environment, redirect_uri, expires_at, actor, code_verifier,
                         expires_at < now(), browser_nonce_sha256""",
            (state,),
        ).fetchone()
    if row is None:
        raise InvalidState("Unknown or already used state: start the connection again")
    pending = PendingConsent(*row[:7])
    if row[7]:
        raise InvalidState("This consent link expired: start the connection again (links last 10 minutes)")
    if pending.plugin != plugin:
        raise InvalidState(f"This state was issued for {pending.plugin}, not {plugin}: start the connection again")
    _check_binding(row[8], browser_nonce)
    return pending
