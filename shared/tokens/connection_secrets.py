"""Credentials stored for a connection (e.g. an API token given through the API), encrypted at rest.

Sealed with the token keyring (shared/tokens/crypto.py) and bound to the connection id and the credential's
name, so a ciphertext copied to another row does not open. Values never appear in logs, reprs or errors.
"""

from __future__ import annotations

import psycopg

from shared.tokens.crypto import Keyring

_PURPOSE = "connection-secret:"


def save_secret(conn: psycopg.Connection, connection_id: str, name: str, value: str, keyring: Keyring) -> None:
    """Store (or replace) a connection's credential, sealed with the current key; in the caller's transaction."""
    if not value:
        raise ValueError(f"Connection {connection_id}: refusing to store an empty {name}")
    sealed = keyring.encrypt(value, connection_id=connection_id, purpose=_PURPOSE + name)
    conn.execute(
        """INSERT INTO connection_secrets (connection_id, name, key_id, secret_enc) VALUES (%s, %s, %s, %s)
           ON CONFLICT (connection_id, name) DO UPDATE
           SET key_id = EXCLUDED.key_id, secret_enc = EXCLUDED.secret_enc, updated_at = now()""",
        (connection_id, name, keyring.current_id, sealed),
    )


def load_secret(conn: psycopg.Connection, connection_id: str, name: str, keyring: Keyring) -> str | None:
    """The credential, decrypted; None when none is stored. DecryptionError when it does not open."""
    row = conn.execute("SELECT key_id, secret_enc FROM connection_secrets WHERE connection_id = %s AND name = %s",
                       (connection_id, name)).fetchone()
    if row is None:
        return None
    return keyring.decrypt(row[1], key_id=row[0], connection_id=connection_id, purpose=_PURPOSE + name)


def stored_names(conn: psycopg.Connection, connection_id: str) -> frozenset[str]:
    """The names of the credentials stored for a connection (what a listing may say: never the values)."""
    rows = conn.execute("SELECT name FROM connection_secrets WHERE connection_id = %s", (connection_id,)).fetchall()
    return frozenset(row[0] for row in rows)


def stale_secrets(conn: psycopg.Connection, current_key_id: str) -> list[tuple[str, str]]:
    """(connection id, name) of every stored credential sealed with another key than the current one."""
    return [(cid, name) for cid, name in conn.execute(
        "SELECT connection_id, name FROM connection_secrets WHERE key_id <> %s ORDER BY connection_id, name",
        (current_key_id,)).fetchall()]


def reseal_secret(conn: psycopg.Connection, connection_id: str, name: str, keyring: Keyring) -> bool:
    """Re-seal one stored credential with the current key (row locked; in the caller's transaction)."""
    row = conn.execute("SELECT key_id FROM connection_secrets WHERE connection_id = %s AND name = %s FOR UPDATE",
                       (connection_id, name)).fetchone()
    if row is None or row[0] == keyring.current_id:
        return False
    value = load_secret(conn, connection_id, name, keyring)
    assert value is not None
    save_secret(conn, connection_id, name, value, keyring)
    return True
