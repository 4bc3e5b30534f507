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
