"""Who may call, for which company, and with which minor version."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

from . import reference
from .conftest import REALM, TOKEN, Api


async def test_unknown_token_gets_the_recorded_401_shape(api: Api) -> None:
    recorded = reference.cassette_bodies("error/401.yml")[0]
    response = await api.client.get(f"/v3/company/{REALM}/customer/1", params={"minorversion": "75"},
                                    headers=api.headers("not-a-token"))
    body = await response.json(content_type=None)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    assert list(body) == list(recorded)  # the lowercase `fault` wrapper and all its sibling keys
    assert body["fault"]["error"][0]["code"] == "3200" and body["fault"]["type"] == "AUTHENTICATION"
    assert isinstance(body["time"], int)  # epoch milliseconds, as recorded


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}])
async def test_missing_or_malformed_authorization_is_401(api: Api, headers: dict[str, str]) -> None:
    response = await api.client.get(f"/v3/company/{REALM}/query",
                                    params={"query": "SELECT * FROM Item", "minorversion": "75"}, headers=headers)
    assert response.status == 401


async def test_unknown_realm_is_an_authorization_fault(api: Api) -> None:
    status, body = await api.query("SELECT * FROM Item", realm="123456")
    assert status == 403
    assert body["fault"]["error"][0]["code"] == "3100"


@pytest.mark.parametrize("version", [None, "40", "74", "abc"])
async def test_minor_versions_below_75_are_refused(api: Api, version: str | None) -> None:
    status, body = await api.query("SELECT COUNT(*) FROM Item", minorversion=version)
    assert status == 400
    assert body["Fault"]["type"] == "ValidationFault"
    assert "75" in body["Fault"]["Error"][0]["Detail"]


@pytest.mark.parametrize("version", ["75", "76", "999"])
async def test_minor_version_75_and_later_is_served(api: Api, version: str) -> None:
    status, _ = await api.query("SELECT COUNT(*) FROM Item", minorversion=version)
    assert status == 200


async def test_ignore_policy_serves_old_minor_versions_like_qbo_does(company: DemoCompany) -> None:
    state = SimulatorState(companies=[company], clock=SimClock(frozen=True), access_tokens={TOKEN},
                           limits=ThrottleLimits(None, None), minorversion_policy="ignore")
    async with TestClient(TestServer(create_app(state))) as client:
        status, _ = await Api(client).query("SELECT COUNT(*) FROM Item", minorversion=None)
    assert status == 200
