"""The encrypted OAuth token store and the single-flight refresh any OAuth plugin can use.

Some providers rotate the refresh token on refresh and reject the old one with
`invalid_grant`, so two processes refreshing at once, or a rotated token that is not stored, lose
the connection. Hence: one refresher at a time per connection (a transaction-scoped advisory lock),
a re-read of the stored token after taking the lock, and the rotated token written in the same
transaction. Tokens never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg

from shared.core.http import ApiError
from shared.db.connect import connect
from shared.tokens.crypto import Keyring

log = logging.getLogger(__name__)

DEFAULT_SKEW = timedelta(seconds=300)
# How long a caller waits for another process's refresh before giving up (the refresh itself has an HTTP timeout).
LOCK_WAIT = "60s"
DEFAULT_INVALID_GRANT_REASON = "The provider refused the stored refresh token (invalid_grant): reconnect this account"
_ACCESS = "access_token"
_REFRESH = "refresh_token"
_SAVE_RETRIES = (0.2, 1.0, 3.0)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenSet:
    """Tokens as issued; `refresh_token` None means the provider kept the previous one."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a connection's tokens without decrypting them (for warnings and listings)."""

    connection_id: str
    key_id: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    consented_at: datetime
    last_refreshed_at: datetime | None
    refresh_count: int
    updated_at: datetime


@dataclass(frozen=True)
class StoredTokens:
    info: TokenInfo
    tokens: TokenSet


class NotConnected(ApiError):
    """The connection has no stored tokens: the user has to go through the consent flow first."""


_COLUMNS = ("connection_id, key_id, access_expires_at, refresh_expires_at, consented_at, last_refreshed_at, "
            "refresh_count, updated_at, access_token_enc, refresh_token_enc")


def advisory_key(connection_id: str) -> int:
    """The bigint advisory-lock key of a connection's refresh (stable across processes and releases)."""
    digest = hashlib.sha256(b"bizmetrics-oauth-refresh\x00" + connection_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_connection(conn: psycopg.Connection, connection_id: str) -> None:
    """Serialize token writers of one connection until the current transaction ends."""
    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(connection_id),))
    except psycopg.errors.LockNotAvailable:
        raise ApiError(f"Connection {connection_id}: another process has held the token refresh lock for over "
                       f"{LOCK_WAIT}; try again", code="refresh_lock_timeout", transient=True) from None


def load_info(conn: psycopg.Connection, connection_id: str) -> TokenInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM oauth_tokens WHERE connection_id = %s", (connection_id,)).fetchone()
    return TokenInfo(*row[:8]) if row else None


