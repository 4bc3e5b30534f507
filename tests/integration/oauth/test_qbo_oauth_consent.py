"""Connecting a QuickBooks company: authorize (302 with a one-time state, a browser-binding cookie and a PKCE
challenge) -> Intuit -> callback (cookie checked, code exchanged with the verifier, company confirmed, connection
created, tokens stored encrypted, operator audited) through the plugin's FastAPI router, and the CLI.
Real PostgreSQL, the QuickBooks simulator for Intuit."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg
import pytest

from api.auth.principal import METRICS_READ
from plugins.quickbooks import consent_cli as cli
from plugins.quickbooks.oauth import INVALID_GRANT_REASON, bearer_token, code_challenge
from shared.core.http import ApiError
from shared.db.connections import Connection, get_connection, upsert_connection
from shared.tokens.crypto import Keyring
from shared.tokens.store import load_tokens
from tests import fastapi_app
from tests.api_calls import api_key, call

from .conftest import CLIENT_ID, CLIENT_SECRET, CODES, REALM, TOKEN_PATH, Sim, exception_text

BASE = "http://localhost/api/connections"
CALLBACK = f"{BASE}/quickbooks/callback"
AUTHORIZE = "/api/connections/quickbooks/authorize"
CALLBACK_PATH = "/api/connections/quickbooks/callback"
COOKIE = "__Host-bizmetrics_consent"
routes = fastapi_app.import_routes("plugins.quickbooks.routes")


@pytest.fixture
def consent_sim(sim: Sim, oauth_env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Sim:
    # A new connection has no base_url yet: the app settings point the code exchange and the company check at the
    # simulator, and name the callback registered with the Intuit app.
    monkeypatch.setenv("QBO_TOKEN_URL", sim.url + TOKEN_PATH)
    monkeypatch.setenv("QBO_BASE_URL", sim.url)
    monkeypatch.setenv("QBO_REDIRECT_URI", CALLBACK)
    return sim


@pytest.fixture
def audited(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every audit record the consent writes (shared.db.audit.record, which still writes its row)."""
    from shared.db import audit

    calls: list[tuple] = []
    real = audit.record

    def record(conn, actor, action, target, details):
        calls.append((actor, action, target, details))
        real(conn, actor, action, target, details)

    monkeypatch.setattr(audit, "record", record)
    return calls


@pytest.fixture
def browser(consent_sim: Sim, audited):
    """The operator's browser: signed in (Connections.Admin), keeping cookies like a browser does."""
    with fastapi_app.client(routes) as client:
        yield client


def new_id() -> str:
    return f"qbo-consent-{uuid.uuid4().hex[:10]}"


def authorize(client, connection_id: str, environment: str = "sandbox", **extra: str):
    return client.get(AUTHORIZE, params={"connection_id": connection_id, "environment": environment, **extra})


def consent_at_intuit(sim: Sim, response, code: str = CODES[0], realm: str = REALM) -> dict[str, str]:
    """The user consents on Intuit's page: Intuit issues `code` for the authorize request (and its PKCE challenge)
    and sends the browser back with code, state and realmId."""
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    sim.state.oauth.approve(code, realm, code_challenge=query["code_challenge"][0],
                            code_challenge_method=query["code_challenge_method"][0])
    return {"code": code, "state": query["state"][0], "realmId": realm}


def state_from(response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def callback(client, *, as_json: bool = True, **params: str):
    headers = {"Accept": "application/json"} if as_json else {"Accept": "text/html"}
    return client.get(CALLBACK_PATH, params=params, headers=headers)


def connect_through_http(client, sim: Sim, connection_id: str, code: str = CODES[0]) -> None:
    response = callback(client, **consent_at_intuit(sim, authorize(client, connection_id), code))
    assert response.status_code == 200, response.text


def stored(pg_dsn: str, connection_id: str):
    with psycopg.connect(pg_dsn) as conn:
        return load_tokens(conn, connection_id, Keyring.from_secrets())


def connection(pg_dsn: str, connection_id: str) -> Connection:
    with psycopg.connect(pg_dsn) as conn:
        return get_connection(conn, connection_id)


def state_row(pg_dsn: str, state: str):
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT connection_id, environment, expires_at - created_at, actor, browser_nonce_sha256, "
                            "code_verifier, redirect_uri FROM oauth_states WHERE state = %s", (state,)).fetchone()


