"""Authenticator.from_settings: what each setting turns on, and half-configurations refused at startup."""

from __future__ import annotations

import pytest

from api.auth import Authenticator
from api.auth.settings import AUDIENCE, TENANT_ID, TRUST_APP_SERVICE_AUTH


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in (TENANT_ID, AUDIENCE, TRUST_APP_SERVICE_AUTH):
        monkeypatch.delenv(name, raising=False)


def test_no_settings_means_api_keys_only(conn_factory):
    authenticator = Authenticator.from_settings(conn_factory)
    assert authenticator.entra is None and authenticator.trust_app_service_auth is False


def test_entra_settings_give_a_validator_for_the_tenant_and_every_audience(conn_factory, monkeypatch):
    monkeypatch.setenv(TENANT_ID, "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
    monkeypatch.setenv(AUDIENCE, "api://bizmetrics, 0b4c7e52-9a1d-4f3e-b2c8-5d6e7f8a9b0c")
    monkeypatch.setenv(TRUST_APP_SERVICE_AUTH, "true")
    authenticator = Authenticator.from_settings(conn_factory)
    assert authenticator.entra is not None
    assert authenticator.entra.audiences == ("api://bizmetrics", "0b4c7e52-9a1d-4f3e-b2c8-5d6e7f8a9b0c")
    assert authenticator.entra.issuers == ("https://login.microsoftonline.com/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f/v2.0",
                                           "https://sts.windows.net/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f/")
    assert authenticator.trust_app_service_auth is True


@pytest.mark.parametrize("env", [
    {TENANT_ID: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"},
    {AUDIENCE: "api://bizmetrics"},
    {TENANT_ID: "evil.example/x?", AUDIENCE: "api://bizmetrics"},
    {TRUST_APP_SERVICE_AUTH: "yes"},
], ids=["tenant-without-audience", "audience-without-tenant", "tenant-not-an-id", "trust-not-boolean"])
def test_an_unclear_configuration_is_refused_at_startup(conn_factory, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError):
        Authenticator.from_settings(conn_factory)
