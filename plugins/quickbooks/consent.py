"""Connecting a QuickBooks company: start the consent (authorize URL + state), complete it (callback).

Shared by the HTTP endpoints (plugins/quickbooks/routes.py) and the command line (plugins/quickbooks/consent_cli.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from plugins.quickbooks import oauth
from shared.db.connections import Connection, find_connection, upsert_connection, validate_connection_id
from shared.tokens.crypto import Keyring
from shared.tokens.oauth_states import InvalidState, consume_state, issue_state
from shared.tokens.store import clear_action_required, save_consent, utcnow

log = logging.getLogger(__name__)

PLUGIN = "quickbooks"


class ConsentError(ValueError):
    """A consent that cannot complete for a reason the user can fix (the message says how)."""


@dataclass(frozen=True)
class Connected:
    connection_id: str
    realm_id: str
    environment: str
    created: bool


def _check_reusable(found: tuple[Connection, bool] | None, connection_id: str, realm_id: str | None) -> None:
    if found is None:
        return
    existing = found[0]
    if existing.plugin != PLUGIN:
        raise ConsentError(f"Connection {connection_id} is a {existing.plugin} connection, not QuickBooks")
    known = str(existing.config.get("realm_id") or "")
    if realm_id and known and known != realm_id:
        raise ConsentError(f"Connection {connection_id} belongs to QuickBooks company {known}, but consent was "
                           f"given for company {realm_id}: use another connection id for that company")


def begin_consent(connection_id: str, environment: str, redirect_uri: str, *,
                  conn_factory: Callable[[], psycopg.Connection]) -> str:
    """Store a one-time state and return Intuit's authorize URL carrying it."""
    validate_connection_id(connection_id)
    if environment not in oauth.ENVIRONMENTS:
        raise ConsentError(f"environment must be one of {', '.join(oauth.ENVIRONMENTS)}, got {environment!r}")
    if not redirect_uri.startswith(("https://", "http://")):
        raise ConsentError(f"redirect_uri must be an http(s) URL registered with the Intuit app, got {redirect_uri!r}")
    with conn_factory() as conn:
        found = find_connection(conn, connection_id)
        _check_reusable(found, connection_id, None)
        config = found[0].config if found else {}
        state = issue_state(conn, PLUGIN, connection_id, environment, redirect_uri)
        # Raises (and so rolls the state back) when the app's client id is not configured.
        return oauth.authorize_url(state, redirect_uri, environment, config=config)


def complete_consent(code: str, state: str, realm_id: str, *, error: str | None = None,
                     expected_connection_id: str | None = None,
                     conn_factory: Callable[[], psycopg.Connection], keyring: Keyring | None = None,
                     now: Callable[[], datetime] = utcnow) -> Connected:
    """Consume the state, exchange the code, create or update the connection and store its tokens encrypted.

    Raises InvalidState or ConsentError (the user can fix), ApiError (token endpoint), KeyConfigError (setup).
    """
    ring = keyring or Keyring.from_secrets()  # before anything is consumed: a missing key is a setup problem
    with conn_factory() as conn:
        with conn.transaction():
            pending = consume_state(conn, state, PLUGIN)
        if expected_connection_id and pending.connection_id != expected_connection_id:
            raise ConsentError(f"This consent was started for connection {pending.connection_id}, "
                               f"not {expected_connection_id}: start the connection again")
        if error:
            raise ConsentError(f"QuickBooks did not grant access ({error[:100]}): start the connection again")
        if not code or not str(realm_id or "").isdigit():
            raise ConsentError("The callback lacks the authorization code or a numeric realmId")
        cid = pending.connection_id
        found = find_connection(conn, cid)
        conn.rollback()
        _check_reusable(found, cid, realm_id)
        environment = pending.environment or "production"
        config: dict[str, Any] = {**(found[0].config if found else {}), "realm_id": realm_id,
                                  "environment": environment, "auth": "oauth"}
        tokens = oauth.exchange_code(code, realm_id, pending.redirect_uri, config=config, now=now())
        display = found[0].display_name if found else f"QuickBooks {realm_id} ({environment})"
        with conn.transaction():
            upsert_connection(conn, Connection(cid, PLUGIN, display, config), enabled=found[1] if found else True)
            save_consent(conn, cid, tokens, ring, now=now())
            clear_action_required(conn, cid)
    log.info("connection %s connected to QuickBooks company %s (%s)", cid, realm_id, environment)
    return Connected(cid, realm_id, environment, created=found is None)


__all__ = ["Connected", "ConsentError", "InvalidState", "begin_consent", "complete_consent"]