def test_consent_flow_creates_the_connection_with_working_encrypted_tokens(browser, consent_sim: Sim, pg_dsn: str,
                                                                           audited):
    cid = new_id()
    response = authorize(browser, cid)
    assert response.status_code == 302 and response.headers["cache-control"] == "no-store"
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://appcenter.intuit.com/connect/oauth2"
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"] and query["redirect_uri"] == [CALLBACK]
    state = query["state"][0]
    row = state_row(pg_dsn, state)
    assert row[:4] == (cid, "sandbox", timedelta(minutes=10), fastapi_app.OPERATOR.actor)
    assert query["code_challenge"] == [code_challenge(row[5])] and query["code_challenge_method"] == ["S256"]

    done = callback(browser, **consent_at_intuit(consent_sim, response))
    assert done.status_code == 200, done.text
    assert done.json() == {"connected": True, "connection_id": cid, "realm_id": REALM, "environment": "sandbox"}
    made = connection(pg_dsn, cid)
    assert (made.plugin, made.config) == ("quickbooks", {"realm_id": REALM, "environment": "sandbox", "auth": "oauth"})
    tokens = stored(pg_dsn, cid)
    assert tokens.tokens.refresh_token == consent_sim.current_refresh_token()
    assert consent_sim.token_calls == [(200, "authorization_code")]
    assert audited == [(fastapi_app.OPERATOR.actor, "connection.consent_completed", cid,
                        {"plugin": "quickbooks", "realm_id": REALM, "environment": "sandbox", "created": True})]

    first = bearer_token(made)
    assert first == tokens.tokens.access_token and consent_sim.query_status(first) == 200
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    second = bearer_token(made)
    assert second != first and consent_sim.query_status(second) == 200
    assert stored(pg_dsn, cid).tokens.refresh_token == consent_sim.current_refresh_token()


def test_authorize_binds_the_state_to_this_browser_with_a_host_cookie(browser, consent_sim: Sim, pg_dsn: str):
    response = authorize(browser, new_id())
    cookie = response.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    nonce = rest.split(";")[0]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert name == COOKIE
    assert {"secure", "httponly", "samesite=lax", "path=/", "max-age=600"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    # Only the nonce's hash is stored: the database alone cannot finish someone's consent.
    assert bytes(state_row(pg_dsn, state_from(response))[4]) == hashlib.sha256(nonce.encode()).digest()


def test_a_callback_from_another_browser_is_refused_and_stores_nothing(browser, consent_sim: Sim, pg_dsn: str,
                                                                      audited):
    cid = new_id()
    landed = consent_at_intuit(consent_sim, authorize(browser, cid))
    with fastapi_app.client(routes) as victim:  # a browser the attacker lured to the attacker's callback URL
        refused = callback(victim, **landed)
        assert refused.status_code == 400 and "consent cookie is missing" in refused.json()["detail"]
        wrong = victim.get(CALLBACK_PATH, params=landed, headers={"Accept": "application/json",
                                                                  "Cookie": f"{COOKIE}={'A' * 43}"})
        assert wrong.status_code == 400 and "another browser" in wrong.json()["detail"]
    assert callback(browser, **landed).status_code == 400, "the state was used up by the refused attempt"
    assert consent_sim.token_calls == [] and audited == []
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM connections WHERE connection_id = %s", (cid,)).fetchone() == (0,)


def test_the_token_exchange_sends_the_pkce_verifier_and_a_wrong_one_is_refused(browser, consent_sim: Sim, pg_dsn):
    response = authorize(browser, new_id())
    query = parse_qs(urlsplit(response.headers["location"]).query)
    # Intuit bound the code to another challenge than ours (e.g. a code stolen from another flow).
    consent_sim.state.oauth.approve(CODES[0], REALM, code_challenge=code_challenge("another-verifier" * 3))
    refused = callback(browser, code=CODES[0], state=query["state"][0], realmId=REALM)
    assert refused.status_code == 400 and "invalid_grant" in refused.json()["detail"]
    assert consent_sim.token_calls == [(400, "authorization_code")]


def test_the_token_is_checked_against_the_claimed_company_before_anything_is_stored(browser, consent_sim: Sim,
                                                                                    pg_dsn: str, audited):
    cid = new_id()
    landed = consent_at_intuit(consent_sim, authorize(browser, cid))
    other_company = "4620816365170185410"  # the redirect claims a company the token does not open
    refused = callback(browser, **{**landed, "realmId": other_company})
    assert refused.status_code == 400, refused.text
    assert f"did not grant access to QuickBooks company {other_company}" in refused.json()["detail"]
    assert consent_sim.token_calls == [(200, "authorization_code")]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM connections WHERE connection_id = %s", (cid,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM oauth_tokens WHERE connection_id = %s", (cid,)).fetchone() == (0,)
    assert audited == []


