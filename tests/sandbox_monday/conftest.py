from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from sandbox.monday import MondayAccount, MondayState, PlanLimits, SimClock, create_app

TOKEN = "demo-monday-token"
START = "2026-05-04T09:00:00Z"
VERSION = "2026-10"
NO_LIMITS = PlanLimits(daily_calls=None, per_minute=None, concurrency=None, complexity_per_minute=None)


@pytest.fixture
def account() -> MondayAccount:
    # Smaller than the CLI's account; generating a fresh one per test is quicker than deep-copying one.
    return MondayAccount.generate(seed=3, workspaces=2, boards=4, items_per_board=40, subitems_per_item=2)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=START, frozen=True)


@pytest.fixture
def state(account: MondayAccount, clock: SimClock) -> MondayState:
    # Limits off here; the budget tests build their own state with limits on.
    return MondayState(accounts=[account], clock=clock, tokens={TOKEN: account.id}, plan=NO_LIMITS,
                       copy_accounts=False)


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]  # HTTP header names are case-insensitive (aiohttp writes X-Request-ID)
    text: str

    @property
    def body(self) -> Any:
        return json.loads(self.text)

    def error_codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.body.get("errors", [])]


class Api:
    """A thin monday client over the test server, speaking as a plugin would."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, version: str | None = VERSION,
                   token: str | None = TOKEN, operation_name: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = token
        if version is not None:
            headers["API-Version"] = version
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = await self.client.post("/v2", json=payload, headers=headers)
        return Reply(response.status, CIMultiDict(response.headers), await response.text())

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        reply = await self.post(query, variables, **kwargs)
        assert reply.status == 200, reply.text
        assert "errors" not in reply.body, reply.text
        return reply.body["data"]  # type: ignore[no-any-return]


@pytest.fixture
async def client(state: MondayState) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(state))) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


def main_boards(state: MondayState, status: str = "active") -> list[str]:
    account = state.account()
    return [b.id for b in account.boards.values() if b.object_type == "board" and b.state == status]
