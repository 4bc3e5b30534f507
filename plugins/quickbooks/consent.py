"""Connecting a QuickBooks company: start the consent (authorize URL + state), complete it (callback).

Shared by the HTTP endpoints (plugins/quickbooks/routes.py) and the command line (plugins/quickbooks/consent_cli.py).
A state is bound to who started it (recorded in the audit log when it completes) and, from a browser, to that
browser; the code exchange uses PKCE, and the tokens are stored only once they are shown to open the company the
callback names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from plugins.quickbooks import oauth, settings
from shared.core.http import ApiError
from shared.db import audit
from shared.db.connections import Connection, find_connection, upsert_connection, validate_connection_id
from shared.tokens.crypto import Keyring
from shared.tokens.oauth_states import InvalidState, consume_state, is_well_formed, issue_state
from shared.tokens.store import TokenSet, clear_action_required, save_consent, utcnow

log = logging.getLogger(__name__)

PLUGIN = "quickbooks"
AUDIT_ACTION = "connection.consent_completed"
# Intuit's codes are at most 512 characters; its error values are short OAuth error names.
_CODE = re.compile(r"[\x21-\x7e]{1,512}")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ConsentError(ValueError):
    """A consent that cannot complete for a reason the user can fix (the message says how)."""


class ConsentSetupError(Exception):
    """The app is not configured for consent (e.g. QBO_REDIRECT_URI): the operator must fix a setting."""


@dataclass(frozen=True)
class Connected:
    connection_id: str
    realm_id: str
    environment: str
    created: bool
    actor: str | None = None


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


def redirect_uri() -> str:
    """The consent callback from configuration (QBO_REDIRECT_URI); ConsentSetupError names the setting if unset."""
    try:
        return settings.redirect_uri()
    except ValueError as exc:
        raise ConsentSetupError(str(exc)) from None


def begin_consent(connection_id: str, environment: str, *, actor: str, conn_factory: Callable[[], psycopg.Connection],
                  browser_nonce: str | None = None, redirect_to: str | None = None) -> str:
    """Store a one-time state (bound to `browser_nonce`, the starting browser's cookie, and to `actor`, the operator)
    and return Intuit's authorize URL carrying it and its PKCE challenge.

    redirect_to: the callback URL; None takes QBO_REDIRECT_URI (the HTTP route never takes one from the request).
    """
    validate_connection_id(connection_id)
    if environment not in oauth.ENVIRONMENTS:
        raise ConsentError(f"environment must be one of {', '.join(oauth.ENVIRONMENTS)}, got {environment!r}")
    callback = redirect_to or redirect_uri()
    if not callback.startswith(("https://", "http://")):
        raise ConsentError(f"redirect_uri must be an http(s) URL registered with the Intuit app, got {callback!r}")
    verifier = oauth.new_code_verifier()
    with conn_factory() as conn:
        found = find_connection(conn, connection_id)
        _check_reusable(found, connection_id, None)
        config = found[0].config if found else {}
        state = issue_state(conn, PLUGIN, connection_id, environment, callback, actor=actor,
                            browser_nonce=browser_nonce, code_verifier=verifier)
        # Raises (and so rolls the state back) when the app's client id is not configured.
        return oauth.authorize_url(state, callback, environment, config=config, connection_id=connection_id,
                                   code_verifier=verifier)


def check_callback(code: str, state: str, realm_id: str, error: str | None, browser_nonce: str | None) -> None:
    """Refuse a malformed callback before any I/O (the callback is anonymous: anyone can call it)."""
    if not state:
        raise InvalidState("The callback has no state parameter: start the connection again")
    if not is_well_formed(state):
        raise InvalidState("The callback's state is malformed: start the connection again")
    if browser_nonce is not None and not is_well_formed(browser_nonce):
        raise InvalidState("The consent cookie of this browser is malformed: start the connection again")
    if error is not None and not _ERROR_CODE.fullmatch(error):
        raise ConsentError("QuickBooks did not grant access: start the connection again")
    if error is None:
        if not oauth.is_realm_id(realm_id):
            raise ConsentError("The callback's realmId must be the company's numeric id (ASCII digits)")
        if not _CODE.fullmatch(code or ""):
            raise ConsentError("The callback lacks a well-formed authorization code: start the connection again")


def _confirm_company(tokens: TokenSet, realm_id: str, environment: str, config: dict[str, Any]) -> None:
    """Prove the issued token opens the company the redirect claims, before anything is stored."""
    base = settings.api_base_url(config) or settings.BASE_URLS[environment]
    try:
        oauth.verify_company(tokens.access_token, realm_id, base, minor_version=settings.OLDEST_MINOR_VERSION)
    except ApiError as exc:
        if exc.code == "realm_mismatch":
            raise ConsentError(f"The consent did not grant access to QuickBooks company {realm_id}: "
                               "start the connection again and choose that company") from None
        raise


def _audit(conn: psycopg.Connection, actor: str, connection_id: str, details: dict[str, Any]) -> None:
    audit.record(conn, actor, AUDIT_ACTION, connection_id, details)


def complete_consent(code: str, state: str, realm_id: str, *, error: str | None = None,
                     browser_nonce: str | None = None, expected_connection_id: str | None = None,
                     conn_factory: Callable[[], psycopg.Connection], keyring: Keyring | None = None,
                     now: Callable[[], datetime] = utcnow) -> Connected:
    """Consume the state, exchange the code (PKCE), confirm the company, then create or update the connection,
    store its tokens encrypted and record who connected it in the audit log.

    browser_nonce: the cookie of the browser completing the flow (None from a terminal). Raises InvalidState or
    ConsentError (the user can fix), ApiError (Intuit), KeyConfigError/ConsentSetupError (setup).
    """
    check_callback(code, state, realm_id, error, browser_nonce)
    ring = keyring or Keyring.from_secrets()  # before anything is consumed: a missing key is a setup problem
    with conn_factory() as conn:
        pending = consume_state(conn, state, PLUGIN, browser_nonce=browser_nonce)
        if expected_connection_id and pending.connection_id != expected_connection_id:
            raise ConsentError(f"This consent was started for connection {pending.connection_id}, "
                               f"not {expected_connection_id}: start the connection again")
        if error is not None:
            raise ConsentError(f"QuickBooks did not grant access ({error}): start the connection again")
        cid = pending.connection_id
        found = find_connection(conn, cid)
        conn.rollback()
        _check_reusable(found, cid, realm_id)
        environment = pending.environment or "production"
        config: dict[str, Any] = {**(found[0].config if found else {}), "realm_id": realm_id,
                                  "environment": environment, "auth": "oauth"}
        tokens = oauth.exchange_code(code, realm_id, pending.redirect_uri, config=config, now=now(),
                                     code_verifier=pending.code_verifier, connection_id=cid)
        _confirm_company(tokens, realm_id, environment, config)
        display = found[0].display_name if found else f"QuickBooks {realm_id} ({environment})"
        with conn.transaction():
            upsert_connection(conn, Connection(cid, PLUGIN, display, config), enabled=found[1] if found else True)
            save_consent(conn, cid, tokens, ring, now=now())
            clear_action_required(conn, cid)
            _audit(conn, pending.actor or "unknown", cid,
                   {"plugin": PLUGIN, "realm_id": realm_id, "environment": environment, "created": found is None})
    log.info("connection %s connected to QuickBooks company %s (%s) by %s", cid, realm_id, environment, pending.actor)
    return Connected(cid, realm_id, environment, created=found is None, actor=pending.actor)


__all__ = ["Connected", "ConsentError", "ConsentSetupError", "InvalidState", "begin_consent", "check_callback",
           "complete_consent", "redirect_uri"]
