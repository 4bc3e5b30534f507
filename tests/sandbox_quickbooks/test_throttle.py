"""Per-realm throttling (10 requests/s, 500/min by default) and metering of every call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

from .conftest import START, TOKEN, Api

OTHER_REALM = "9130350000000002"
FIRST_REALM = "9130350000000003"


@pytest.fixture(scope="module")
def tiny_companies() -> list[DemoCompany]:
    return [DemoCompany.generate(realm_id=realm, seed=n, customers=5, invoices=20, payments=10)
            for n, realm in enumerate((FIRST_REALM, OTHER_REALM))]


async def _serve(state: SimulatorState) -> AsyncIterator[Api]:
    async with TestClient(TestServer(create_app(state))) as client:
        yield Api(client)


@pytest.fixture
def throttled_state(tiny_companies: list[DemoCompany]) -> SimulatorState:
    return SimulatorState(companies=tiny_companies, clock=SimClock(start=START, frozen=True), access_tokens={TOKEN})


@pytest.fixture
async def throttled(throttled_state: SimulatorState) -> AsyncIterator[Api]:
    async for api in _serve(throttled_state):
        yield api


async def _statuses(api: Api, count: int, realm: str = FIRST_REALM) -> list[int]:
    return [(await api.query("SELECT COUNT(*) FROM Item", realm=realm))[0] for _ in range(count)]


async def test_the_eleventh_request_in_a_second_is_throttled(throttled: Api, throttled_state: SimulatorState) -> None:
    assert await _statuses(throttled, 10) == [200] * 10
    status, body = await throttled.query("SELECT COUNT(*) FROM Item", realm=FIRST_REALM)
    assert status == 429
    assert body["Fault"]["Error"][0]["code"] == "3001"
    throttled_state.clock.advance(1.0)
    assert await _statuses(throttled, 1) == [200]


async def test_limits_are_per_realm(throttled: Api) -> None:
    assert await _statuses(throttled, 11) == [200] * 10 + [429]
    assert await _statuses(throttled, 3, realm=OTHER_REALM) == [200] * 3


async def test_per_minute_window_slides(tiny_companies: list[DemoCompany]) -> None:
    state = SimulatorState(companies=tiny_companies, clock=SimClock(start=START, frozen=True), access_tokens={TOKEN},
                           limits=ThrottleLimits(per_second=None, per_minute=5))
    async for api in _serve(state):
        assert await _statuses(api, 6) == [200] * 5 + [429]
        state.clock.advance(30)
        assert await _statuses(api, 1) == [429]
        state.clock.advance(30)
        assert await _statuses(api, 5) == [200] * 5


async def test_scaled_down_windows_refuse_and_slide_as_the_real_ones(tiny_companies: list[DemoCompany]) -> None:
    limits = ThrottleLimits(per_second=2, per_minute=3, second_window=0.5, minute_window=5)
    state = SimulatorState(companies=tiny_companies, clock=SimClock(start=START, frozen=True), access_tokens={TOKEN},
                           limits=limits)
    async for api in _serve(state):
        assert await _statuses(api, 3) == [200, 200, 429]
        state.clock.advance(0.5)
        assert await _statuses(api, 2) == [200, 429]  # the "minute" of 5 s holds 3
        state.clock.advance(4.5)
        assert await _statuses(api, 2) == [200, 200]


async def test_real_per_minute_limit_is_500(tiny_companies: list[DemoCompany]) -> None:
    state = SimulatorState(companies=tiny_companies, clock=SimClock(start=START, frozen=True), access_tokens={TOKEN})
    async for api in _serve(state):
        statuses = []
        for _ in range(51):
            statuses += await _statuses(api, 10)
            state.clock.advance(1.0)
        assert statuses.count(200) == 500 and statuses[-10:] == [429] * 10


async def test_every_request_is_metered_throttled_or_not(throttled: Api, throttled_state: SimulatorState) -> None:
    await _statuses(throttled, 12)
    await throttled.query("SELECT COUNT(*) FROM Item", realm=FIRST_REALM, token="bad")
    assert throttled_state.calls(FIRST_REALM) == 13
    assert throttled_state.stats(FIRST_REALM)["by_status"] == {"200": 10, "401": 1, "429": 2}
    assert throttled_state.stats(FIRST_REALM)["throttled"] == 2
    assert throttled_state.calls(OTHER_REALM) == 0
