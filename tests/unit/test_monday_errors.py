"""monday's error shapes that have no recording (api-facts, the changelog) become the right verdict."""

from __future__ import annotations

import json

import pytest

from plugins.monday.errors import classify
from shared.core.http import Response


def answer(status: int, body: object, **headers: str) -> Response:
    text = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, {"Content-Type": "application/json", **headers}, text)


def limit(code: str, **extensions: object) -> dict:
    return {"errors": [{"message": code.replace("_", " ").lower(), "extensions": {"code": code, **extensions}}]}


@pytest.mark.parametrize("body", [
    limit("COMPLEXITY_BUDGET_EXHAUSTED", retry_in_seconds=17),  # 2025-07 and later: only code and retry
    limit("COMPLEXITY_BUDGET_EXHAUSTED", retry_in_seconds=17, status_code=429, complexity=9000,
          complexity_budget_left=10, complexity_budget_limit=10_000_000),  # 2025-01 .. 2025-04
    {"error_code": "ComplexityException", "status_code": 429, "error_data": {},
     "error_message": "Complexity budget exhausted, query cost 30001 budget remaining 14999 out of 1000000 "
                      "reset in 17 seconds"},  # before 2024-10
])
def test_complexity_budget_exhausted_in_every_era_waits_as_long_as_monday_says(body):
    verdict = classify(answer(429, body))
    assert verdict.kind == "throttle" and verdict.retry_after == 17
    assert "complexity budget" in verdict.message


def test_rate_limit_without_retry_in_seconds_waits_for_the_retry_after_header():
    verdict = classify(answer(429, limit("RATE_LIMIT_EXCEEDED"), **{"Retry-After": "23"}))
    assert (verdict.kind, verdict.code, verdict.retry_after) == ("throttle", "RATE_LIMIT_EXCEEDED", 23)


def test_daily_limit_waits_until_monday_resets_it_and_says_so():
    verdict = classify(answer(429, limit("DAILY_LIMIT_EXCEEDED", retry_in_seconds=3600)))
    assert verdict.kind == "throttle" and verdict.retry_after == 3600
    assert "daily API call cap" in verdict.message and "00:00 UTC" in verdict.message


@pytest.mark.parametrize("code", ["IP_RATE_LIMIT_EXCEEDED", "API_TEMPORARILY_BLOCKED"])
def test_other_limits_are_waits_too(code):
    assert classify(answer(429, limit(code, retry_in_seconds=5))).kind == "throttle"


def test_too_many_concurrent_requests_is_retried_at_once():
    assert classify(answer(429, limit("maxConcurrencyExceeded", retry_in_seconds=1))).kind == "retry"


def test_an_expired_cursor_is_a_failure_the_items_chain_recognises():
    body = {"data": None, "errors": [{"message": "CursorExpiredError: The cursor provided for pagination has expired",
                                      "path": ["next_items_page"],
                                      "extensions": {"code": "CursorException", "status_code": 200}}]}
    verdict = classify(answer(200, body))
    assert (verdict.kind, verdict.code) == ("fail", "CursorException")


def test_errors_inside_a_200_with_partial_data_decide_the_verdict():
    unauthorized = {"data": {"boards": None, "complexity": {"after": 1}}, "errors": [
        {"message": "User unauthorized to perform action", "path": ["boards"],
         "extensions": {"code": "USER_UNAUTHORIZED", "status_code": 403}}]}
    verdict = classify(answer(200, unauthorized))
    assert verdict.kind == "fail" and "share the board" in verdict.message
    internal = {"data": {"boards": None}, "errors": [{"message": "Internal server error", "path": [],
                                                      "extensions": {"status_code": 500,
                                                                     "error_code": "INTERNAL_SERVER_ERROR"}}]}
    assert classify(answer(200, internal)).kind == "retry"


def test_a_query_over_the_per_query_complexity_cap_asks_for_smaller_pages():
    body = {"errors": [{"message": "Query has complexity of 6000000, which exceeds max complexity of 5000000",
                        "extensions": {"code": "maxComplexityExceeded"}}]}
    verdict = classify(answer(200, body))
    assert verdict.kind == "fail" and "item_page_size" in verdict.message


@pytest.mark.parametrize(("status", "body"), [
    (200, b'{"data":{"boards":[{"items_page":{"cur'),  # cut off mid-body
    (504, b"upstream request timeout"),  # the edge's plain-text timeout
    (502, b"<html>bad gateway</html>"),
    (200, b'{"data":{"boards":[{"name":"\xff\xfe"}]}}'),  # bytes that are not UTF-8
])
def test_transport_accidents_are_asked_again(status, body):
    assert classify(Response(status, {"Content-Type": "text/plain"}, body)).kind == "retry"


def test_a_plain_success_is_ok_and_a_body_without_data_is_not():
    assert classify(answer(200, {"data": {"boards": []}})).kind == "ok"
    assert classify(answer(200, {"account_id": 1})).kind == "retry"
