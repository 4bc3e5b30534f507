from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

REALM = "9130350000000001"
TOKEN = "demo-access-token"
REFRESH = "refresh-token-0"
START = "2026-11-01T12:00:00-07:00"


@pytest.fixture(scope="session")
def company() -> DemoCompany:
    # Smaller than the CLI's company so that each test's private copy is quick to make.
    return DemoCompany.generate(realm_id=REALM, seed=7, customers=60, invoices=400, payments=300)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=START, frozen=True)


@pytest.fixture
def state(company: DemoCompany, clock: SimClock) -> SimulatorState:
    # Limits off here; the throttle tests build their own state with limits on.
    return SimulatorState(companies=[company], clock=clock, access_tokens={TOKEN}, refresh_tokens={REALM: REFRESH},
                          limits=ThrottleLimits(per_second=None, per_minute=None))


class Api:
    """A thin QBO client over the test server, speaking as a plugin would."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def headers(self, token: str | None = TOKEN) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def get(self, path: str, params: dict[str, str] | None = None, *, token: str | None = TOKEN,
                  realm: str = REALM, minorversion: str | None = "75") -> tuple[int, Any]:
        query = dict(params or {})
        if minorversion is not None:
            query["minorversion"] = minorversion
        response = await self.client.get(f"/v3/company/{realm}/{path}", params=query, headers=self.headers(token))
        return response.status, await response.json(content_type=None)

    async def query(self, text: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.get("query", {"query": text}, **kwargs)

    async def rows(self, text: str, entity: str) -> list[dict[str, Any]]:
        status, body = await self.query(text)
        assert status == 200, body
        return body["QueryResponse"].get(entity, [])

    async def cdc(self, entities: str, changed_since: str) -> tuple[int, Any]:
        return await self.get("cdc", {"entities": entities, "changedSince": changed_since})


@pytest.fixture
async def client(state: SimulatorState) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(state))) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)
