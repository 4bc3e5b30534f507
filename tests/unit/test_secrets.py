"""Secrets: Key Vault when configured, local settings otherwise; missing ones say where to put them."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.core import secrets


@pytest.fixture(autouse=True)
def fresh_provider():
    secrets.secrets_provider.cache_clear()
    yield
    secrets.secrets_provider.cache_clear()


def test_local_secret_comes_from_its_setting(monkeypatch):
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    monkeypatch.setenv("SECRET_QBO_ACME_ACCESS_TOKEN", "t0ken")
    assert secrets.secrets_provider().get("qbo-acme-access-token") == "t0ken"


def test_missing_local_secret_names_the_setting(monkeypatch):
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    monkeypatch.delenv("SECRET_NOPE", raising=False)
    with pytest.raises(secrets.SecretNotFound, match=r"define SECRET_NOPE in local\.settings\.json"):
        secrets.secrets_provider().get("nope")


class FakeSecretClient:
    """Stands in for Key Vault, which cannot run here."""

    def __init__(self, values):
        self.values = values

    def get_secret(self, name):
        if name not in self.values:
            raise ResourceNotFoundError("SecretNotFound")
        return type("Secret", (), {"value": self.values[name]})()


def test_key_vault_is_used_when_configured(monkeypatch):
    monkeypatch.setenv("KEY_VAULT_URL", "https://example-vault.vault.azure.net/")
    provider = secrets.secrets_provider()
    assert isinstance(provider, secrets.KeyVaultSecrets)
    provider._client = FakeSecretClient({"monday-token": "abc"})
    assert provider.get("monday-token") == "abc"
    with pytest.raises(secrets.SecretNotFound, match="not in Key Vault"):
        provider.get("other")


class CountingSecretClient(FakeSecretClient):
    """A Key Vault stand-in that counts its reads: each one would be a network call."""

    def __init__(self, values):
        super().__init__(values)
        self.reads: list[str] = []

    def get_secret(self, name):
        self.reads.append(name)
        return super().get_secret(name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_vault_values_are_reused_for_five_minutes_then_read_again():
    client, clock = CountingSecretClient({"token-encryption-key": "k1"}), Clock()
    vault = secrets.KeyVaultSecrets("https://v.vault.azure.net/", client=client, clock=clock)
    assert [vault.get("token-encryption-key") for _ in range(50)] == ["k1"] * 50
    assert client.reads == ["token-encryption-key"]
    client.values["token-encryption-key"] = "k2"  # rotated in Key Vault
    clock.now += secrets.SECRET_TTL_SECONDS - 1
    assert vault.get("token-encryption-key") == "k1"
    clock.now += 2
    assert vault.get("token-encryption-key") == "k2"
    assert client.reads == ["token-encryption-key"] * 2


def test_a_missing_key_vault_secret_is_remembered_only_briefly():
    client, clock = CountingSecretClient({}), Clock()
    vault = secrets.KeyVaultSecrets("https://v.vault.azure.net/", client=client, clock=clock)
    for _ in range(3):
        with pytest.raises(secrets.SecretNotFound, match="not in Key Vault"):
            vault.get("qbo-client-secret")
    assert client.reads == ["qbo-client-secret"]
    client.values["qbo-client-secret"] = "s3cret"  # the operator adds it
    clock.now += secrets.MISSING_TTL_SECONDS + 0.1
    assert vault.get("qbo-client-secret") == "s3cret"
    assert secrets.MISSING_TTL_SECONDS <= 30 < secrets.SECRET_TTL_SECONDS <= 600


def test_the_keyring_and_client_secret_reads_hit_key_vault_once_per_ttl(monkeypatch):
    import base64
    import os

    from plugins.quickbooks import oauth
    from shared.tokens.crypto import Keyring

    key = base64.b64encode(os.urandom(32)).decode()
    client = CountingSecretClient({"token-encryption-key": key, "qbo-client-id": "id", "qbo-client-secret": "sec"})
    vault = secrets.KeyVaultSecrets("https://v.vault.azure.net/", client=client)
    monkeypatch.setattr(secrets, "secrets_provider", lambda: vault)
    monkeypatch.setattr(oauth, "secrets_provider", lambda: vault)
    for _ in range(20):
        Keyring.from_secrets(vault)
        assert oauth.client_credentials({}) == ("id", "sec")
    # The optional previous keys are missing: remembered briefly as missing, not read 20 times.
    assert sorted(set(client.reads)) == sorted(client.reads)
