"""Tokens at rest: only AES-GCM ciphertext in PostgreSQL, bound to its connection and column; altered bytes or
the wrong key fail clearly; a previous key keeps working during rotation and is replaced on first use."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import psycopg
import pytest

from plugins.quickbooks.oauth import bearer_token
from shared.tokens.crypto import DecryptionError, Keyring
from shared.tokens.store import utcnow

from .conftest import Sim, new_key


def test_the_database_holds_neither_token_only_ciphertext_and_its_key_id(sim: Sim, qbo_connection, pg_dsn: str):
    made = qbo_connection(sim)
    access = bearer_token(made.connection)  # a refresh: the simulator's tokens are now stored
    refresh = sim.current_refresh_token()
    assert refresh is not None
    row = made.row()
    assert row["key_id"] == Keyring.from_secrets().current_id
    with psycopg.connect(pg_dsn) as conn:
        dumped = conn.execute("SELECT t::text FROM oauth_tokens t WHERE connection_id = %s",
                              (made.connection_id,)).fetchone()[0]
    for secret in (access, refresh):
        for column in ("access_token_enc", "refresh_token_enc"):
            blob = bytes(row[column])
            assert secret.encode() not in blob and base64.b64encode(secret.encode()) not in blob
        assert secret not in dumped and secret.encode().hex() not in dumped


def test_an_altered_byte_in_the_stored_ciphertext_fails_decryption_clearly(sim: Sim, qbo_connection, pg_dsn: str):
    made = qbo_connection(sim)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET refresh_token_enc = set_byte(refresh_token_enc, 20, "
                     "get_byte(refresh_token_enc, 20) # 1) WHERE connection_id = %s", (made.connection_id,))
    with pytest.raises(DecryptionError, match=f"refresh_token of connection {made.connection_id} does not decrypt"):
        bearer_token(made.connection)
    assert sim.token_calls == []


def test_ciphertext_moved_to_another_connection_or_column_does_not_decrypt(sim: Sim, qbo_connection, pg_dsn: str):
    first, second = qbo_connection(sim), qbo_connection(sim)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""UPDATE oauth_tokens SET access_token_enc = (SELECT access_token_enc FROM oauth_tokens
                                                                    WHERE connection_id = %s)
                        WHERE connection_id = %s""", (first.connection_id, second.connection_id))
        conn.execute("""UPDATE oauth_tokens SET access_token_enc = refresh_token_enc,
                               refresh_token_enc = access_token_enc WHERE connection_id = %s""",
                     (first.connection_id,))
    for made in (first, second):
        with pytest.raises(DecryptionError, match="belongs to another connection or purpose"):
            bearer_token(made.connection)


def test_a_key_that_changed_without_keeping_the_old_one_fails_clearly_then_rotation_reseals(
        sim: Sim, qbo_connection, monkeypatch: pytest.MonkeyPatch):
    made = qbo_connection(sim)
    made.store("at-still-good", sim.initial_refresh_token, utcnow() + timedelta(hours=1))
    old_key = os.environ["SECRET_TOKEN_ENCRYPTION_KEY"]
    old_id = made.row()["key_id"]

    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", new_key())
    with pytest.raises(DecryptionError, match=f"encrypted with key {old_id}, which is neither 'token-encryption-key' "
                                              "nor listed in 'token-encryption-key-previous'"):
        bearer_token(made.connection)

    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS", old_key)
    assert bearer_token(made.connection) == "at-still-good"
    assert made.row()["key_id"] == Keyring.from_secrets().current_id != old_id, "re-sealed with the current key"

    monkeypatch.delenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS")
    assert bearer_token(made.connection) == "at-still-good"
    assert sim.token_calls == [] and made.row()["refresh_count"] == 0