def test_the_redirect_uri_comes_from_configuration_not_from_the_request(browser, consent_sim: Sim, pg_dsn: str,
                                                                        monkeypatch: pytest.MonkeyPatch):
    response = browser.get(AUTHORIZE, params={"connection_id": new_id(), "environment": "sandbox",
                                              "redirect_uri": "https://evil.example/steal"},
                           headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["redirect_uri"] == [CALLBACK]
    assert state_row(pg_dsn, query["state"][0])[6] == CALLBACK
    monkeypatch.delenv("QBO_REDIRECT_URI")
    unset = authorize(browser, new_id())
    assert unset.status_code == 500 and "QBO_REDIRECT_URI" in unset.json()["detail"]


def test_callback_answers_a_small_html_page_to_browsers(browser, consent_sim: Sim):
    cid = new_id()
    response = callback(browser, as_json=False, **consent_at_intuit(consent_sim, authorize(browser, cid)))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert f"is connected as {cid}" in response.text
    assert COOKIE not in browser.cookies, "the consent cookie is single use"


def test_callback_refuses_reused_expired_unknown_and_missing_states_with_400(browser, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    landed = consent_at_intuit(consent_sim, authorize(browser, cid))
    assert callback(browser, **landed).status_code == 200
    authorize(browser, cid)  # a new cookie for the next attempts
    again = callback(browser, **{**landed, "code": CODES[1]})
    assert again.status_code == 400 and "already used" in again.json()["detail"]

    expired = state_from(authorize(browser, cid))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE state = %s", (expired,))
    late = callback(browser, code=CODES[1], state=expired, realmId=REALM)
    assert late.status_code == 400 and "expired" in late.json()["detail"]

    authorize(browser, cid)
    unknown = callback(browser, code=CODES[1], state="F" * 43, realmId=REALM)
    assert unknown.status_code == 400 and "Unknown" in unknown.json()["detail"]
    missing = callback(browser, code=CODES[1], realmId=REALM)
    assert missing.status_code == 400 and "no state" in missing.json()["detail"]
    assert consent_sim.token_calls == [(200, "authorization_code")], "refused callbacks never exchange a code"


def test_declined_consent_is_refused_and_its_state_is_used_up(browser, consent_sim: Sim):
    response = authorize(browser, new_id())
    state = state_from(response)
    declined = callback(browser, error="access_denied", state=state)
    assert declined.status_code == 400 and "access_denied" in declined.json()["detail"]
    authorize(browser, new_id())
    assert callback(browser, code=CODES[0], state=state, realmId=REALM).status_code == 400
    assert consent_sim.token_calls == []


def test_an_authorization_code_the_token_endpoint_refuses_is_a_400(browser, consent_sim: Sim):
    refused = callback(browser, code="not-a-code", state=state_from(authorize(browser, new_id())), realmId=REALM)
    assert refused.status_code == 400 and "invalid_grant" in refused.json()["detail"]


def test_reconnecting_clears_action_required_keeps_settings_and_replaces_tokens(host, browser, consent_sim: Sim,
                                                                               pg_dsn):
    cid = new_id()
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "quickbooks", "Acme Books", {"realm_id": REALM, "page_size": 500}))
    connect_through_http(browser, consent_sim, cid, CODES[0])
    first = stored(pg_dsn, cid)
    # The stored refresh token dies (superseded elsewhere): the next refresh marks the connection.
    consent_sim.refresh_outside_our_store(first.tokens.refresh_token)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    with pytest.raises(ApiError, match="invalid_grant"):
        bearer_token(connection(pg_dsn, cid))
    listed = {c["connection_id"]: c for c in body(list_connections(host))["connections"]}
    assert (listed[cid]["health"]["status"], listed[cid]["health"]["reason"]) == ("action_required",
                                                                                INVALID_GRANT_REASON)

    connect_through_http(browser, consent_sim, cid, CODES[1])
    made = connection(pg_dsn, cid)
    assert made.display_name == "Acme Books"
    assert made.config == {"realm_id": REALM, "page_size": 500, "environment": "sandbox", "auth": "oauth"}
    listed = {c["connection_id"]: c for c in body(list_connections(host))["connections"]}
    assert (listed[cid]["health"]["status"], listed[cid]["health"]["reason"]) == ("ok", None)
    assert consent_sim.query_status(bearer_token(made)) == 200
    assert stored(pg_dsn, cid).info.refresh_count == 0


