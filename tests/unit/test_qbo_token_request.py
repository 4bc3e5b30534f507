"""The token request goes only where the settings allow and follows no redirect: a 3xx from the token endpoint is
an error, so the client credentials and the grant are never sent on to another URL; outside local development
the token URL must be https on Intuit's token host, refused before any secret is read or request sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web

from plugins.quickbooks import oauth
from shared.core import egress
from shared.core.http import ApiError
from tests.sim_server import serve

CLIENT_SECRET = "client-secret-never-forwarded"


@pytest.fixture(autouse=True)
def app_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    monkeypatch.delenv("QBO_TOKEN_URL", raising=False)
    monkeypatch.setenv("SECRET_QBO_CLIENT_ID", "client-id")
    monkeypatch.setenv("SECRET_QBO_CLIENT_SECRET", CLIENT_SECRET)


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Where a redirect would send the request: records every request it gets."""
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "authorization": request.headers.get("Authorization", ""),
                     "body": (await request.read()).decode()})
        return web.json_response({"access_token": "a", "refresh_token": "r", "token_type": "bearer",
                                  "expires_in": 3600})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    with serve(app) as url:
        yield url, seen


def redirecting_to(target: str, status: int) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": target + "/stolen"})

    app = web.Application()
    app.router.add_post("/oauth2/v1/tokens/bearer", redirect)
    return app


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_from_the_token_endpoint_is_an_error_and_is_not_followed(elsewhere, status: int):
    target, seen = elsewhere
    with serve(redirecting_to(target, status)) as url, pytest.raises(ApiError) as caught:
        oauth.refresh_tokens("refresh-token-value", {"base_url": url})
    assert caught.value.code == "token_redirect_refused" and f"HTTP {status}" in str(caught.value)
    assert seen == [], "nothing (no client secret, no grant) reached the redirect's target"
    assert CLIENT_SECRET not in str(caught.value) and "refresh-token-value" not in str(caught.value)


def test_the_code_exchange_is_not_redirected_either(elsewhere):
    target, seen = elsewhere
    with serve(redirecting_to(target, 307)) as url, pytest.raises(ApiError, match="follow no redirects"):
        oauth.exchange_code("code-1", "123", "https://app.example/cb", config={"base_url": url},
                            code_verifier="v" * 43)
    assert seen == []


def test_outside_local_development_a_token_url_off_intuit_is_refused_before_any_request(elsewhere, monkeypatch):
    target, seen = elsewhere
    monkeypatch.delenv(egress.LOOPBACK_SETTING, raising=False)
    monkeypatch.setenv("SECRET_QBO_CLIENT_SECRET", "")  # proves no secret is needed (or read) to refuse
    for config in ({"token_url": target + "/token"}, {"base_url": target},
                   {"token_url": "http://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"}):
        with pytest.raises(ValueError, match=r"token_url|base_url"):
            oauth.refresh_tokens("refresh-token-value", config)
    monkeypatch.setenv("QBO_TOKEN_URL", target + "/token")
    with pytest.raises(ValueError, match=r"App setting QBO_TOKEN_URL .* only local development allows"):
        oauth.refresh_tokens("refresh-token-value", {})
    assert seen == []


def test_the_client_secret_goes_only_to_the_token_endpoint_itself(elsewhere):
    target, seen = elsewhere
    tokens = oauth.refresh_tokens("refresh-token-value", {"token_url": target + "/oauth2/v1/tokens/bearer"})
    assert tokens.access_token == "a"
    assert [s["path"] for s in seen] == ["/oauth2/v1/tokens/bearer"]
    assert CLIENT_SECRET not in seen[0]["body"], "the client authenticates by HTTP Basic, not in the form"
