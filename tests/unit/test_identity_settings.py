"""Settings as Azure gives them: identity-based storage and PostgreSQL, and a missing one named at start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from shared.blob.service import blob_service
from shared.core.config import DEFAULT_STORAGE, MissingSetting, load_settings
from shared.db import entra

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def azure(monkeypatch):
    """An App Service environment: strict settings, none of the local ones."""
    for name in ("BIZ_PG_DSN", "LANDING_STORAGE_CONNECTION", "AzureWebJobsStorage", "BIZ_STRICT_SETTINGS",
                 "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__blobServiceUri",
                 "AzureWebJobsStorage__clientId"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBSITE_SITE_NAME", "bizmetrics-prod")
    return monkeypatch


def test_a_missing_database_or_storage_setting_is_named_in_azure(azure):
    with pytest.raises(MissingSetting, match="App setting BIZ_PG_DSN is required"):
        load_settings()
    azure.setenv("BIZ_PG_DSN", "host=db.example dbname=bizmetrics user=app sslmode=verify-full")
    with pytest.raises(MissingSetting, match="App setting AzureWebJobsStorage__accountName is required"):
        load_settings()
    azure.setenv("AzureWebJobsStorage__accountName", "bizstore")
    assert load_settings().storage.blob_url == "https://bizstore.blob.core.windows.net"


def test_locally_the_same_gaps_default_to_the_local_services(monkeypatch):
    for name in ("WEBSITE_SITE_NAME", "BIZ_STRICT_SETTINGS", "AzureWebJobsStorage", "LANDING_STORAGE_CONNECTION",
                 "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__blobServiceUri"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings().storage.connection_string == DEFAULT_STORAGE


def test_the_functions_app_refuses_to_start_in_azure_without_its_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("BIZ_PG_DSN", "AzureWebJobsStorage")}
    env.update(WEBSITE_SITE_NAME="bizmetrics-prod", AzureWebJobsStorage__accountName="bizstore")
    done = subprocess.run([sys.executable, "-c", "import function_app"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "App setting BIZ_PG_DSN is required" in done.stderr


def test_identity_based_storage_uses_the_account_url_and_the_apps_identity(azure):
    azure.setenv("AzureWebJobsStorage__blobServiceUri", "https://bizstore.blob.core.windows.net/")
    azure.setenv("AzureWebJobsStorage__clientId", "11111111-2222-3333-4444-555555555555")
    azure.setenv("BIZ_PG_DSN", "host=db.example dbname=bizmetrics user=app sslmode=verify-full")
    target = load_settings().storage
    assert target.uses_identity and target.client_id == "11111111-2222-3333-4444-555555555555"
    fake = SimpleNamespace(get_token=lambda *scopes, **kw: None)
    service = blob_service(target, credential=fake)
    assert service.url.startswith("https://bizstore.blob.core.windows.net") and service.credential is fake


class FakeCredential:
    """Entra ID cannot run here: a credential that hands out numbered tokens with a chosen lifetime."""

    def __init__(self, lifetime: float, clock) -> None:
        self.lifetime, self.clock, self.scopes = lifetime, clock, []

    def get_token(self, *scopes: str, **_: object):
        self.scopes.append(scopes)
        return SimpleNamespace(token=f"token-{len(self.scopes)}", expires_on=self.clock() + self.lifetime)


def test_the_database_token_is_renewed_five_minutes_before_it_expires():
    now = [1_000_000.0]
    credential = FakeCredential(3600, lambda: now[0])
    cache = entra.TokenCache(credential, clock=lambda: now[0])
    assert cache.token() == cache.token() == "token-1"
    now[0] += 3600 - 301
    assert cache.token() == "token-1"
    now[0] += 2
    assert cache.token() == "token-2"
    assert credential.scopes == [(entra.SCOPE,), (entra.SCOPE,)]


def test_entra_login_needs_a_verified_server(monkeypatch):
    monkeypatch.setenv(entra.AUTH_SETTING, "entra")
    monkeypatch.delenv("BIZ_LOCAL_DEV", raising=False)
    with pytest.raises(ValueError, match="sslmode=verify-full"):
        entra.login_kwargs("host=db.example dbname=bizmetrics user=app sslmode=require")


def test_connections_and_the_pool_log_in_with_the_token(pg_dsn, monkeypatch):
    """Against the local server (which trusts loopback, so any password is accepted): the token is what is sent."""
    from shared.db import pool
    from shared.db.connect import connect

    credential = FakeCredential(3600, time.time)
    entra.use_credential(credential)
    monkeypatch.setenv(entra.AUTH_SETTING, "entra")
    monkeypatch.setenv("BIZ_LOCAL_DEV", "true")  # the local server has no TLS to verify
    sent: list[str] = []
    real = psycopg.Connection.connect.__func__

    def spy(cls, conninfo="", **kwargs):
        sent.append(kwargs.get("password"))
        return real(cls, conninfo, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(spy))
    with connect(pg_dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    pool.close_pool()
    try:
        with pool.get_pool().connection(timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        pool.close_pool()
        entra.use_credential(None)
    assert sent and set(sent) == {"token-1"} and credential.scopes[0] == (entra.SCOPE,)
