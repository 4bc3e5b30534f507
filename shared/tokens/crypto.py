"""AES-256-GCM for small secrets at rest (OAuth tokens), with key ids so the key can be rotated.

A sealed value is `version byte || 96-bit random nonce || ciphertext+tag`. The associated data names
the connection and the purpose, so a ciphertext copied to another row or column does not decrypt.
The key id (a fingerprint of the key) is stored beside the ciphertext; old keys stay readable while
they are listed in `token-encryption-key-previous`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.core.secrets import SecretNotFound, SecretsProvider, secrets_provider

KEY_SECRET = "token-encryption-key"
PREVIOUS_KEYS_SECRET = "token-encryption-key-previous"
_FORMAT = 1
_NONCE_BYTES = 12
_KEY_BYTES = 32


class CryptoError(Exception):
    """Base of the errors below; messages never contain key material or plaintext."""


class KeyConfigError(CryptoError):
    """The encryption key is missing or is not a base64-encoded 256-bit key."""


class DecryptionError(CryptoError):
    """A sealed value cannot be opened: wrong key, wrong connection or purpose, or tampered bytes."""


def key_id_of(key: bytes) -> str:
    """A public fingerprint of a key (safe to store: SHA-256 of a random 256-bit key reveals nothing)."""
    return hashlib.sha256(b"bizmetrics-key-id\x00" + key).hexdigest()[:16]


def _decode_key(text: str, secret_name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"Secret {secret_name!r} is not valid base64; it must hold a base64-encoded "
                             "32-byte key (make one with: openssl rand -base64 32)") from None
    if len(key) != _KEY_BYTES:
        raise KeyConfigError(f"Secret {secret_name!r} decodes to {len(key)} bytes; AES-256 needs exactly 32 "
                             "(make one with: openssl rand -base64 32)")
    return key


def _associated_data(connection_id: str, purpose: str) -> bytes:
    # JSON keeps the fields unambiguous whatever characters they hold.
    return json.dumps(["bizmetrics-secret", _FORMAT, connection_id, purpose]).encode()


@dataclass(frozen=True)
class Keyring:
    """The current key (used to encrypt) and every key that may still decrypt, by key id."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)

    @classmethod
    def from_keys(cls, current: bytes, previous: list[bytes] | tuple[bytes, ...] = ()) -> Keyring:
        for key in (current, *previous):
            if len(key) != _KEY_BYTES:
                raise KeyConfigError(f"An encryption key must be 32 bytes, got {len(key)}")
        keys = {key_id_of(k): k for k in previous}
        keys[key_id_of(current)] = current
        return cls(key_id_of(current), keys)

    @classmethod
    def from_secrets(cls, provider: SecretsProvider | None = None) -> Keyring:
        """Keys from the secrets provider; previous keys are optional, comma or whitespace separated."""
        provider = provider or secrets_provider()
        try:
            raw_current = provider.get(KEY_SECRET)
        except SecretNotFound as exc:
            raise KeyConfigError(f"The token encryption key is not configured: {exc.args[0]}") from None
        try:
            raw_previous = provider.get(PREVIOUS_KEYS_SECRET)
        except SecretNotFound:
            raw_previous = ""
        previous = [_decode_key(part, PREVIOUS_KEYS_SECRET) for part in raw_previous.replace(",", " ").split()]
        return cls.from_keys(_decode_key(raw_current, KEY_SECRET), previous)

    def encrypt(self, plaintext: str, *, connection_id: str, purpose: str) -> bytes:
        """Seal with the current key (its id is `current_id`, to be stored beside the result)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current_id]).encrypt(
            nonce, plaintext.encode(), _associated_data(connection_id, purpose))
        return bytes([_FORMAT]) + nonce + sealed

    def decrypt(self, blob: bytes, *, key_id: str, connection_id: str, purpose: str) -> str:
        """Open a sealed value; raises DecryptionError (never returns garbage) when anything does not match."""
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(
                f"The {purpose} of connection {connection_id} was encrypted with key {key_id}, which is neither "
                f"{KEY_SECRET!r} nor listed in {PREVIOUS_KEYS_SECRET!r}")
        blob = bytes(blob)
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[0] != _FORMAT:
            raise DecryptionError(f"The stored {purpose} of connection {connection_id} is not a sealed value")
        nonce, sealed = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, _associated_data(connection_id, purpose))
        except InvalidTag:
            raise DecryptionError(
                f"The stored {purpose} of connection {connection_id} does not decrypt with key {key_id}: it was "
                "altered, or belongs to another connection or purpose") from None
        return plain.decode()
