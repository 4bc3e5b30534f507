"""Hostile input gets a 4xx problem, never a 500: for every operation the OpenAPI document lists, every parameter
and body is sent NUL and control characters, unpaired surrogates, huge and deeply nested values."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

HOSTILE_TEXT = ["a\x00b", "acme\n", "\x1b[31m", "\ud800", "x" * 5000, "../../etc/passwd", "sync-all?x=1&y=2",
                "a%00b", "' OR 1=1 --", "😀", "", " ", "-1", "1e400", "NaN"]
NESTED = "[" * 20_000 + "]" * 20_000  # under the body cap, far over any recursion limit


def _operations(client):
    document = client.get("/api/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _assert_problem(response, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), where
        body = response.json()
        assert body["status"] == response.status_code and body["code"], where


def test_every_parameter_of_every_operation_refuses_hostile_text_with_a_4xx(as_caller):
    client = as_caller()
    operations = list(_operations(client))
    assert len(operations) >= 6
    for path, method, operation in operations:
        for value in HOSTILE_TEXT:
            raw = value.encode("utf-8", "surrogatepass")  # an unpaired surrogate as the bytes a client would send
            params = {p["name"]: raw for p in operation.get("parameters", []) if p["in"] == "query"}
            url = _fill(path, quote(raw, safe=""))
            response = client.request(method, url, params=params)
            _assert_problem(response, f"{method} {url} {params}")


def test_every_body_refuses_hostile_json_with_a_4xx(as_caller):
    client = as_caller()
    bodies = [b'{"connection_id": "a\\u0000b"}', b'{"connection_id": "\\ud800"}', b'{"mode": "\\udfff\\ud800"}',
              b"\xff\xfe not utf-8", b"{", b"null", b"[]", b'"text"', b"1e999999", NESTED.encode(),
              json.dumps({"options": {"max_pages": 10 ** 30}}).encode(),
              json.dumps({"display_name": "x" * 60_000}).encode()]
    for path, method, operation in _operations(client):
        if "requestBody" not in operation:
            continue
        for body in bodies:
            response = client.request(method, _fill(path, "acme"), content=body,
                                      headers={"Content-Type": "application/json"})
            _assert_problem(response, f"{method} {path} {body[:40]!r}")


def test_a_body_over_the_cap_is_413_whether_declared_or_streamed(as_caller):
    client = as_caller()
    big = b'{"mode": "' + b"x" * 70_000 + b'"}'
    declared = client.post("/api/syncs", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["code"] == "body_too_large"

    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    streamed = client.post("/api/syncs", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


@pytest.mark.parametrize("path", ["/api/syncs/run-0123456789abcdef%3Fx=1", "/api/syncs/run-0123456789abcdef%0A",
                                  "/api/syncs/..%2F..%2Fruntime%2Fwebhooks", "/api/syncs/%00"])
def test_run_ids_that_would_inject_into_a_durable_url_are_refused(as_caller, path):
    response = as_caller().get(path)
    assert response.status_code in (404, 422), response.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_an_otherwise_valid_body_are_422_not_500(as_caller, number):
    """Python's JSON parser accepts NaN and Infinity (and 1e400 becomes one); PostgreSQL's jsonb does not."""
    body = ('{"connection_id": "nan-co", "plugin": "monday", "display_name": "x", '
            '"settings": {"api_token_secret": "conn-nan-co-token", "plan": "pro", "extra": NUMBER}}'
            ).replace("NUMBER", number)
    response = as_caller().post("/api/connections", content=body, headers={"Content-Type": "application/json"})
    _assert_problem(response, number)
    assert response.status_code == 422


def test_no_connection_may_be_named_all(as_caller):
    response = as_caller().post("/api/connections", json={
        "connection_id": "all", "plugin": "monday", "display_name": "Everything",
        "settings": {"api_token_secret": "conn-all-token", "plan": "pro"}})
    assert response.status_code == 422 and "reserved" in response.json()["detail"]


def test_a_missing_api_key_pepper_is_a_503_saying_so_not_a_500(api_app, monkeypatch):
    from fastapi.testclient import TestClient

    from api.app import create_app

    monkeypatch.delenv("SECRET_API_KEY_PEPPER")
    unconfigured = TestClient(create_app(), raise_server_exceptions=False)
    well_formed = "bzk_abcdefghij_" + "A" * 43
    response = unconfigured.get("/api/connections", headers={"Authorization": f"Bearer {well_formed}"})
    assert response.status_code == 503 and response.json()["code"] == "api_keys_unavailable"
    assert well_formed not in response.text
