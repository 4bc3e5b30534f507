"""The token endpoint: refresh-token rotation, invalid_grant, and issued tokens at the API."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app

from . import reference
from .conftest import REALM, REFRESH, Api

BASIC = "Basic " + base64.b64encode(b"demo-client-id:demo-client-secret").decode()


async def _token(api: Api, form: dict[str, str], authorization: str | None = BASIC) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    response = await api.client.post("/oauth2/v1/tokens/bearer", data=form, headers=headers)
    return response.status, await response.json(content_type=None)


async def test_refresh_returns_the_intuit_token_shape(api: Api) -> None:
    recorded = reference.QUICKBOOKS / "oauth2" / "intuit-dotnet-sdk-success_token_response.json"
    status, body = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH})
    assert status == 200
    expected_keys = set(json.loads(recorded.read_text())) - {"id_token"}  # id_token comes only with OpenID scopes
    assert set(body) == expected_keys
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)
    assert body["x_refresh_token_expires_in"] > 86400 * 90


async def test_refresh_rotates_and_the_superseded_token_is_invalid_grant(api: Api, state: SimulatorState) -> None:
    _, first = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH})
    assert first["refresh_token"] != REFRESH
    status, body = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH})
    assert status == 400 and body["error"] == "invalid_grant"
    _, second = await _token(api, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second["refresh_token"] not in (REFRESH, first["refresh_token"])
    assert state.oauth.current_refresh_token(REALM) == second["refresh_token"]
    status, body = await _token(api, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_issued_access_token_works_at_the_api_until_it_expires(api: Api, state: SimulatorState) -> None:
    _, tokens = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH})
    status, _ = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"])
    assert status == 200
    status, _ = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"], realm="123")
    assert status == 403  # a token belongs to the company that granted it
    state.clock.advance(3600)
    status, body = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"])
    assert status == 401 and body["fault"]["error"][0]["detail"].startswith("Token expired")


async def test_bad_client_credentials_are_invalid_client(api: Api) -> None:
    wrong = "Basic " + base64.b64encode(b"demo-client-id:wrong").decode()
    status, body = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH}, wrong)
    assert (status, body) == (401, {"error": "invalid_client"})


async def test_client_secret_post_is_accepted(api: Api) -> None:
    status, _ = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH,
                                   "client_id": "demo-client-id", "client_secret": "demo-client-secret"}, None)
    assert status == 200


async def test_authorization_code_is_exchanged_once(company: DemoCompany) -> None:
    state = SimulatorState(companies=[company], clock=SimClock(frozen=True), authorization_codes={"code-1": REALM})
    async with TestClient(TestServer(create_app(state))) as client:
        api = Api(client)
        form = {"grant_type": "authorization_code", "code": "code-1", "redirect_uri": "http://localhost/cb"}
        status, tokens = await _token(api, form)
        assert status == 200
        status, _ = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"])
        assert status == 200
        status, body = await _token(api, form)
        assert (status, body["error"]) == (400, "invalid_grant")


async def test_unknown_grant_type_is_refused(api: Api) -> None:
    status, body = await _token(api, {"grant_type": "password"})
    assert status == 400 and body["error"] == "unsupported_grant_type"


async def test_an_expire_token_fault_ends_the_presented_token_until_a_refresh(api: Api, state: SimulatorState) -> None:
    _, tokens = await _token(api, {"grant_type": "refresh_token", "refresh_token": REFRESH})
    state.faults.inject("expire_token", path_contains="/query")
    status, body = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"])
    assert status == 401 and body["fault"]["error"][0]["detail"].startswith("Token expired")
    # Unlike the one-off "401" fault, the token stays dead: asking again does not help, refreshing does.
    assert (await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"]))[0] == 401
    _, renewed = await _token(api, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert (await api.query("SELECT COUNT(*) FROM Item", token=renewed["access_token"]))[0] == 200


async def test_a_code_issued_with_a_pkce_challenge_needs_its_verifier(company: DemoCompany) -> None:
    import hashlib

    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = SimulatorState(companies=[company], clock=SimClock(frozen=True))
    for code in ("no-verifier", "wrong-verifier", "right-verifier"):
        state.oauth.approve(code, REALM, code_challenge=challenge)
    async with TestClient(TestServer(create_app(state))) as client:
        api = Api(client)
        form = {"grant_type": "authorization_code", "redirect_uri": "http://localhost/cb"}
        status, body = await _token(api, {**form, "code": "no-verifier"})
        assert (status, body["error"]) == (400, "invalid_grant")
        status, body = await _token(api, {**form, "code": "wrong-verifier", "code_verifier": verifier[:-1] + "x"})
        assert (status, body["error"]) == (400, "invalid_grant")
        status, tokens = await _token(api, {**form, "code": "right-verifier", "code_verifier": verifier})
        assert status == 200
        status, _ = await api.query("SELECT COUNT(*) FROM Item", token=tokens["access_token"])
        assert status == 200
