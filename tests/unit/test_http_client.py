"""The shared HTTP client over a real loopback server: retries, throttle hints, redaction, the governor."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from plugins.quickbooks.faults import classify
from shared.core.http import ApiClient, ApiError, RateGovernor, RetryPolicy, Throttled
from tests.sim_server import serve

SECRET = "very-secret-token-123"


def make_app(script: list[tuple[int, str, bytes]]) -> tuple[web.Application, list[int]]:
    seen: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        status, ctype, body = script[min(len(seen), len(script) - 1)]
        seen.append(status)
        return web.Response(status=status, body=body, content_type=ctype)

    app = web.Application()
    app.router.add_get("/q", handler)
    return app, seen


async def call(url: str, **policy) -> tuple[object, int]:
    async with aiohttp.ClientSession() as session:
        client = ApiClient(session, classify=classify, policy=RetryPolicy(base_delay=0.001, **policy),
                           redact=(SECRET,))
        try:
            return await client.request("GET", f"{url}/q"), client.calls
        except (ApiError, Throttled) as exc:
            return exc, client.calls


OK = (200, "application/json", b'{"QueryResponse": {}}')


async def test_server_errors_and_cut_bodies_are_retried_then_succeed():
    app, seen = make_app([(503, "text/html", b"down"), (200, "application/json", b'{"Query'), OK])
    with serve(app) as url:
        response, calls = await call(url)
    assert response.status == 200 and calls == 3 and seen == [503, 200, 200]


async def test_retries_are_bounded_and_the_error_is_transient():
    app, seen = make_app([(500, "application/json", b"{}")])
    with serve(app) as url:
        error, calls = await call(url, attempts=3)
    assert isinstance(error, ApiError) and error.transient
    assert calls == 3 and len(seen) == 3
    assert "failed after 3 attempts" in str(error)


async def test_a_throttle_is_not_retried_in_the_activity_but_handed_back_as_a_wait():
    body = b'{"Fault":{"Error":[{"Message":"ThrottleExceeded","Detail":"slow down","code":"3001"}]}}'
    app, _ = make_app([(429, "application/json", body), OK])
    with serve(app) as url:
        error, calls = await call(url)
    assert isinstance(error, Throttled) and error.retry_after == 60 and calls == 1


async def test_tokens_echoed_by_the_service_are_redacted_from_errors():
    body = ('{"fault":{"error":[{"message":"AuthenticationFailed","detail":"Token expired: '
            + SECRET + '","code":"3200"}],"type":"AUTHENTICATION"}}').encode()
    app, _ = make_app([(401, "application/json", body)])
    with serve(app) as url:
        error, calls = await call(url)
    assert isinstance(error, ApiError) and not error.transient and calls == 1
    assert SECRET not in str(error) and "Token expired: ***" in str(error)


async def test_connection_refused_is_transient():
    error, calls = await call("http://127.0.0.1:9", attempts=2)
    assert isinstance(error, ApiError) and error.transient and calls == 2


async def test_governor_sleeps_short_waits_and_hands_back_long_ones():
    now = [0.0]
    governor = RateGovernor([(2, 1.0), (3, 60.0)], max_sleep=2.0, clock=lambda: now[0])
    await governor.acquire()
    await governor.acquire()
    now[0] = 1.0  # the per-second window has room again, the per-minute one has one slot left
    await governor.acquire()
    with pytest.raises(Throttled) as caught:
        await governor.acquire()
    assert 58 <= caught.value.retry_after <= 60


EXPIRED = (401, "application/json",
           b'{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401",'
           b'"detail":"Token expired: old-token","code":"3200"}],"type":"AUTHENTICATION"}}')


def make_auth_app(script: list[tuple[int, str, bytes]]) -> tuple[web.Application, list[str]]:
    """Answers by the script and remembers the Authorization header of every request."""
    tokens: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        status, ctype, body = script[min(len(tokens), len(script) - 1)]
        tokens.append(request.headers.get("Authorization", ""))
        return web.Response(status=status, body=body, content_type=ctype)

    app = web.Application()
    app.router.add_get("/q", handler)
    return app, tokens


async def call_renewing(url: str, renewals: list[str]) -> tuple[object, int]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer old-token"}) as session:
        async def reauthorize() -> str:
            renewals.append("renewed")
            session.headers["Authorization"] = f"Bearer new-token-{len(renewals)}"
            return f"new-token-{len(renewals)}"

        client = ApiClient(session, classify=classify, policy=RetryPolicy(base_delay=0.001, attempts=1),
                           redact=("old-token",), reauthorize=reauthorize)
        try:
            return await client.request("GET", f"{url}/q"), client.calls
        except ApiError as exc:
            return exc, client.calls


async def test_an_expired_access_token_is_renewed_once_and_the_call_asked_again_with_the_new_one():
    app, tokens = make_auth_app([EXPIRED, OK])
    renewals: list[str] = []
    with serve(app) as url:
        response, calls = await call_renewing(url, renewals)
    # Even with a single attempt allowed for transient failures, the renewed call is made.
    assert response.status == 200 and calls == 2 and renewals == ["renewed"]
    assert tokens == ["Bearer old-token", "Bearer new-token-1"]


async def test_a_renewed_token_that_is_refused_again_fails_without_a_second_renewal():
    app, tokens = make_auth_app([EXPIRED, EXPIRED, OK])
    renewals: list[str] = []
    with serve(app) as url:
        error, calls = await call_renewing(url, renewals)
    assert isinstance(error, ApiError) and error.code == "3200" and not error.transient
    assert calls == 2 and renewals == ["renewed"] and len(tokens) == 2
    assert "refused again after renewing the credentials" in str(error)
    assert "reconnect" not in str(error) and "old-token" not in str(error)


async def test_a_redirect_is_never_followed_so_the_credentials_stay_with_the_checked_host():
    reached: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        reached.append(request.headers.get("Authorization", ""))
        return web.Response(status=200, body=b'{"QueryResponse": {}}', content_type="application/json")

    target = web.Application()
    target.router.add_get("/steal", elsewhere)
    with serve(target) as evil:
        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{evil}/steal")

        source = web.Application()
        source.router.add_get("/q", redirect)
        with serve(source) as url:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as session:
                client = ApiClient(session, classify=classify, policy=RetryPolicy(base_delay=0.001, attempts=2),
                                   redact=(SECRET,))
                with pytest.raises(ApiError) as caught:
                    await client.request("GET", f"{url}/q")
    assert reached == [] and SECRET not in str(caught.value)
