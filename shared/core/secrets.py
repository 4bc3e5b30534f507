"""Static secrets (client ids and secrets, API tokens, the encryption key): Key Vault in Azure, env locally."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Protocol


class SecretNotFound(KeyError):
    """A secret the configuration names but the provider does not have."""


class SecretsProvider(Protocol):
    def get(self, name: str) -> str: ...


def env_name(name: str) -> str:
    """The local setting that holds secret `name`."""
    return "SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class EnvSecrets:
    """Local machine: secret `acme-api-token` is read from env SECRET_ACME_API_TOKEN (local.settings.json)."""

    def get(self, name: str) -> str:
        value = os.environ.get(env_name(name))
        if not value:
            raise SecretNotFound(f"Secret {name!r} is not set: define {env_name(name)} in local.settings.json")
        return value


class KeyVaultSecrets:
    """Azure: secrets from Key Vault through the app's managed identity."""

    def __init__(self, vault_url: str) -> None:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient

        self._client = SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())

    def get(self, name: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            value = self._client.get_secret(name).value
        except ResourceNotFoundError as exc:
            raise SecretNotFound(f"Secret {name!r} is not in Key Vault") from exc
        if not value:
            raise SecretNotFound(f"Secret {name!r} in Key Vault is empty")
        return value


@lru_cache(maxsize=1)
def secrets_provider() -> SecretsProvider:
    """Key Vault when KEY_VAULT_URL is set, the environment otherwise."""
    vault_url = os.environ.get("KEY_VAULT_URL")
    return KeyVaultSecrets(vault_url) if vault_url else EnvSecrets()