def load_tokens(conn: psycopg.Connection, connection_id: str, keyring: Keyring) -> StoredTokens | None:
    """The stored tokens, decrypted; None when the connection has none. DecryptionError if they do not open."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM oauth_tokens WHERE connection_id = %s", (connection_id,)).fetchone()
    if row is None:
        return None
    info = TokenInfo(*row[:8])
    access = keyring.decrypt(row[8], key_id=info.key_id, connection_id=connection_id, purpose=_ACCESS)
    refresh = keyring.decrypt(row[9], key_id=info.key_id, connection_id=connection_id, purpose=_REFRESH)
    return StoredTokens(info, TokenSet(access, refresh, info.access_expires_at, info.refresh_expires_at))


def _sealed(keyring: Keyring, connection_id: str, tokens: TokenSet) -> tuple[str, bytes, bytes]:
    if not tokens.access_token or not tokens.refresh_token:
        raise ValueError(f"Connection {connection_id}: refusing to store an empty access or refresh token")
    return (keyring.current_id,
            keyring.encrypt(tokens.access_token, connection_id=connection_id, purpose=_ACCESS),
            keyring.encrypt(tokens.refresh_token, connection_id=connection_id, purpose=_REFRESH))


def save_consent(conn: psycopg.Connection, connection_id: str, tokens: TokenSet, keyring: Keyring,
                 *, now: datetime | None = None) -> None:
    """Store tokens from a new consent (in the caller's transaction; the connection row must exist)."""
    lock_connection(conn, connection_id)
    key_id, access, refresh = _sealed(keyring, connection_id, tokens)
    conn.execute(
        """INSERT INTO oauth_tokens (connection_id, key_id, access_token_enc, refresh_token_enc, access_expires_at,
                                     refresh_expires_at, consented_at, last_refreshed_at, refresh_count, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, 0, now())
           ON CONFLICT (connection_id) DO UPDATE
           SET key_id = EXCLUDED.key_id, access_token_enc = EXCLUDED.access_token_enc,
               refresh_token_enc = EXCLUDED.refresh_token_enc, access_expires_at = EXCLUDED.access_expires_at,
               refresh_expires_at = EXCLUDED.refresh_expires_at, consented_at = EXCLUDED.consented_at,
               last_refreshed_at = NULL, refresh_count = 0, updated_at = now()""",
        (connection_id, key_id, access, refresh, tokens.access_expires_at, tokens.refresh_expires_at,
         now or utcnow()),
    )


def _write(conn: psycopg.Connection, connection_id: str, tokens: TokenSet, keyring: Keyring,
           refreshed_at: datetime | None) -> None:
    """Overwrite the tokens; `refreshed_at` None re-seals with the current key without counting a refresh."""
    key_id, access, refresh = _sealed(keyring, connection_id, tokens)
    conn.execute(
        """UPDATE oauth_tokens
           SET key_id = %s, access_token_enc = %s, refresh_token_enc = %s, access_expires_at = %s,
               refresh_expires_at = %s, last_refreshed_at = coalesce(%s::timestamptz, last_refreshed_at),
               refresh_count = refresh_count + (CASE WHEN %s::timestamptz IS NULL THEN 0 ELSE 1 END),
               updated_at = now()
           WHERE connection_id = %s""",
        (key_id, access, refresh, tokens.access_expires_at, tokens.refresh_expires_at, refreshed_at, refreshed_at,
         connection_id),
    )


def reseal(conn: psycopg.Connection, connection_id: str, keyring: Keyring) -> bool:
    """Re-encrypt a connection's stored tokens with the current key, under its refresh lock (in the caller's
    transaction); False when it has none or they already use the current key. DecryptionError if they do not open."""
    lock_connection(conn, connection_id)
    stored = load_tokens(conn, connection_id, keyring)
    if stored is None or stored.info.key_id == keyring.current_id:
        return False
    _write(conn, connection_id, stored.tokens, keyring, None)
    return True


def mark_action_required(conn: psycopg.Connection, connection_id: str, reason: str) -> None:
    conn.execute(
        """UPDATE connections SET status = 'action_required', status_reason = %s, status_changed_at = now()
           WHERE connection_id = %s""",
        (reason, connection_id),
    )


def clear_action_required(conn: psycopg.Connection, connection_id: str, *, only_reason: str | None = None) -> None:
    """Back to ok (after a new consent; or, with only_reason, undo a mark that turned out to be a race)."""
    conn.execute(
        """UPDATE connections SET status = 'ok', status_reason = NULL, status_changed_at = now()
           WHERE connection_id = %s AND status <> 'ok' AND (%s::text IS NULL OR status_reason = %s)""",
        (connection_id, only_reason, only_reason),
    )


class _Refused(Exception):
    """The provider answered invalid_grant for `refresh_token` (kept out of every message)."""

    def __init__(self, refresh_token: str, cause: ApiError) -> None:
        super().__init__("invalid_grant")
        self.refresh_token = refresh_token
        self.cause = cause


@dataclass
class _Refresher:
    conn_factory: Callable[[], psycopg.Connection]
    connection_id: str
    refresh: Callable[[str], TokenSet]
    keyring: Keyring
    skew: timedelta
    now: Callable[[], datetime]
    invalid_grant_reason: str
    rejected: str | None = None  # an access token the provider refused: stale whatever its stored expiry

    def _require(self, conn: psycopg.Connection) -> StoredTokens:
        stored = load_tokens(conn, self.connection_id, self.keyring)
        if stored is None:
            raise NotConnected(f"Connection {self.connection_id} has no OAuth tokens: connect it first (consent flow)",
                               code="not_connected")
        return stored

    def _fresh(self, stored: StoredTokens) -> bool:
        if self.rejected is not None and _same(stored.tokens.access_token, self.rejected):
            return False
        return stored.info.access_expires_at - self.now() > self.skew

    def fast_path(self, conn: psycopg.Connection) -> str | None:
        """Most calls: a token that is valid well beyond the skew needs no lock."""
        with conn.transaction():
            stored = self._require(conn)
        if self._fresh(stored) and stored.info.key_id == self.keyring.current_id:
            return stored.tokens.access_token
        return None

    def under_lock(self, conn: psycopg.Connection) -> str:
        rotated: TokenSet | None = None
        used: str = ""
        try:
            with conn.transaction():
                lock_connection(conn, self.connection_id)
                # Another process may have refreshed while we waited for the lock.
                stored = self._require(conn)
                if self._fresh(stored):
                    if stored.info.key_id != self.keyring.current_id:
                        _write(conn, self.connection_id, stored.tokens, self.keyring, None)  # move to the new key
                    return stored.tokens.access_token
                used = stored.tokens.refresh_token or ""
                try:
                    issued = self.refresh(used)
                except ApiError as exc:
                    if exc.code == "invalid_grant":
                        raise _Refused(used, exc) from None  # rolls back: the lock is released
                    raise
                rotated = replace(issued, refresh_token=issued.refresh_token or used)
                _write(conn, self.connection_id, rotated, self.keyring, self.now())
        except psycopg.Error:
            if rotated is None:
                raise
            # The provider already rotated: the old token is dead, so losing the new one loses the connection.
            return self._save_after_failed_commit(used, rotated)
        log.info("refreshed the OAuth tokens of connection %s", self.connection_id)
        return rotated.access_token

    def _save_after_failed_commit(self, used: str, rotated: TokenSet) -> str:
        for delay in _SAVE_RETRIES:
            time.sleep(delay)
            try:
                with self.conn_factory() as conn, conn.transaction():
                    lock_connection(conn, self.connection_id)
                    stored = self._require(conn)
                    if not _same(stored.tokens.refresh_token, used):
                        # Someone stored newer tokens meanwhile (a new consent): keep theirs.
                        log.warning("connection %s: rotated tokens not stored, newer ones were", self.connection_id)
                        return rotated.access_token
                    _write(conn, self.connection_id, rotated, self.keyring, self.now())
                    # A concurrent refresher may have failed with the old token meanwhile and marked the connection.
                    clear_action_required(conn, self.connection_id, only_reason=self.invalid_grant_reason)
                log.warning("connection %s: rotated tokens stored on a second connection after a failed commit",
                            self.connection_id)
                return rotated.access_token
            except (psycopg.Error, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.code != "refresh_lock_timeout":
                    raise
                log.warning("connection %s: storing rotated tokens failed (%s); retrying", self.connection_id,
                            type(exc).__name__)
        log.error("connection %s: the provider rotated the refresh token but it could not be stored; the "
                  "connection will need a new consent", self.connection_id)
        raise ApiError(f"Connection {self.connection_id}: the refreshed tokens could not be stored in the database",
                       code="token_store_failed", transient=True)

    def settle_refusal(self, conn: psycopg.Connection, refused: _Refused) -> bool:
        """After invalid_grant: re-read under the lock; if the failed token is still stored, mark the connection.

        Returns True when another writer stored a different token meanwhile (worth one more try).
        """
        with conn.transaction():
            lock_connection(conn, self.connection_id)
            stored = self._require(conn)
            if not _same(stored.tokens.refresh_token, refused.refresh_token):
                return True
            mark_action_required(conn, self.connection_id, self.invalid_grant_reason)
        log.warning("connection %s: the stored refresh token was refused (invalid_grant); marked action_required",
                    self.connection_id)
        return False

    def refused_error(self, refused: _Refused) -> ApiError:
        return ApiError(f"Connection {self.connection_id}: {self.invalid_grant_reason}", status=refused.cause.status,
                        code="invalid_grant")


def _same(a: str | None, b: str | None) -> bool:
    return hmac.compare_digest((a or "").encode(), (b or "").encode())


def refresh_if_needed(
    conn_factory: Callable[[], psycopg.Connection] | None,
    connection_id: str,
    refresh: Callable[[str], TokenSet],
    *,
    skew: timedelta = DEFAULT_SKEW,
    keyring: Keyring | None = None,
    now: Callable[[], datetime] = utcnow,
    invalid_grant_reason: str = DEFAULT_INVALID_GRANT_REASON,
    rejected: str | None = None,
) -> str:
    """A valid access token for the connection, refreshing it (once, across processes) if it expires within `skew`.

    `refresh(refresh_token)` calls the provider and raises ApiError(code="invalid_grant") when the token is refused;
    then the connection is marked action_required with `invalid_grant_reason` and ApiError(code="invalid_grant") is
    raised, unless a re-read finds that another writer stored a different token meanwhile.
    `rejected`: the access token the provider just refused; it is refreshed even if its stored expiry looks far
    off, unless (checked under the lock) another caller has already stored a different one.
    """
    # The store opens its own connections (None: the app's database): the refresh holds an advisory lock in one
    # transaction across the provider's call, and saves rotated tokens on a fresh one if that commit fails.
    conn_factory = conn_factory or connect
    worker = _Refresher(conn_factory, connection_id, refresh, keyring or Keyring.from_secrets(), skew, now,
                        invalid_grant_reason, rejected)
    with conn_factory() as conn:
        token = worker.fast_path(conn)
        if token is not None:
            return token
        try:
            return worker.under_lock(conn)
        except _Refused as refused:
            if not worker.settle_refusal(conn, refused):
                raise worker.refused_error(refused) from refused.cause
        # A different token was stored meanwhile (a new consent, or a writer outside this lock): one more try.
        try:
            return worker.under_lock(conn)
        except _Refused as refused:
            if worker.settle_refusal(conn, refused):
                raise ApiError(f"Connection {connection_id}: the stored tokens kept changing while refreshing; "
                               "try again", code="refresh_conflict", transient=True) from None
            raise worker.refused_error(refused) from refused.cause