def test_consent_for_another_company_than_the_connection_has_is_refused(browser, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "quickbooks", "Other", {"realm_id": "123145"}))
    refused = callback(browser, **consent_at_intuit(consent_sim, authorize(browser, cid)))
    assert refused.status_code == 400
    assert (f"belongs to QuickBooks company 123145, but consent was given for company {REALM}"
            in refused.json()["detail"])


@pytest.mark.parametrize(("query", "message"), [
    ({"connection_id": "acme", "environment": "staging"}, "environment must be one of sandbox, production"),
    ({"connection_id": "../etc", "environment": "sandbox"}, "is invalid"),
    ({"connection_id": "acme\n", "environment": "sandbox"}, "is invalid"),
])
def test_authorize_refuses_bad_requests_with_400(browser, query: dict, message: str):
    response = browser.get(AUTHORIZE, params=query)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_authorize_without_the_apps_client_id_is_a_500_that_names_the_setting_and_stores_no_state(
        browser, pg_dsn: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SECRET_QBO_CLIENT_ID")
    cid = new_id()
    response = authorize(browser, cid)
    assert response.status_code == 500 and "SECRET_QBO_CLIENT_ID" in response.json()["detail"]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM oauth_states WHERE connection_id = %s", (cid,)).fetchone() == (0,)


def body(response) -> dict:
    return json.loads(response.get_body())


def list_connections(host):
    return call(host, "GET", "/api/connections", key=api_key(METRICS_READ))


def test_connection_list_shows_health_and_warnings_but_never_tokens(host, browser, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    connect_through_http(browser, consent_sim, cid)
    tokens = stored(pg_dsn, cid).tokens
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET consented_at = now() - interval '5 years' + interval '10 days', "
                     "refresh_expires_at = now() + interval '3 days' WHERE connection_id = %s", (cid,))
    response = list_connections(host)
    assert response.status_code == 200
    text = response.get_body().decode()
    for secret in (tokens.access_token, tokens.refresh_token, CLIENT_SECRET):
        assert secret not in text
    listed = {c["connection_id"]: c for c in json.loads(text)["connections"]}[cid]
    assert listed["plugin"] == "quickbooks" and listed["health"]["status"] == "ok"
    assert "config" not in listed and set(listed["oauth"]) == {
        "consented_at", "access_expires_at", "refresh_expires_at", "last_refreshed_at", "refresh_count"}
    assert [w.split(" ")[2] for w in listed["warnings"]] == ["refresh", "consent"]


def test_oauth_connection_without_tokens_is_listed_with_a_warning(host, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "quickbooks", "Pending", {"realm_id": REALM, "auth": "oauth"}))
    listed = {c["connection_id"]: c for c in body(list_connections(host))["connections"]}[cid]
    assert listed["warnings"] == ["No OAuth tokens are stored: connect this account"]


