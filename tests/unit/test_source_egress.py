"""A connection's settings cannot send a secret to an arbitrary URL: the secrets a connection names are its own
(conn-<connection id>-<word>, never the app's keys or another connection's), and API and token URLs are https on
the source's own hosts; loopback (the simulators) only while BIZ_ALLOW_LOOPBACK_SOURCES=true. Each refusal says
what to fix, before any secret is read or request sent."""

from __future__ import annotations

import pytest

from plugins.monday.settings import read_settings as monday_settings
from plugins.quickbooks import PLUGIN as QUICKBOOKS
from plugins.quickbooks.settings import read_settings as quickbooks_settings
from plugins.quickbooks.settings import redirect_uri
from shared.core import egress
from shared.db.connections import Connection

QBO_HOSTS = ("quickbooks.api.intuit.com", "sandbox-quickbooks.api.intuit.com")
APP_SECRETS = ("token-encryption-key", "token-encryption-key-previous", "qbo-client-secret", "qbo-client-id",
               "api-key-pepper")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside local development (tests/conftest.py allows loopback for the simulators)."""
    monkeypatch.delenv(egress.LOOPBACK_SETTING, raising=False)
    for name in ("QBO_BASE_URL", "QBO_TOKEN_URL", "MONDAY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def qbo(**config) -> Connection:
    return Connection("acme", "quickbooks", "Acme", {"realm_id": "1", **config})


def monday(**config) -> Connection:
    return Connection("acme", "monday", "Acme", {"api_token_secret": "conn-acme-token", **config})


@pytest.mark.parametrize("name", [*APP_SECRETS, "conn-acme-eu-token", "conn-acme-", "conn-acme-tok_en",
                                  "acme-token", "CONN-ACME-TOKEN", "conn-acme-token\n", "conn-acm-token"])
def test_a_connection_names_only_secrets_of_its_own_namespace(name: str):
    with pytest.raises(ValueError, match=r"is not one of this connection's secrets: name a secret conn-acme-<word> "
                                         r"\(lowercase letters and digits, e\.g\. conn-acme-token\)"):
        egress.check_secret_name(name, "acme", setting="access_token_secret")
    assert egress.check_secret_name("conn-acme-token", "acme", setting="access_token_secret") == "conn-acme-token"
    # acme-eu's own secret is not acme's, and the parse is unambiguous: the word after the id has no '-'.
    assert egress.check_secret_name("conn-acme-eu-token", "acme-eu", setting="x") == "conn-acme-eu-token"


@pytest.mark.parametrize("setting", ["access_token_secret", "client_id_secret", "client_secret_secret"])
@pytest.mark.parametrize("name", APP_SECRETS)
def test_a_quickbooks_connection_cannot_name_the_apps_keys(setting: str, name: str):
    with pytest.raises(ValueError, match=f"Connection acme: {setting} '{name}' is not one of this connection's"):
        quickbooks_settings(qbo(**{setting: name}))
    plan = QUICKBOOKS.plan(qbo(**{setting: name}), "full", {}, calls_this_month=0)
    assert plan.streams == [] and "conn-acme-<word>" in plan.refused


@pytest.mark.parametrize("name", APP_SECRETS)
def test_a_monday_connection_cannot_name_the_apps_keys(name: str):
    with pytest.raises(ValueError, match=f"monday connection acme: api_token_secret '{name}' is not one of"):
        monday_settings(monday(api_token_secret=name))


@pytest.mark.parametrize("url", [
    "https://evil.example", "http://quickbooks.api.intuit.com", "https://quickbooks.api.intuit.com.evil.example",
    "https://quickbooks.api.intuit.com:8443", "https://user:pw@quickbooks.api.intuit.com", "ftp://quickbooks.api.intuit.com",
    "https://evil.example#@quickbooks.api.intuit.com", "http://127.0.0.1:8761", "http://localhost:8761",
    "http://[::1]:8761", "//quickbooks.api.intuit.com", "https://quickbooks.api.intuit.com /x",
])
def test_api_urls_are_https_on_the_sources_hosts_outside_local_development(production, url: str):
    with pytest.raises(ValueError, match=r"base_url .*(use https://|must not carry)"):
        quickbooks_settings(qbo(base_url=url))
    with pytest.raises(ValueError, match=r"base_url .*(use https://|must not carry)"):
        monday_settings(monday(base_url=url))


def test_the_sources_own_hosts_are_accepted(production):
    for host in QBO_HOSTS:
        assert quickbooks_settings(qbo(base_url=f"https://{host}/")).base_url == f"https://{host}"
    assert monday_settings(monday(base_url="https://api.monday.com")).base_url == "https://api.monday.com"
    assert monday_settings(monday()).base_url == "https://api.monday.com"


@pytest.mark.parametrize("url", ["http://evil.example/token", "https://evil.example/token",
                                 "https://quickbooks.api.intuit.com/oauth2/v1/tokens/bearer"])
def test_the_token_url_is_https_on_intuits_token_host(production, url: str):
    with pytest.raises(ValueError, match=r"Connection acme: token_url .* use https:// on oauth\.platform\.intuit\.com"):
        quickbooks_settings(qbo(token_url=url))
    ok = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert quickbooks_settings(qbo(token_url=ok)).token_url == ok


def test_app_settings_are_held_to_the_same_hosts(production, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QBO_BASE_URL", "http://10.0.0.5:8761")
    with pytest.raises(ValueError, match=r"App setting QBO_BASE_URL 'http://10\.0\.0\.5:8761' is not allowed"):
        quickbooks_settings(qbo())
    monkeypatch.delenv("QBO_BASE_URL")
    monkeypatch.setenv("QBO_TOKEN_URL", "https://evil.example/token")
    with pytest.raises(ValueError, match="App setting QBO_TOKEN_URL"):
        quickbooks_settings(qbo())
    monkeypatch.setenv("MONDAY_BASE_URL", "https://evil.example")
    with pytest.raises(ValueError, match="App setting MONDAY_BASE_URL"):
        monday_settings(monday())


def test_loopback_needs_the_local_development_setting_and_says_so(production, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ValueError, match=r"points at loopback, which only local development allows \(set "
                                         r"BIZ_ALLOW_LOOPBACK_SOURCES=true there\)"):
        quickbooks_settings(qbo(base_url="http://127.0.0.1:8761"))
    monkeypatch.setenv(egress.LOOPBACK_SETTING, "true")
    for url in ("http://127.0.0.1:8761", "http://localhost:8761", "http://[::1]:8761"):
        assert quickbooks_settings(qbo(base_url=url)).base_url == url
    assert monday_settings(monday(base_url="http://127.0.0.1:8762")).base_url == "http://127.0.0.1:8762"
    # Loopback only: the setting opens no other host, and no http to the real ones.
    for url in ("http://10.0.0.5:8761", "http://quickbooks.api.intuit.com", "http://127.0.0.1.evil.example"):
        with pytest.raises(ValueError, match="is not allowed"):
            quickbooks_settings(qbo(base_url=url))


def test_a_local_stacks_simulator_hosts_are_allowed_only_in_local_development(production, monkeypatch):
    monkeypatch.setenv(egress.DEV_HOSTS_SETTING, "qbo-sim,monday-sim")
    with pytest.raises(ValueError, match="is not allowed"):
        quickbooks_settings(qbo(base_url="http://qbo-sim:8761"))  # the host list alone opens nothing
    monkeypatch.setenv(egress.LOOPBACK_SETTING, "true")
    assert quickbooks_settings(qbo(base_url="http://qbo-sim:8761")).base_url == "http://qbo-sim:8761"
    assert monday_settings(monday(base_url="http://monday-sim:8762")).base_url == "http://monday-sim:8762"
    with pytest.raises(ValueError, match="is not allowed"):
        quickbooks_settings(qbo(base_url="http://qbo-sim.evil.example:8761"))


def test_the_redirect_uri_is_a_configured_https_url(production, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("QBO_REDIRECT_URI", raising=False)
    with pytest.raises(ValueError, match="App setting QBO_REDIRECT_URI is not set"):
        redirect_uri()
    for bad in ("http://app.example/cb", "https://u:p@app.example/cb", "https://app.example/cb#x",
                "http://localhost:7071/api/connections/quickbooks/callback"):
        monkeypatch.setenv("QBO_REDIRECT_URI", bad)
        with pytest.raises(ValueError, match="QBO_REDIRECT_URI"):
            redirect_uri()
    monkeypatch.setenv("QBO_REDIRECT_URI", "https://app.example/api/connections/quickbooks/callback")
    assert redirect_uri() == "https://app.example/api/connections/quickbooks/callback"
    monkeypatch.setenv(egress.LOOPBACK_SETTING, "true")
    monkeypatch.setenv("QBO_REDIRECT_URI", "http://localhost:7071/api/connections/quickbooks/callback")
    assert redirect_uri() == "http://localhost:7071/api/connections/quickbooks/callback"


def test_a_connection_id_with_an_underscore_cannot_name_secrets_key_vault_could_not_hold():
    with pytest.raises(ValueError, match=r"whose id holds '_'.*use an id with '-' instead"):
        egress.check_secret_name("conn-acme_eu-token", "acme_eu", setting="api_token_secret")
