"""Complexity, daily calls and requests per minute, charged and refused as the real API does, per version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from graphql import parse

from sandbox.monday import PLANS, MondayAccount, MondayState, PlanLimits, SimClock, create_app
from sandbox.monday.complexity import estimate
from sandbox.monday.schema import schema_for

from .conftest import START, TOKEN, Api

PAGE = "query ($n: Int!) { complexity { before query after reset_in_x_seconds } " \
       "boards(limit: 1) { items_page(limit: $n) { items { id column_values { id text } } } } }"
CHEAP = "query { me { id } }"
Limited = Callable[[PlanLimits], AbstractAsyncContextManager[tuple[Api, MondayState]]]


@pytest.fixture
def limited(account: MondayAccount) -> Limited:
    """A simulator with the given limits (the shared `state` fixture has none)."""
    @asynccontextmanager
    async def make(limits: PlanLimits) -> AsyncIterator[tuple[Api, MondayState]]:
        state = MondayState([account], SimClock(start=START, frozen=True), {TOKEN: account.id}, plan=limits,
                            copy_accounts=False)
        async with TestClient(TestServer(create_app(state))) as client:
            yield Api(client), state
    return make


def test_the_plans_carry_the_documented_limits() -> None:
    assert (PLANS["standard"].daily_calls, PLANS["pro"].daily_calls, PLANS["enterprise"].daily_calls) == \
        (1_000, 10_000, 25_000)
    assert [PLANS[p].per_minute for p in ("standard", "pro", "enterprise")] == [1_000, 2_500, 5_000]
    assert [PLANS[p].concurrency for p in ("standard", "pro", "enterprise")] == [40, 100, 250]
    assert PLANS["standard"].complexity_per_minute == 10_000_000 and PLANS["free"].complexity_per_minute == 1_000_000
    assert all(p.max_query_complexity == 5_000_000 for p in PLANS.values())


async def test_complexity_is_reported_charged_and_grows_with_the_limit(limited: Limited) -> None:
    async with limited(PLANS["standard"]) as (api, _):
        small = (await api.data(PAGE, {"n": 25}))["complexity"]
        big = (await api.data(PAGE, {"n": 500}))["complexity"]
    assert small["before"] == 10_000_000 and small["after"] == small["before"] - small["query"]
    assert big["before"] == small["after"] and big["after"] == big["before"] - big["query"]
    assert big["query"] > 15 * small["query"]
    assert 0 < big["reset_in_x_seconds"] <= 60


async def test_the_budget_refills_a_minute_after_its_first_call(limited: Limited) -> None:
    async with limited(PLANS["standard"]) as (api, state):
        first = (await api.data(PAGE, {"n": 100}))["complexity"]
        state.clock.advance(60)
        again = (await api.data(PAGE, {"n": 100}))["complexity"]
    assert again["before"] == first["before"] == 10_000_000


def _tight(points: int) -> PlanLimits:
    return PlanLimits(daily_calls=None, per_minute=None, concurrency=None, complexity_per_minute=points)


# 2024-04 is retired: monday routes it to 2026-07, so it no longer gets the old ComplexityException body.
@pytest.mark.parametrize("version", ["2026-07", "2026-10", "2024-04"])
async def test_exhaustion_is_code_and_retry_only_in_every_served_version(limited: Limited, version: str) -> None:
    async with limited(_tight(20_000)) as (api, state):
        await api.data(PAGE, {"n": 500}, version=version)
        state.clock.advance(10)
        reply = await api.post(PAGE, {"n": 500}, version=version)
    assert reply.status == 429 and reply.body == {"errors": [{"message": "Complexity budget exhausted", "extensions": {
        "code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 50}}]}
    assert reply.headers["Retry-After"] == "50"


async def test_a_query_over_5m_points_is_refused_outright(limited: Limited) -> None:
    query = "query { boards(limit: 100) { items_page(limit: 500) { items { id subitems { column_values " \
            "{ id text value } } } } } }"
    async with limited(PLANS["enterprise"]) as (api, _):
        reply = await api.post(query)
    assert reply.status == 200 and reply.error_codes() == ["maxComplexityExceeded"]
    assert reply.body["errors"][0]["extensions"]["maxComplexity"] == 5_000_000


async def test_the_daily_cap_counts_failed_calls_and_resets_at_midnight_utc(limited: Limited) -> None:
    caps = PlanLimits(daily_calls=3, per_minute=None, concurrency=None, complexity_per_minute=None)
    async with limited(caps) as (api, state):
        assert (await api.post(CHEAP)).status == 200
        assert (await api.post("query { nope }")).status == 200  # a validation failure is still a call
        assert (await api.post(CHEAP)).status == 200
        refused = await api.post(CHEAP)
        assert state.calls_today(state.account()) == 4
        assert refused.status == 429 and refused.error_codes() == ["DAILY_LIMIT_EXCEEDED"]
        until_midnight = 15 * 3600  # START is 09:00 UTC
        assert refused.body["errors"][0]["extensions"] == {"code": "DAILY_LIMIT_EXCEEDED",
                                                           "retry_in_seconds": until_midnight}
        assert refused.headers["Retry-After"] == str(until_midnight)
        state.clock.advance(until_midnight)
        assert (await api.post(CHEAP)).status == 200 and state.calls_today(state.account()) == 1


async def test_the_minute_limit_refuses_with_retry_after(limited: Limited) -> None:
    caps = PlanLimits(daily_calls=None, per_minute=3, concurrency=None, complexity_per_minute=None)
    async with limited(caps) as (api, state):
        for _ in range(3):
            assert (await api.post(CHEAP)).status == 200
            state.clock.advance(5)
        refused = await api.post(CHEAP)
        assert refused.status == 429 and refused.error_codes() == ["RATE_LIMIT_EXCEEDED"]
        assert refused.headers["Retry-After"] == "45"
        assert refused.body["errors"][0]["extensions"]["retry_in_seconds"] == 45
        state.clock.advance(45)
        assert (await api.post(CHEAP)).status == 200


async def test_a_scaled_down_window_refuses_and_refills_as_the_minute_does(limited: Limited) -> None:
    caps = PlanLimits(daily_calls=None, per_minute=2, concurrency=None, complexity_per_minute=None, window_seconds=5)
    async with limited(caps) as (api, state):
        assert [(await api.post(CHEAP)).status for _ in range(3)] == [200, 200, 429]
        state.clock.advance(5)
        assert (await api.post(CHEAP)).status == 200
    points = PlanLimits(daily_calls=None, per_minute=None, concurrency=None, complexity_per_minute=2_000,
                        window_seconds=5)
    async with limited(points) as (api, state):
        first = (await api.data(PAGE, {"n": 10}))["complexity"]
        assert first["reset_in_x_seconds"] == 5
        while (answer := await api.post(PAGE, {"n": 10})).status == 200:
            pass
        assert answer.error_codes() == ["COMPLEXITY_BUDGET_EXHAUSTED"] and answer.headers["Retry-After"] == "5"
        state.clock.advance(5)
        assert (await api.data(PAGE, {"n": 10}))["complexity"]["before"] == 2_000


async def test_every_answer_carries_rate_limit_headers(limited: Limited) -> None:
    async with limited(PLANS["pro"]) as (api, _):
        reply = await api.post(CHEAP)
    assert reply.headers["RateLimit-Policy"] == '"daily";q=10000;w=86400, "minute";q=2500;w=60'
    assert reply.headers["RateLimit"].startswith('"daily";r=9999;') and '"minute";r=2499;' in reply.headers["RateLimit"]


async def test_a_slow_request_holds_a_concurrency_slot(limited: Limited) -> None:
    caps = PlanLimits(daily_calls=None, per_minute=None, concurrency=1, complexity_per_minute=None)
    async with limited(caps) as (api, state):
        state.faults.hang_seconds = 0.5
        state.faults.inject("timeout")
        slow = asyncio.create_task(api.post(CHEAP))
        await asyncio.sleep(0.1)
        refused = await api.post(CHEAP)
        assert (await slow).status == 504
        assert refused.status == 429 and refused.error_codes() == ["maxConcurrencyExceeded"]
        assert (await api.post(CHEAP)).status == 200


def test_the_complexity_formula_multiplies_limits_down_the_selection() -> None:
    schema = schema_for("2026-10")
    query = "query { boards(ids: [1]) { items_page(limit: %d) { items { id column_values { id text } } } } }"
    costs = []
    for limit in (25, 500):
        document = parse(query % limit)
        costs.append(estimate(schema, document, document.definitions[0], {}))  # type: ignore[arg-type]
    assert costs == [1 + (1 + (1 + 25 * 22)), 1 + (1 + (1 + 500 * 22))]