class Terminal(io.StringIO):
    """The person at the terminal: reads the printed consent URL, 'visits' Intuit, pastes where it sent them."""

    def __init__(self, printed: io.StringIO, code: str) -> None:
        super().__init__()
        self.printed, self.code = printed, code

    def readline(self, *_: object) -> str:
        url = self.printed.getvalue().strip().splitlines()[-1]
        query = parse_qs(urlsplit(url).query)
        landed = {"code": self.code, "state": query["state"][0], "realmId": REALM}
        return f"{query['redirect_uri'][0]}?{urlencode(landed)}\n"


def test_cli_prints_the_consent_url_and_completes_from_the_pasted_redirect(consent_sim: Sim, pg_dsn: str, audited):
    cid = new_id()
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["--connection-id", cid, "--environment", "sandbox"], stdin=Terminal(out, CODES[0]),
                    stdout=out, stderr=err) == 0, err.getvalue()
    assert out.getvalue().startswith("https://appcenter.intuit.com/connect/oauth2?")
    assert f"Connected {cid} to QuickBooks company {REALM} (sandbox)." in out.getvalue()
    assert consent_sim.query_status(bearer_token(connection(pg_dsn, cid))) == 200


def test_cli_can_finish_later_with_the_redirect_url_and_refuses_another_connections_state(consent_sim: Sim, audited):
    cid = new_id()
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["--connection-id", cid], stdin=io.StringIO(""), stdout=out, stderr=err) == 2
    assert "--redirect-url" in err.getvalue()
    state = parse_qs(urlsplit(out.getvalue().strip()).query)["state"][0]
    landed = f"{cli.DEFAULT_REDIRECT_URI}?{urlencode({'code': CODES[0], 'state': state, 'realmId': REALM})}"
    wrong = io.StringIO()
    assert cli.main(["--connection-id", "someone-else", "--redirect-url", landed], stderr=wrong) == 1
    assert f"started for connection {cid}" in wrong.getvalue()

    state = parse_qs(urlsplit(_url_of(cli, cid)).query)["state"][0]
    landed = f"{cli.DEFAULT_REDIRECT_URI}?{urlencode({'code': CODES[1], 'state': state, 'realmId': REALM})}"
    done = io.StringIO()
    assert cli.main(["--connection-id", cid, "--redirect-url", landed], stdout=done, stderr=io.StringIO()) == 0
    assert f"Connected {cid}" in done.getvalue()


def _url_of(module, cid: str) -> str:
    out = io.StringIO()
    module.main(["--connection-id", cid], stdin=io.StringIO(""), stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_tokens_codes_and_client_secret_never_reach_logs_or_error_texts(browser, consent_sim: Sim, pg_dsn: str,
                                                                        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="httpx")  # the test's browser logs the URLs it visits; the app does not
    caplog.set_level(logging.DEBUG)
    cid = new_id()
    connect_through_http(browser, consent_sim, cid, CODES[0])
    seen = [stored(pg_dsn, cid).tokens]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    bearer_token(connection(pg_dsn, cid))
    seen.append(stored(pg_dsn, cid).tokens)
    # Make the next refresh fail: the stored token is superseded outside the store.
    elsewhere = consent_sim.refresh_outside_our_store(seen[-1].refresh_token)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    with pytest.raises(ApiError) as caught:
        bearer_token(connection(pg_dsn, cid))
    secrets = {CODES[0], CLIENT_SECRET, elsewhere["access_token"], elsewhere["refresh_token"]}
    for tokens in seen:
        secrets |= {tokens.access_token, tokens.refresh_token}
    logged = caplog.text + "".join(str(r.args) + (r.exc_text or "") for r in caplog.records)
    assert "refreshed the OAuth tokens of connection" in logged and "invalid_grant" in logged
    for secret in secrets:
        assert secret not in logged
        assert secret not in exception_text(caught.value)
