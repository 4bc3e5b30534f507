"""QuickBooks OAuth without the network: Intuit's recorded token responses, the consent URL, token endpoint
selection, and the warnings for the 100-day idle and 5-year consent limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from plugins.quickbooks import oauth
from plugins.quickbooks.settings import DEFAULT_TOKEN_URL as DEFAULT_QBO_TOKEN_URL
from shared.core.http import ApiError
from shared.tokens.store import TokenInfo, TokenSet
from tests.reference import REFERENCE

OAUTH2 = REFERENCE / "quickbooks" / "oauth2"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def wire(path: Path) -> tuple[int, str]:
    """(HTTP status, body) as the token endpoint sent them; the JS client's files wrap them in a record."""
    doc = json.loads(path.read_text())
    record = doc.get("response", doc)
    if "status" in record and isinstance(record.get("body"), str):
        return record["status"], record["body"]
    return (400 if "error" in doc else 200), path.read_text()


TOKEN_FILES = ["intuit-dotnet-sdk-success_token_response.json", "intuit-oauth-jsclient-tokenResponse.json",
               "intuit-oauth-jsclient-response.json", "intuit-oauth-jsclient-authResponse.json"]


@pytest.mark.parametrize("name", TOKEN_FILES)
def test_recorded_token_responses_parse_into_a_token_set(name: str):
    status, body = wire(OAUTH2 / name)
    raw = json.loads(body)
    tokens = oauth.parse_token_response(status, body, now=NOW)
    assert (tokens.access_token, tokens.refresh_token) == (raw["access_token"], raw["refresh_token"])
    assert tokens.access_expires_at == NOW + timedelta(seconds=3600)
    assert tokens.refresh_expires_at == NOW + timedelta(seconds=raw["x_refresh_token_expires_in"])


@pytest.mark.parametrize(("name", "code", "status"), [
    ("intuit-oauth-jsclient-errorResponse.json", "invalid_grant", 400),
    ("intuit-dotnet-sdk-failure_token_response.json", "error", 400),
])
def test_recorded_error_responses_raise_the_oauth_error(name: str, code: str, status: int):
    with pytest.raises(ApiError) as caught:
        oauth.parse_token_response(*wire(OAUTH2 / name), now=NOW)
    assert (caught.value.code, caught.value.status, caught.value.transient) == (code, status, False)


def test_invalid_grant_message_says_what_was_refused():
    status, body = wire(OAUTH2 / "intuit-oauth-jsclient-errorResponse.json")
    with pytest.raises(ApiError, match=r"400 invalid_grant \(Token invalid\): the token or authorization code"):
        oauth.parse_token_response(status, body)


def test_an_error_inside_a_200_is_still_an_error():
    with pytest.raises(ApiError) as caught:
        oauth.parse_token_response(200, (OAUTH2 / "intuit-dotnet-sdk-failure_token_response.json").read_text())
    assert caught.value.code == "error"


def test_discovery_document_matches_the_endpoints_and_client_authentication_used():
    discovery = json.loads((OAUTH2 / "intuit-dotnet-sdk-discovery.json").read_text())
    assert discovery["authorization_endpoint"] == oauth.AUTHORIZE_URL
    assert discovery["token_endpoint"] == DEFAULT_QBO_TOKEN_URL
    assert discovery["token_endpoint"].endswith(oauth.TOKEN_PATH)
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]
    assert discovery["response_types_supported"] == ["code"]


def test_every_recorded_file_is_covered():
    covered = {*TOKEN_FILES, "intuit-oauth-jsclient-errorResponse.json",
               "intuit-dotnet-sdk-failure_token_response.json", "intuit-dotnet-sdk-discovery.json"}
    assert {p.name for p in OAUTH2.glob("*.json")} == covered


def test_a_document_that_is_not_a_token_response_is_refused():
    with pytest.raises(ApiError) as caught:
        oauth.parse_token_response(200, (OAUTH2 / "intuit-dotnet-sdk-discovery.json").read_text())
    assert caught.value.code == "bad_token_response"


@pytest.mark.parametrize(("body", "message"), [
    ("<html>gateway timeout</html>", "not JSON"),
    ('{"access_token": "a", "refresh_token": "r", "expires_in": 1536130629063}', "implausible expires_in"),
    ('{"access_token": "a", "refresh_token": "r", "expires_in": "3600"}', "implausible expires_in"),
    ('{"access_token": "a", "refresh_token": "r", "expires_in": 3600, "token_type": "mac"}', "expected bearer"),
    ('{"access_token": "a", "expires_in": 3600}', "lacks access_token or refresh_token"),
])
def test_malformed_token_responses_are_refused(body: str, message: str):
    with pytest.raises(ApiError, match=message):
        oauth.parse_token_response(200, body)


