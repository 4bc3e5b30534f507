"""Static secrets (client ids and secrets, API tokens, the encryption key): Key Vault in Azure, env locally."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

# How long a secret read from Key Vault is reused in-process: each read is a network call (and throttled), yet a
# rotated secret must be picked up soon. A secret found missing is re-read much sooner (someone is adding it).
SECRET_TTL_SECONDS = 300.0
MISSING_TTL_SECONDS = 10.0


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
    """Azure: secrets from Key Vault through the app's managed identity, cached in-process for `ttl` seconds.

    Key material and client secrets are read on every token use and every consent; without the cache each of those
    is a Key Vault round trip. A missing secret is remembered only `missing_ttl` seconds.
    """

    def __init__(self, vault_url: str, *, client: Any = None, ttl: float = SECRET_TTL_SECONDS,
                 missing_ttl: float = MISSING_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        if client is None:
            from azure.identity import DefaultAzureCredential
            from azure.keyvault.secrets import SecretClient

            client = SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())
        self._client = client
        self._ttl, self._missing_ttl, self._clock = ttl, missing_ttl, clock
        self._cache: dict[str, tuple[float, str | None, str]] = {}  # name -> (expires, value or None, why missing)
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] > self._clock():
            if cached[1] is None:
                raise SecretNotFound(cached[2])
            return cached[1]
        try:
            value = self._read(name)
        except SecretNotFound as exc:
            with self._lock:
                self._cache[name] = (self._clock() + self._missing_ttl, None, str(exc.args[0]))
            raise
        with self._lock:
            self._cache[name] = (self._clock() + self._ttl, value, "")
        return value

    def clear(self) -> None:
        """Forget every cached value (e.g. right after rotating a secret)."""
        with self._lock:
            self._cache.clear()

    def _read(self, name: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            value = self._client.get_secret(name).value
        except ResourceNotFoundError:
            raise SecretNotFound(f"Secret {name!r} is not in Key Vault") from None
        if not value:
            raise SecretNotFound(f"Secret {name!r} in Key Vault is empty")
        return value


@lru_cache(maxsize=1)
def secrets_provider() -> SecretsProvider:
    """Key Vault when KEY_VAULT_URL is set, the environment otherwise."""
    vault_url = os.environ.get("KEY_VAULT_URL")
    return KeyVaultSecrets(vault_url) if vault_url else EnvSecrets()


def with_previous(name: str, previous: str, provider: SecretsProvider | None = None) -> list[str]:
    """Secret `name`, then secret `previous` when it is set (a verifier or signing secret while it rotates).
    SecretNotFound when `name` itself is missing."""
    provider = provider or secrets_provider()
    values = [provider.get(name)]
    with contextlib.suppress(SecretNotFound):  # missing: no rotation under way
        values.append(provider.get(previous))
    return values
