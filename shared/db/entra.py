"""PostgreSQL with Microsoft Entra authentication: the app's managed identity logs in with an access token.

Set BIZ_PG_AUTH=entra and a DSN naming the server, database and the identity's role (no password): every new
connection gets a token for Azure Database for PostgreSQL as its password, taken from a cache that renews it five
minutes before it expires (a token is checked only at login, so open connections outlive it). The server is
verified: the DSN must say sslmode=verify-full (BIZ_LOCAL_DEV=true relaxes that for a local test server).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg

AUTH_SETTING = "BIZ_PG_AUTH"
SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
RENEW_BEFORE_S = 300


def entra_enabled() -> bool:
    return os.environ.get(AUTH_SETTING, "").strip().lower() == "entra"


class TokenCache:
    """One access token for the process, renewed before it expires; thread-safe."""

    def __init__(self, credential: Any = None, clock: Any = time.time) -> None:
        self._credential = credential
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._expires_on - self._clock() < RENEW_BEFORE_S:
                if self._credential is None:
                    from azure.identity import DefaultAzureCredential

                    self._credential = DefaultAzureCredential(
                        managed_identity_client_id=os.environ.get("AZURE_CLIENT_ID") or None)
                access = self._credential.get_token(SCOPE)
                self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token


_cache = TokenCache()


def use_credential(credential: Any) -> None:
    """Replace the process's credential (tests hand in a fake one: Entra ID cannot run here)."""
    global _cache
    _cache = TokenCache(credential)


def check_verified(dsn: str) -> None:
    """ValueError unless the DSN verifies the server's certificate and name (a token must not go elsewhere)."""
    sslmode = psycopg.conninfo.conninfo_to_dict(dsn).get("sslmode")
    if sslmode != "verify-full" and os.environ.get("BIZ_LOCAL_DEV", "").lower() != "true":
        raise ValueError(f"With {AUTH_SETTING}=entra the PostgreSQL DSN must set sslmode=verify-full "
                         f"(it has {sslmode or 'none'}), so the token is sent only to the verified server")


def login_kwargs(dsn: str) -> dict[str, Any]:
    """Extra connect arguments: the token as password when Entra authentication is on, else nothing."""
    if not entra_enabled():
        return {}
    check_verified(dsn)
    return {"password": _cache.token()}


class EntraConnection(psycopg.Connection):
    """A psycopg connection class that logs in with a fresh token (for pools, which connect on their own)."""

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> EntraConnection:  # type: ignore[override]
        return super().connect(conninfo, **{**kwargs, **login_kwargs(conninfo)})
