"""Injected failures: each kind looks like the real failure it stands for, and strikes as often as asked."""

from __future__ import annotations

import json

import pytest

from sandbox.monday import FAULT_KINDS, MondayState

from .conftest import Api, main_boards

QUERY = "query { boards(limit: 2) { id name } me { id } }"


async def test_complexity_exhausted_answers_as_the_real_budget_would(api: Api, state: MondayState) -> None:
    state.faults.inject("complexity_exhausted", retry_in_seconds=17)
    reply = await api.post(QUERY)
    assert reply.status == 429 and reply.headers["Retry-After"] == "17"
    assert reply.body == {"errors": [{"message": "Complexity budget exhausted",
                                      "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 17}}]}
    assert (await api.post(QUERY)).status == 200  # one fault, one request


async def test_rate_limited_and_daily_limit_are_429_with_retry_after(api: Api, state: MondayState) -> None:
    state.faults.inject("rate_limited")
    state.faults.inject("daily_limit")
    minute, day = await api.post(QUERY), await api.post(QUERY)
    assert minute.status == day.status == 429
    assert minute.error_codes() == ["RATE_LIMIT_EXCEEDED"] and minute.headers["Retry-After"] == "30"
    assert day.error_codes() == ["DAILY_LIMIT_EXCEEDED"] and day.headers["Retry-After"] == str(15 * 3600)


async def test_500_is_monday_s_internal_error_body(api: Api, state: MondayState) -> None:
    state.faults.inject("500")
    reply = await api.post(QUERY)
    assert reply.status == 500 and reply.body["data"] is None
    assert reply.body["errors"] == [{"message": "Internal server error", "path": [], "extensions": {
        "status_code": 500, "error_code": "INTERNAL_SERVER_ERROR", "service": "monolith"}}]


async def test_error_in_200_returns_partial_data_and_an_error(api: Api, state: MondayState) -> None:
    state.faults.inject("error_in_200")
    reply = await api.post(QUERY)
    assert reply.status == 200 and reply.body["data"]["boards"] is None and reply.body["data"]["me"]["id"]
    assert reply.body["errors"][0]["extensions"]["error_code"] == "INTERNAL_SERVER_ERROR"


async def test_malformed_is_a_200_whose_json_is_cut_off(api: Api, state: MondayState) -> None:
    full = (await api.post(QUERY)).text
    state.faults.inject("malformed")
    reply = await api.post(QUERY)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert len(reply.text) < len(full) and full[:20] == reply.text[:20]
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)


async def test_cursor_expired_strikes_the_next_request_with_a_cursor(api: Api, state: MondayState) -> None:
    board = main_boards(state)[0]
    first = (await api.data(f"query {{ boards(ids: [{board}]) {{ items_page(limit: 5) {{ cursor }} }} }}"))
    cursor = first["boards"][0]["items_page"]["cursor"]
    state.faults.inject("cursor_expired")
    assert (await api.post(QUERY)).status == 200  # no cursor here: the fault waits
    reply = await api.post("query ($c: String!) { next_items_page(cursor: $c) { cursor } }", {"c": cursor})
    assert reply.error_codes() == ["CursorException"] and "expired" in reply.body["errors"][0]["message"]


async def test_unauthorized_board_is_a_403_inside_a_200(api: Api, state: MondayState) -> None:
    target, other = main_boards(state)[:2]
    state.faults.inject("unauthorized_board", board_id=target)
    fine = await api.post(f"query {{ boards(ids: [{other}]) {{ id }} }}")
    assert fine.status == 200 and fine.body["data"]["boards"] == [{"id": other}]
    reply = await api.post(f"query {{ boards(ids: [{target}]) {{ id }} me {{ id }} }}")
    assert reply.status == 200 and reply.body["data"]["boards"] is None and reply.body["data"]["me"]
    assert reply.body["errors"][0]["extensions"] == {"code": "USER_UNAUTHORIZED", "status_code": 403,
                                                     "error_data": {}, "service": "monolith"}
    assert reply.body["errors"][0]["path"] == ["boards"]
    assert (await api.post(f"query {{ boards(ids: [{target}]) {{ id }} }}")).status == 200


async def test_a_retired_version_gets_today_s_error_envelope_not_the_old_top_level_body(
        api: Api, state: MondayState) -> None:
    # Before 2024-10 this was an HTTP 403 {"error_code": "UserUnauthorizedException", ...}; 2024-07 is retired now
    # and monday routes it to the oldest supported version, whose envelope is errors[] inside an HTTP 200.
    state.faults.inject("unauthorized_board")
    reply = await api.post("query { boards { id } }", version="2024-07")
    assert reply.status == 200 and reply.headers["Api-Version"] == "2026-07"
    assert reply.error_codes() == ["USER_UNAUTHORIZED"] and "error_code" not in reply.body


async def test_timeout_holds_the_request_then_gives_up_with_504(api: Api, state: MondayState) -> None:
    state.faults.hang_seconds = 0.2
    state.faults.inject("timeout")
    reply = await api.post(QUERY)
    assert reply.status == 504 and reply.text == "upstream request timeout"


async def test_faults_strike_count_times_and_unknown_kinds_are_refused(api: Api, state: MondayState) -> None:
    state.faults.inject("500", count=2)
    statuses = [(await api.post(QUERY)).status for _ in range(3)]
    assert statuses == [500, 500, 200]
    with pytest.raises(ValueError, match="unknown fault kind"):
        state.faults.inject("meteor")
    assert {"complexity_exhausted", "rate_limited", "daily_limit", "500", "error_in_200", "malformed",
            "cursor_expired", "unauthorized_board", "unauthorized_field", "timeout"} == FAULT_KINDS


async def test_unauthorized_field_refuses_one_root_field_and_answers_the_rest(api: Api, state: MondayState) -> None:
    state.faults.inject("unauthorized_field", count=1, field="users")
    reply = await api.post("query { users { id } boards(limit: 1) { id } }")
    assert reply.status == 200 and reply.body["data"]["users"] is None and reply.body["data"]["boards"]
    assert reply.error_codes() == ["USER_UNAUTHORIZED"] and reply.body["errors"][0]["path"] == ["users"]
    assert "errors" not in (await api.post("query { users { id } }")).body
    with pytest.raises(ValueError, match="needs `field`"):
        state.faults.inject("unauthorized_field")
