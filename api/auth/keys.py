"""Scoped API keys for machines: `bzk_<key id>_<secret>`, shown once, stored only as a keyed hash.

The hash is HMAC-SHA256 under a pepper from the secrets provider (Key Vault secret `api-key-pepper`; locally the
setting SECRET_API_KEY_PEPPER): a copy of the database alone cannot be used to try keys. Each row names the pepper
it was hashed with (`pepper_id`, a fingerprint of it), so the pepper can rotate: move the old value to
`api-key-pepper-previous`, put a new one in `api-key-pepper`, and each key is re-hashed under the new pepper the
next time it is used. Rotating a key issues a new one with the same scopes and lets the old one live out a grace
period, so callers can switch without downtime.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from api.auth.principal import SCOPES, Principal
from shared.core.secrets import SecretNotFound, SecretsProvider, env_name, secrets_provider
from shared.db import audit

log = logging.getLogger(__name__)

KEY_PREFIX = "bzk_"
PEPPER_SECRET = "api-key-pepper"
PREVIOUS_PEPPER_SECRET = "api-key-pepper-previous"
DEFAULT_GRACE = dt.timedelta(hours=24)
LAST_USED_EVERY = dt.timedelta(minutes=1)
MIN_PEPPER_CHARS = 32
_PEPPER_REREAD_SECONDS = 60.0

# No 0/1/l/o: key ids get read aloud and typed from screenshots. Must stay within the migration's [a-z0-9].
_KEY_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_KEY_ID_LENGTH = 10
_SECRET_BYTES = 32
_KEY_TEXT = re.compile(r"bzk_([a-z0-9]{10})_([A-Za-z0-9_-]{43,128})")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
_CONNECTION_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_COLUMNS = ("key_id, name, scopes, connections, created_at, created_by, expires_at, revoked_at, revoked_by, "
            "last_used_at, replaced_by")


class KeyRejected(Exception):
    """A presented key that does not authenticate. `code` is for the caller; no message ever holds the key."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class KeyNotFound(LookupError):
    """A key id the CLI names that does not exist."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key's description (never its hash or text)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    connections: frozenset[str] | None
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    last_used_at: dt.datetime | None
    replaced_by: str | None

    def state(self, now: dt.datetime) -> str:
        """revoked, expired, replaced (rotated, still in its grace period) or active."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "replaced" if self.replaced_by else "active"

    def principal(self) -> Principal:
        return Principal(kind="key", subject=self.key_id, name=self.name, scopes=self.scopes & frozenset(SCOPES),
                         connections=self.connections)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: `text` is the only copy there will ever be (kept out of repr, so out of logs)."""

    key: ApiKey
    text: str = field(repr=False)


def pepper_id(pepper: str) -> str:
    """A fingerprint naming a pepper without revealing it (the pepper itself is high-entropy)."""
    return "p" + hashlib.sha256(b"bizmetrics api-key pepper\0" + pepper.encode()).hexdigest()[:12]


def key_hash(pepper: str, text: str) -> str:
    return hmac.new(pepper.encode(), text.encode(), hashlib.sha256).hexdigest()


class PepperUnavailable(ValueError):
    """The pepper secret is missing or too short: no key can be checked until the operator sets it."""


class Peppers:
    """The current and previous pepper from the secrets provider, cached briefly so a request is no Key Vault call."""

    def __init__(self, provider: SecretsProvider, ttl_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._provider = provider
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._by_id: dict[str, str] = {}
        self._current = ""

    def current(self) -> tuple[str, str]:
        """(pepper id, pepper) to hash new keys with."""
        self._load()
        return self._current, self._by_id[self._current]

    def get(self, pid: str) -> str | None:
        """The pepper with id `pid`; an id not seen yet (the pepper just rotated) rereads, at most once a minute."""
        self._load()
        if pid not in self._by_id:
            self._load(max_age=_PEPPER_REREAD_SECONDS)
        return self._by_id.get(pid)

    def _load(self, max_age: float | None = None) -> None:
        with self._lock:
            age = None if self._loaded_at is None else self._clock() - self._loaded_at
            if age is not None and age < (self._ttl if max_age is None else max_age):
                return
            try:
                current = self._provider.get(PEPPER_SECRET)
            except SecretNotFound:
                raise PepperUnavailable(f"Secret {PEPPER_SECRET!r} is not set (locally: the app setting "
                                        f"{env_name(PEPPER_SECRET)})") from None
            if len(current) < MIN_PEPPER_CHARS:
                raise PepperUnavailable(f"Secret {PEPPER_SECRET!r} must be at least {MIN_PEPPER_CHARS} characters")
            by_id = {pepper_id(current): current}
            try:
                previous = self._provider.get(PREVIOUS_PEPPER_SECRET)
            except SecretNotFound:
                previous = ""
            if previous:
                by_id.setdefault(pepper_id(previous), previous)
            self._current, self._by_id, self._loaded_at = pepper_id(current), by_id, self._clock()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key_text() -> tuple[str, str]:
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH))
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def looks_like_key(text: str) -> bool:
    """Whether a bearer credential is meant as an API key (as opposed to an Entra token)."""
    return text.startswith(KEY_PREFIX)


class ApiKeys:
    """Create, list, revoke, rotate and verify keys in `api_keys`; every change is audited in its transaction."""

    def __init__(self, conn_factory: Callable[[], Any], *, peppers: Peppers | None = None,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._conn_factory = conn_factory
        self._peppers = peppers or Peppers(secrets_provider())
        self._clock = clock

    # --- management (CLI) ---

    def create(self, name: str, scopes: Iterable[str], connections: Iterable[str] | None = None,
               expires_in: dt.timedelta | None = None, *, actor: str) -> IssuedKey:
        """A new key; its text is returned once and stored nowhere."""
        name, scope_list, connection_list = _checked(name, scopes, connections)
        if expires_in is not None and expires_in <= dt.timedelta(0):
            raise ValueError("A key's lifetime must be positive")
        with self._conn_factory() as conn, conn.transaction():
            _check_connections_exist(conn, connection_list)
            now = self._clock()
            issued = self._insert(conn, name, scope_list, connection_list, now,
                                  now + expires_in if expires_in else None, actor)
            audit.record(conn, actor, "api_key.created", issued.key.key_id, {
                "name": name, "scopes": scope_list, "connections": connection_list,
                "expires_at": _iso(issued.key.expires_at)})
        log.info("API key %s (%s) created by %s", issued.key.key_id, name, actor)
        return issued

    def list_keys(self) -> list[ApiKey]:
        with self._conn_factory() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [_row_to_key(row) for row in rows]

    def get(self, key_id: str) -> ApiKey:
        with self._conn_factory() as conn:
            return self._get(conn, key_id)

    def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        """Refuse the key from now on (idempotent: revoking a revoked key changes nothing)."""
        with self._conn_factory() as conn, conn.transaction():
            key = self._get(conn, key_id, lock=True)
            if key.revoked_at is not None:
                return key
            conn.execute("UPDATE api_keys SET revoked_at = %s, revoked_by = %s WHERE key_id = %s",
                         (self._clock(), actor, key.key_id))
            audit.record(conn, actor, "api_key.revoked", key.key_id, {"name": key.name})
            key = self._get(conn, key_id)
        log.info("API key %s revoked by %s", key_id, actor)
        return key

    def rotate(self, key_id: str, grace: dt.timedelta = DEFAULT_GRACE, *, actor: str) -> IssuedKey:
        """A new key with the same name, scopes and allow-list; the old one keeps working for `grace`."""
        if grace < dt.timedelta(0):
            raise ValueError("The grace period cannot be negative")
        with self._conn_factory() as conn, conn.transaction():
            old = self._get(conn, key_id, lock=True)
            now = self._clock()
            if old.state(now) in ("revoked", "expired"):
                raise ValueError(f"Key {old.key_id} is {old.state(now)}: create a new key instead of rotating it")
            if old.replaced_by:
                raise ValueError(f"Key {old.key_id} was already rotated to {old.replaced_by}: rotate that one")
            # The new key lives as long as the old one was meant to, counted from now.
            lifetime = old.expires_at - old.created_at if old.expires_at else None
            issued = self._insert(conn, old.name, sorted(old.scopes),
                                  sorted(old.connections) if old.connections is not None else None,
                                  now, now + lifetime if lifetime else None, actor)
            old_expiry = now + grace if old.expires_at is None else min(old.expires_at, now + grace)
            conn.execute("UPDATE api_keys SET expires_at = %s, replaced_by = %s WHERE key_id = %s",
                         (old_expiry, issued.key.key_id, old.key_id))
            audit.record(conn, actor, "api_key.created", issued.key.key_id, {
                "name": old.name, "scopes": sorted(old.scopes), "rotated_from": old.key_id,
                "connections": sorted(old.connections) if old.connections is not None else None,
                "expires_at": _iso(issued.key.expires_at)})
            audit.record(conn, actor, "api_key.rotated", old.key_id, {
                "replaced_by": issued.key.key_id, "expires_at": _iso(old_expiry)})
        log.info("API key %s rotated to %s by %s; the old key expires at %s", old.key_id, issued.key.key_id, actor,
                 old_expiry.isoformat())
        return issued

    # --- authentication (every request with a key) ---

    def verify(self, text: str) -> ApiKey:
        """The key `text` authenticates as, or KeyRejected (invalid_credentials, key_revoked, key_expired)."""
        match = _KEY_TEXT.fullmatch(text)
        if not match:
            raise KeyRejected("invalid_credentials", "The API key is malformed")
        key_id = match.group(1)
        with self._conn_factory() as conn, conn.transaction():
            row = conn.execute(f"SELECT {_COLUMNS}, key_hash, pepper_id FROM api_keys WHERE key_id = %s",
                               (key_id,)).fetchone()
            if row is None:
                key_hash(self._peppers.current()[1], text)  # same work as a known id: no timing hint
                raise KeyRejected("invalid_credentials", "The API key is not valid")
            key, stored_hash, pid = _row_to_key(row[:-2]), row[-2], row[-1]
            pepper = self._peppers.get(pid)
            if pepper is None:
                log.warning("API key %s was hashed with pepper %s, which is not configured", key_id, pid)
                raise KeyRejected("invalid_credentials", "The API key is not valid")
            if not hmac.compare_digest(key_hash(pepper, text), stored_hash):
                raise KeyRejected("invalid_credentials", "The API key is not valid")
            # Only a caller holding the real key learns its state.
            now = self._clock()
            state = key.state(now)
            if state == "revoked":
                raise KeyRejected("key_revoked", f"API key {key_id} was revoked; ask for a new key")
            if state == "expired":
                raise KeyRejected("key_expired", f"API key {key_id} expired; ask for a new key")
            current_id, current = self._peppers.current()
            if pid != current_id:
                conn.execute("UPDATE api_keys SET key_hash = %s, pepper_id = %s WHERE key_id = %s",
                             (key_hash(current, text), current_id, key_id))
            if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
                conn.execute("UPDATE api_keys SET last_used_at = %s WHERE key_id = %s", (now, key_id))
        return key

    # --- helpers ---

    def _insert(self, conn: psycopg.Connection, name: str, scopes: list[str], connections: list[str] | None,
                now: dt.datetime, expires_at: dt.datetime | None, actor: str) -> IssuedKey:
        pid, pepper = self._peppers.current()
        while True:
            key_id, text = _new_key_text()
            # 32^10 ids make a clash vanishingly rare; ON CONFLICT keeps it from being an error if one happens.
            row = conn.execute(
                f"""INSERT INTO api_keys (key_id, name, key_hash, pepper_id, scopes, connections, created_at,
                                          created_by, expires_at)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (key_id) DO NOTHING RETURNING {_COLUMNS}""",
                (key_id, name, key_hash(pepper, text), pid, scopes, connections, now, actor, expires_at),
            ).fetchone()
            if row is not None:
                return IssuedKey(_row_to_key(row), text)

    def _get(self, conn: psycopg.Connection, key_id: str, *, lock: bool = False) -> ApiKey:
        row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = %s" + (" FOR UPDATE" if lock else ""),
                           (key_id,)).fetchone()
        if row is None:
            raise KeyNotFound(f"No API key {key_id!r}")
        return _row_to_key(row)


def _checked(name: str, scopes: Iterable[str], connections: Iterable[str] | None
             ) -> tuple[str, list[str], list[str] | None]:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ValueError("A key's name must be 1-100 printable characters")
    scope_list = sorted(set(scopes))
    unknown = [s for s in scope_list if s not in SCOPES]
    if unknown or not scope_list:
        raise ValueError(f"Scopes must be one or more of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    if connections is None:
        return name, scope_list, None
    connection_list = sorted(set(connections))
    bad = [c for c in connection_list if not _CONNECTION_ID.fullmatch(c)]
    if bad or not connection_list:
        raise ValueError(f"Invalid connection ids in the allow-list: {bad!r}" if bad
                         else "An allow-list needs at least one connection (omit it for every connection)")
    return name, scope_list, connection_list


def _check_connections_exist(conn: psycopg.Connection, connections: Sequence[str] | None) -> None:
    if not connections:
        return
    known = {c for (c,) in conn.execute("SELECT connection_id FROM connections WHERE connection_id = ANY(%s)",
                                        (list(connections),))}
    missing = [c for c in connections if c not in known]
    if missing:
        raise ValueError(f"Unknown connections in the allow-list: {', '.join(missing)}")


def _row_to_key(row: Sequence[Any]) -> ApiKey:
    (key_id, name, scopes, connections, created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at,
     replaced_by) = row
    return ApiKey(key_id, name, frozenset(scopes), frozenset(connections) if connections is not None else None,
                  created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at, replaced_by)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
