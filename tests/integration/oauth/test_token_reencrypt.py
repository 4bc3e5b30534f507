"""Rotating the token encryption key: `python -m shared.tokens.reencrypt` moves every stored token to the current
key and reports the rows per key id before and after; key_usage() gives the counts the connections listing shows.
Real PostgreSQL (a database of its own: the count covers every row), two real keys."""

from __future__ import annotations

import base64
import io
import os
from datetime import timedelta

import psycopg
import pytest

from plugins import registry
from shared.db.connections import Connection, upsert_connection
from shared.db.migrate import migrate
from shared.tokens import reencrypt
from shared.tokens.crypto import DecryptionError, Keyring, key_id_of
from shared.tokens.store import TokenSet, load_info, load_tokens, save_consent, utcnow

OLD, NEW, LOST = os.urandom(32), os.urandom(32), os.urandom(32)


@pytest.fixture
def own_db(pg_dsn: str, new_db) -> str:
    dsn = new_db()
    with psycopg.connect(dsn) as conn:
        migrate(conn, registry.migration_folders())
    return dsn


def tokens_for(cid: str) -> TokenSet:
    return TokenSet(f"at-{cid}", f"rt-{cid}", utcnow() + timedelta(hours=1), utcnow() + timedelta(days=100))


def seed(dsn: str, ring: Keyring, *cids: str) -> None:
    with psycopg.connect(dsn) as conn:
        for cid in cids:
            upsert_connection(conn, Connection(cid, "quickbooks", cid, {"realm_id": "1", "auth": "oauth"}))
            save_consent(conn, cid, tokens_for(cid), ring)
            conn.execute("UPDATE oauth_tokens SET refresh_count = 7, last_refreshed_at = now() - interval '1 day' "
                         "WHERE connection_id = %s", (cid,))


def use_keys(monkeypatch: pytest.MonkeyPatch, current: bytes, *previous: bytes) -> None:
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", base64.b64encode(current).decode())
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS", " ".join(base64.b64encode(k).decode() for k in previous))


def test_reencrypt_moves_every_token_to_the_current_key_and_reports_the_counts(own_db: str, monkeypatch):
    seed(own_db, Keyring.from_keys(OLD), "acme", "globex", "initech")
    seed(own_db, Keyring.from_keys(NEW), "umbrella")
    with psycopg.connect(own_db) as conn:
        assert reencrypt.key_usage(conn) == {key_id_of(OLD): 3, key_id_of(NEW): 1}
        infos = {cid: load_info(conn, cid) for cid in ("acme", "globex", "initech")}

    use_keys(monkeypatch, NEW, OLD)
    out = io.StringIO()
    assert reencrypt.main([], out=out, conn_factory=lambda: psycopg.connect(own_db)) == 0
    text = out.getvalue()
    assert f"Before (connections per key id):\n  {min(key_id_of(OLD), key_id_of(NEW))}" in text
    assert f"  {key_id_of(OLD)}: 3\n" in text and "Re-encrypted 3 connection(s)" in text
    assert text.endswith(f"After:\n  {key_id_of(NEW)}: 4  (current)\n")
    assert base64.b64encode(OLD).decode() not in text and "at-acme" not in text

    only_new = Keyring.from_keys(NEW)  # the old key can now be dropped
    with psycopg.connect(own_db) as conn:
        assert reencrypt.key_usage(conn) == {key_id_of(NEW): 4}
        for cid in ("acme", "globex", "initech", "umbrella"):
            stored = load_tokens(conn, cid, only_new)
            assert (stored.tokens.access_token, stored.tokens.refresh_token) == (f"at-{cid}", f"rt-{cid}")
        for cid, before in infos.items():
            after = load_info(conn, cid)
            assert (after.refresh_count, after.last_refreshed_at, after.consented_at) == (
                before.refresh_count, before.last_refreshed_at, before.consented_at), "a re-seal is not a refresh"
        with pytest.raises(DecryptionError):
            load_tokens(conn, "acme", Keyring.from_keys(OLD))


def test_rows_under_a_key_no_longer_configured_are_listed_and_the_rest_still_move(own_db: str, monkeypatch):
    seed(own_db, Keyring.from_keys(OLD), "acme")
    seed(own_db, Keyring.from_keys(LOST), "lost-co")
    use_keys(monkeypatch, NEW, OLD)
    out = io.StringIO()
    assert reencrypt.main([], out=out, conn_factory=lambda: psycopg.connect(own_db)) == 1
    text = out.getvalue()
    assert f"not re-encrypted: lost-co: The access_token of connection lost-co was encrypted with key " \
           f"{key_id_of(LOST)}" in text
    assert f"After:\n  {key_id_of(NEW)}: 1  (current)\n  {key_id_of(LOST)}: 1\n" in text or \
           f"After:\n  {key_id_of(LOST)}: 1\n  {key_id_of(NEW)}: 1  (current)\n" in text


def test_a_dry_run_counts_without_writing(own_db: str, monkeypatch):
    seed(own_db, Keyring.from_keys(OLD), "acme")
    use_keys(monkeypatch, NEW, OLD)
    out = io.StringIO()
    assert reencrypt.main(["--dry-run"], out=out, conn_factory=lambda: psycopg.connect(own_db)) == 1
    assert f"  {key_id_of(OLD)}: 1" in out.getvalue() and "Re-encrypted" not in out.getvalue()
    with psycopg.connect(own_db) as conn:
        assert reencrypt.key_usage(conn) == {key_id_of(OLD): 1}


def test_credentials_given_through_the_api_are_counted_and_moved_too(own_db: str, monkeypatch):
    from shared.tokens.connection_secrets import load_secret, save_secret

    seed(own_db, Keyring.from_keys(OLD), "acme")
    with psycopg.connect(own_db) as conn:
        upsert_connection(conn, Connection("board-co", "monday", "Boards", {"api_token_stored": True}))
        save_secret(conn, "board-co", "api_token", "monday-token-value", Keyring.from_keys(OLD))
        assert reencrypt.key_usage(conn) == {key_id_of(OLD): 2}
    use_keys(monkeypatch, NEW, OLD)
    out = io.StringIO()
    assert reencrypt.main([], out=out, conn_factory=lambda: psycopg.connect(own_db)) == 0
    assert "monday-token-value" not in out.getvalue()
    with psycopg.connect(own_db) as conn:
        assert reencrypt.key_usage(conn) == {key_id_of(NEW): 2}
        assert load_secret(conn, "board-co", "api_token", Keyring.from_keys(NEW)) == "monday-token-value"
