"""Connecting a QuickBooks company: authorize (302 with a one-time state) -> Intuit -> callback (code exchanged,
connection created, tokens stored encrypted) through the app's HTTP functions on the local host, and the CLI."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg
import pytest

from plugins.quickbooks import consent_cli as cli
from plugins.quickbooks.oauth import INVALID_GRANT_REASON, bearer_token
from shared.core.http import ApiError
from shared.db.connections import Connection, get_connection, upsert_connection
from shared.tokens.crypto import Keyring
from shared.tokens.store import load_tokens

from .conftest import CLIENT_ID, CLIENT_SECRET, CODES, REALM, TOKEN_PATH, Sim, exception_text

BASE = "http://localhost/api/connections"
CALLBACK = f"{BASE}/quickbooks/callback"


@pytest.fixture
def consent_sim(sim: Sim, oauth_env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Sim:
    # A new connection has no base_url yet: the app setting points the code exchange at the simulator.
    monkeypatch.setenv("QBO_TOKEN_URL", sim.url + TOKEN_PATH)
    return sim


def new_id() -> str:
    return f"qbo-consent-{uuid.uuid4().hex[:10]}"


def authorize(host, connection_id: str, environment: str = "sandbox"):
    query = urlencode({"connection_id": connection_id, "environment": environment})
    return host.invoke_http("authorize_quickbooks_http", "GET", url=f"{BASE}/quickbooks/authorize?{query}")


def state_from(response) -> str:
    assert response.status_code == 302, response.get_body()
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


def callback(host, *, as_json: bool = True, **params: str):
    headers = {"Accept": "application/json"} if as_json else {"Accept": "text/html"}
    return host.invoke_http("quickbooks_callback_http", "GET", url=f"{CALLBACK}?{urlencode(params)}",
                            headers=headers)


def body(response) -> dict:
    return json.loads(response.get_body())


def connect_through_http(host, connection_id: str, code: str = CODES[0]) -> None:
    state = state_from(authorize(host, connection_id))
    response = callback(host, code=code, state=state, realmId=REALM)
    assert response.status_code == 200, response.get_body()


def stored(pg_dsn: str, connection_id: str):
    with psycopg.connect(pg_dsn) as conn:
        return load_tokens(conn, connection_id, Keyring.from_secrets())


def connection(pg_dsn: str, connection_id: str) -> Connection:
    with psycopg.connect(pg_dsn) as conn:
        return get_connection(conn, connection_id)


def test_consent_flow_creates_the_connection_with_working_encrypted_tokens(host, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    response = authorize(host, cid)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://appcenter.intuit.com/connect/oauth2"
    query = parse_qs(location.query)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"] and query["redirect_uri"] == [CALLBACK]
    state = query["state"][0]
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT connection_id, environment, expires_at - created_at FROM oauth_states "
                           "WHERE state = %s", (state,)).fetchone()
    assert row == (cid, "sandbox", timedelta(minutes=10))

    done = callback(host, code=CODES[0], state=state, realmId=REALM)
    assert done.status_code == 200, done.get_body()
    assert body(done) | {"message": ""} == {"connected": True, "connection_id": cid, "realm_id": REALM,
                                            "environment": "sandbox", "message": ""}
    made = connection(pg_dsn, cid)
    assert (made.plugin, made.config) == ("quickbooks", {"realm_id": REALM, "environment": "sandbox", "auth": "oauth"})
    tokens = stored(pg_dsn, cid)
    assert tokens.tokens.refresh_token == consent_sim.current_refresh_token()
    assert consent_sim.token_calls == [(200, "authorization_code")]

    first = bearer_token(made)
    assert first == tokens.tokens.access_token and consent_sim.query_status(first) == 200
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    second = bearer_token(made)
    assert second != first and consent_sim.query_status(second) == 200
    assert stored(pg_dsn, cid).tokens.refresh_token == consent_sim.current_refresh_token()


def test_callback_answers_a_small_html_page_to_browsers(host, consent_sim: Sim):
    cid = new_id()
    response = callback(host, as_json=False, code=CODES[0], state=state_from(authorize(host, cid)), realmId=REALM)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert f"is connected as {cid}" in response.get_body().decode()


def test_callback_refuses_reused_expired_unknown_and_missing_states_with_400(host, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    used = state_from(authorize(host, cid))
    assert callback(host, code=CODES[0], state=used, realmId=REALM).status_code == 200
    again = callback(host, code=CODES[1], state=used, realmId=REALM)
    assert again.status_code == 400 and "already used" in body(again)["error"]

    expired = state_from(authorize(host, cid))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE state = %s", (expired,))
    late = callback(host, code=CODES[1], state=expired, realmId=REALM)
    assert late.status_code == 400 and "expired" in body(late)["error"]

    unknown = callback(host, code=CODES[1], state="forged-" + uuid.uuid4().hex, realmId=REALM)
    assert unknown.status_code == 400 and "Unknown" in body(unknown)["error"]
    missing = callback(host, code=CODES[1], realmId=REALM)
    assert missing.status_code == 400 and "no state" in body(missing)["error"]
    assert consent_sim.token_calls == [(200, "authorization_code")], "refused callbacks never exchange a code"


def test_declined_consent_is_refused_and_its_state_is_used_up(host, consent_sim: Sim):
    state = state_from(authorize(host, new_id()))
    declined = callback(host, error="access_denied", state=state)
    assert declined.status_code == 400 and "access_denied" in body(declined)["error"]
    assert callback(host, code=CODES[0], state=state, realmId=REALM).status_code == 400
    assert consent_sim.token_calls == []


def test_an_authorization_code_the_token_endpoint_refuses_is_a_400(host, consent_sim: Sim):
    refused = callback(host, code="not-a-code", state=state_from(authorize(host, new_id())), realmId=REALM)
    assert refused.status_code == 400 and "invalid_grant" in body(refused)["error"]


def test_reconnecting_clears_action_required_keeps_settings_and_replaces_tokens(host, consent_sim: Sim, pg_dsn):
    cid = new_id()
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "quickbooks", "Acme Books", {"realm_id": REALM, "page_size": 500}))
    connect_through_http(host, cid, CODES[0])
    first = stored(pg_dsn, cid)
    # The stored refresh token dies (superseded elsewhere): the next refresh marks the connection.
    consent_sim.refresh_outside_our_store(first.tokens.refresh_token)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE oauth_tokens SET access_expires_at = now() WHERE connection_id = %s", (cid,))
    with pytest.raises(ApiError, match="invalid_grant"):
        bearer_token(connection(pg_dsn, cid))
    listed = {c["connection_id"]: c for c in body(list_connections(host))["connections"]}
    assert (listed[cid]["status"], listed[cid]["status_reason"]) == ("action_required", INVALID_GRANT_REASON)

    connect_through_http(host, cid, CODES[1])
    made = connection(pg_dsn, cid)
    assert made.display_name == "Acme Books"
    assert made.config == {"realm_id": REALM, "page_size": 500, "environment": "sandbox", "auth": "oauth"}
    listed = {c["connection_id"]: c for c in body(list_connections(host))["connections"]}
    assert (listed[cid]["status"], listed[cid]["status_reason"]) == ("ok", None)
    assert consent_sim.query_status(bearer_token(made)) == 200
    assert stored(pg_dsn, cid).info.refresh_count == 0


def test_consent_for_another_company_than_the_connection_has_is_refused(host, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "quickbooks", "Other", {"realm_id": "123145"}))
    refused = callback(host, code=CODES[0], state=state_from(authorize(host, cid)), realmId=REALM)
    assert refused.status_code == 400
    assert f"belongs to QuickBooks company 123145, but consent was given for company {REALM}" in body(refused)["error"]


@pytest.mark.parametrize(("query", "message"), [
    ({"connection_id": "acme", "environment": "staging"}, "environment must be one of sandbox, production"),
    ({"connection_id": "../etc", "environment": "sandbox"}, "is invalid"),
    ({"environment": "sandbox"}, "is invalid"),
])
def test_authorize_refuses_bad_requests_with_400(host, consent_sim: Sim, query: dict, message: str):
    response = host.invoke_http("authorize_quickbooks_http", "GET",
                                url=f"{BASE}/quickbooks/authorize?{urlencode(query)}")
    assert response.status_code == 400 and message in body(response)["error"]


def test_authorize_without_the_apps_client_id_is_a_500_that_names_the_setting_and_stores_no_state(
        host, consent_sim: Sim, pg_dsn: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SECRET_QBO_CLIENT_ID")
    cid = new_id()
    response = authorize(host, cid)
    assert response.status_code == 500 and "SECRET_QBO_CLIENT_ID" in body(response)["error"]
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM oauth_states WHERE connection_id = %s", (cid,)).fetchone() == (0,)


def list_connections(host):
    return host.invoke_http("list_connections_http", "GET", url=BASE)


def test_connection_list_shows_health_and_warnings_but_never_tokens(host, consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    connect_through_http(host, cid)
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
    assert listed["plugin"] == "quickbooks" and listed["status"] == "ok"
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


def test_cli_prints_the_consent_url_and_completes_from_the_pasted_redirect(consent_sim: Sim, pg_dsn: str):
    cid = new_id()
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["--connection-id", cid, "--environment", "sandbox"], stdin=Terminal(out, CODES[0]),
                    stdout=out, stderr=err) == 0, err.getvalue()
    assert out.getvalue().startswith("https://appcenter.intuit.com/connect/oauth2?")
    assert f"Connected {cid} to QuickBooks company {REALM} (sandbox)." in out.getvalue()
    assert consent_sim.query_status(bearer_token(connection(pg_dsn, cid))) == 200


def test_cli_can_finish_later_with_the_redirect_url_and_refuses_another_connections_state(consent_sim: Sim):
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


def test_tokens_codes_and_client_secret_never_reach_logs_or_error_texts(host, consent_sim: Sim, pg_dsn: str,
                                                                        caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    cid = new_id()
    connect_through_http(host, cid, CODES[0])
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