def test_server_errors_at_the_token_endpoint_are_transient():
    with pytest.raises(ApiError) as caught:
        oauth.parse_token_response(503, "<html>unavailable</html>")
    assert caught.value.transient


def test_secrets_sent_are_redacted_from_error_messages():
    body = '{"error": "invalid_grant", "error_description": "Token rt-123 invalid"}'
    with pytest.raises(ApiError) as caught:
        oauth.parse_token_response(400, body, sent=("rt-123",))
    assert "rt-123" not in str(caught.value) and "Token *** invalid" in str(caught.value)


def test_token_sets_never_show_tokens_in_their_repr():
    tokens = TokenSet("at-visible?", "rt-visible?", NOW, NOW)
    assert "visible" not in repr(tokens)


def test_authorize_url_asks_intuit_for_accounting_consent(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "client-abc")
    url = oauth.authorize_url("state-xyz", "https://app.example/api/connections/quickbooks/callback", "sandbox")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://appcenter.intuit.com/connect/oauth2"
    assert parse_qs(parts.query) == {
        "client_id": ["client-abc"], "response_type": ["code"], "scope": ["com.intuit.quickbooks.accounting"],
        "redirect_uri": ["https://app.example/api/connections/quickbooks/callback"], "state": ["state-xyz"]}


def test_authorize_url_refuses_an_unknown_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "client-abc")
    with pytest.raises(ValueError, match="sandbox, production"):
        oauth.authorize_url("s", "https://x/cb", "staging")


