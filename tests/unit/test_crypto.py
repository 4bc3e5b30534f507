"""AES-GCM sealing of small secrets: bound to connection and purpose, tamper-evident, keys rotate by key id."""

from __future__ import annotations

import base64
import os

import pytest

from shared.core.secrets import EnvSecrets
from shared.tokens.crypto import DecryptionError, KeyConfigError, Keyring, key_id_of


def ring(*keys: bytes) -> Keyring:
    return Keyring.from_keys(keys[0], list(keys[1:]))


def test_sealed_value_opens_only_for_its_connection_and_purpose():
    keys = ring(os.urandom(32))
    sealed = keys.encrypt("rt-secret-value", connection_id="acme", purpose="refresh_token")
    assert b"rt-secret-value" not in sealed
    assert keys.decrypt(sealed, key_id=keys.current_id, connection_id="acme", purpose="refresh_token") == \
        "rt-secret-value"
    with pytest.raises(DecryptionError, match="belongs to another connection or purpose"):
        keys.decrypt(sealed, key_id=keys.current_id, connection_id="other", purpose="refresh_token")
    with pytest.raises(DecryptionError, match="belongs to another connection or purpose"):
        keys.decrypt(sealed, key_id=keys.current_id, connection_id="acme", purpose="access_token")


def test_every_seal_uses_a_fresh_nonce():
    keys = ring(os.urandom(32))
    first = keys.encrypt("same", connection_id="acme", purpose="p")
    second = keys.encrypt("same", connection_id="acme", purpose="p")
    assert first != second and first[1:13] != second[1:13]


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_altered_byte_is_refused(position: int):
    keys = ring(os.urandom(32))
    sealed = bytearray(keys.encrypt("token", connection_id="acme", purpose="p"))
    sealed[position] ^= 0x01
    with pytest.raises(DecryptionError):
        keys.decrypt(bytes(sealed), key_id=keys.current_id, connection_id="acme", purpose="p")


def test_truncated_value_is_refused():
    keys = ring(os.urandom(32))
    with pytest.raises(DecryptionError, match="is not a sealed value"):
        keys.decrypt(b"\x01short", key_id=keys.current_id, connection_id="acme", purpose="p")


def test_a_key_that_is_not_configured_names_the_key_id_and_the_secrets():
    old, new = os.urandom(32), os.urandom(32)
    sealed = ring(old).encrypt("token", connection_id="acme", purpose="p")
    with pytest.raises(DecryptionError) as caught:
        ring(new).decrypt(sealed, key_id=key_id_of(old), connection_id="acme", purpose="p")
    assert key_id_of(old) in str(caught.value) and "token-encryption-key-previous" in str(caught.value)


def test_a_wrong_key_under_a_matching_key_id_is_refused():
    sealed = ring(os.urandom(32)).encrypt("token", connection_id="acme", purpose="p")
    other = ring(os.urandom(32))
    with pytest.raises(DecryptionError):
        other.decrypt(sealed, key_id=other.current_id, connection_id="acme", purpose="p")


def test_previous_keys_still_decrypt_after_rotation():
    old, new = os.urandom(32), os.urandom(32)
    sealed = ring(old).encrypt("token", connection_id="acme", purpose="p")
    rotated = ring(new, old)
    assert rotated.current_id == key_id_of(new)
    assert rotated.decrypt(sealed, key_id=key_id_of(old), connection_id="acme", purpose="p") == "token"


def test_keys_come_from_the_secrets_provider(monkeypatch: pytest.MonkeyPatch):
    current, previous = os.urandom(32), [os.urandom(32), os.urandom(32)]
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", base64.b64encode(current).decode())
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS",
                       ", ".join(base64.b64encode(k).decode() for k in previous))
    keys = Keyring.from_secrets(EnvSecrets())
    assert keys.current_id == key_id_of(current)
    assert set(keys.keys) == {key_id_of(k) for k in (current, *previous)}


def test_missing_key_says_which_setting_to_define(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SECRET_TOKEN_ENCRYPTION_KEY", raising=False)
    with pytest.raises(KeyConfigError, match="SECRET_TOKEN_ENCRYPTION_KEY"):
        Keyring.from_secrets(EnvSecrets())


@pytest.mark.parametrize(("value", "message"), [
    ("not base64!", "is not valid base64"),
    (base64.b64encode(os.urandom(16)).decode(), "decodes to 16 bytes"),
])
def test_malformed_key_is_refused_with_how_to_make_one(monkeypatch: pytest.MonkeyPatch, value: str, message: str):
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", value)
    monkeypatch.delenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS", raising=False)
    with pytest.raises(KeyConfigError, match=message) as caught:
        Keyring.from_secrets(EnvSecrets())
    assert "openssl rand -base64 32" in str(caught.value) and value not in str(caught.value)


def test_malformed_previous_key_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("SECRET_TOKEN_ENCRYPTION_KEY_PREVIOUS", "abc")
    with pytest.raises(KeyConfigError, match="token-encryption-key-previous"):
        Keyring.from_secrets(EnvSecrets())


def test_keys_never_show_in_reprs():
    key = os.urandom(32)
    assert repr(key) not in repr(ring(key)) and base64.b64encode(key).decode() not in repr(ring(key))