def test_client_credentials_may_come_from_secrets_of_the_connections_own_namespace(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_CONN_ACME_CLIENTID", "sandbox-id")
    monkeypatch.setenv("SECRET_CONN_ACME_CLIENTSECRET", "sandbox-secret")
    config = {"client_id_secret": "conn-acme-clientid", "client_secret_secret": "conn-acme-clientsecret"}
    assert oauth.client_credentials(config, "acme") == ("sandbox-id", "sandbox-secret")


@pytest.mark.parametrize("name", ["token-encryption-key", "qbo-client-secret", "api-key-pepper",
                                  "conn-acme-eu-clientsecret", "conn-acme-client-secret"])
def test_a_connection_cannot_name_the_apps_or_another_connections_secret_as_its_client_secret(
        name: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "client-abc")
    monkeypatch.setenv("SECRET_" + name.upper().replace("-", "_"), "must-not-be-read")
    with pytest.raises(ValueError, match=r"client_secret_secret .* is not one of this connection's secrets: name a "
                                         r"secret conn-acme-<word>"):
        oauth.client_credentials({"client_secret_secret": name}, "acme")


def test_token_endpoint_is_intuits_unless_the_connection_or_settings_say_otherwise(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("QBO_TOKEN_URL", raising=False)
    assert oauth.token_url({}) == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert oauth.token_url({"base_url": "http://127.0.0.1:8761/"}) == "http://127.0.0.1:8761/oauth2/v1/tokens/bearer"
    assert oauth.token_url({"token_url": "http://127.0.0.1:9/x", "base_url": "http://127.0.0.1:1"}) == (
        "http://127.0.0.1:9/x")
    # A real API host is not where tokens are issued: its base_url leaves the token URL at Intuit's.
    assert oauth.token_url({"base_url": "https://sandbox-quickbooks.api.intuit.com"}) == DEFAULT_QBO_TOKEN_URL
    monkeypatch.setenv("QBO_TOKEN_URL", "http://127.0.0.1:9/token")
    assert oauth.token_url({}) == "http://127.0.0.1:9/token"


def test_pkce_challenge_is_rfc_7636s_s256():
    # RFC 7636, appendix B.
    assert oauth.code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    verifier = oauth.new_code_verifier()
    assert 43 <= len(verifier) <= 128 and verifier != oauth.new_code_verifier()


def test_authorize_url_carries_the_pkce_challenge(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "client-abc")
    url = oauth.authorize_url("s", "https://app.example/cb", "sandbox", code_verifier="v" * 43)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge"] == [oauth.code_challenge("v" * 43)] and query["code_challenge_method"] == ["S256"]


@pytest.mark.parametrize("realm", ["", "12a", "١٢٣", "123\n", " 123", "1" * 33])
def test_a_realm_id_is_ascii_digits_only(realm: str):
    assert not oauth.is_realm_id(realm)
    with pytest.raises(ValueError, match="realmId must be the company's numeric id"):
        oauth.exchange_code("code", realm, "https://app.example/cb")
    assert oauth.is_realm_id("9130350000000042")


def info(*, consented: datetime, refreshed: datetime | None = None,
         refresh_expires: datetime | None = None) -> TokenInfo:
    return TokenInfo("acme", "kid", NOW + timedelta(hours=1), refresh_expires, consented, refreshed, 3, NOW)


def test_no_warnings_for_a_recently_used_recent_consent():
    assert oauth.connection_warnings(info(consented=NOW - timedelta(days=30),
                                          refresh_expires=NOW + timedelta(days=99)), now=NOW) == []


def test_warns_when_the_refresh_token_dies_of_idleness_within_14_days():
    warnings = oauth.connection_warnings(info(consented=NOW - timedelta(days=200),
                                              refresh_expires=NOW + timedelta(days=13)), now=NOW)
    assert warnings == ["The QuickBooks refresh token expires on 2026-11-14 unless a sync runs before then "
                        "(it dies after 100 days without use)"]
    assert oauth.connection_warnings(info(consented=NOW - timedelta(days=200),
                                          refresh_expires=NOW + timedelta(days=15)), now=NOW) == []


def test_idle_limit_counts_100_days_from_the_last_refresh_when_the_lifetime_is_unknown():
    warnings = oauth.connection_warnings(info(consented=NOW - timedelta(days=400),
                                              refreshed=NOW - timedelta(days=90)), now=NOW)
    assert warnings and "expires on 2026-11-11" in warnings[0]
    gone = oauth.connection_warnings(info(consented=NOW - timedelta(days=400),
                                          refreshed=NOW - timedelta(days=101)), now=NOW)
    assert gone == ["The QuickBooks refresh token expired on 2026-10-31 (100 days without use): reconnect this company"]


def test_warns_30_days_before_the_5_year_consent_limit():
    consented = datetime(2021, 11, 30, 12, 0, tzinfo=UTC)  # the grant ends 2026-11-30, 29 days after NOW
    warnings = oauth.connection_warnings(info(consented=consented, refresh_expires=NOW + timedelta(days=90)),
                                         now=NOW)
    assert warnings == ["The QuickBooks consent given on 2021-11-30 ends on 2026-11-30 (5-year limit): "
                        "reconnect this company"]
    later = datetime(2021, 12, 2, 12, 0, tzinfo=UTC)
    assert oauth.connection_warnings(info(consented=later, refresh_expires=NOW + timedelta(days=90)), now=NOW) == []


def test_consent_past_5_years_has_ended():
    warnings = oauth.connection_warnings(info(consented=datetime(2020, 2, 29, tzinfo=UTC),
                                              refresh_expires=NOW + timedelta(days=90)), now=NOW)
    assert warnings == ["The QuickBooks consent given on 2020-02-29 ended on 2025-02-28 (5-year limit): "
                        "reconnect this company"]


def test_connections_are_metered_per_intuit_app_named_by_a_fingerprint_of_its_client_id(
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "app-wide-client")
    monkeypatch.setenv("SECRET_CONN_ACME_CLIENTID", "acme-own-client")
    monkeypatch.setenv("SECRET_CONN_ACMEEU_CLIENTID", "acme-own-client")  # the same own app for a second company
    app_wide = oauth.intuit_app({}, "plain")
    own = oauth.intuit_app({"client_id_secret": "conn-acme-clientid"}, "acme")
    assert own == oauth.intuit_app({"client_id_secret": "conn-acmeeu-clientid"}, "acmeeu")
    assert app_wide != own and app_wide.startswith("intuit-app:") and "client" not in app_wide + own
    monkeypatch.delenv("SECRET_QBO_CLIENT_ID")
    assert oauth.intuit_app({}, "plain") == "intuit-app:qbo-client-id"  # unreadable: the secret's name stands in
    with pytest.raises(ValueError, match="not one of this connection's secrets"):
        oauth.intuit_app({"client_id_secret": "qbo-client-id"}, "acme")
