"""Documents the real API would reject are rejected in monday's shape; auth failures and unsupported fields."""

from __future__ import annotations

import pytest

from .conftest import Api


async def test_an_unknown_field_is_a_graphql_js_validation_error_without_version_headers(api: Api) -> None:
    reply = await api.post("query{boards{invalid_field}}", version="2026-07")
    assert reply.status == 200
    assert set(reply.body) == {"errors", "extensions"}
    assert reply.body["errors"] == [{"message": 'Cannot query field "invalid_field" on type "Board".',
                                     "locations": [{"line": 1, "column": 14}]}]
    assert "Api-Version" not in reply.headers and "X-Request-Id" not in reply.headers  # as recorded


@pytest.mark.parametrize("field", ["enabled", "is_admin", "is_guest", "is_pending", "is_view_only", "join_date",
                                   "is_verified", "photo_thumb"])
async def test_2026_10_refuses_the_removed_user_fields_that_2026_07_still_serves(api: Api, field: str) -> None:
    document = f"query {{ users(limit: 1) {{ id {field} }} }}"
    assert "errors" not in (await api.post(document, version="2026-07")).body
    reply = await api.post(document, version="2026-10")
    # The whole document is refused, as monday refuses any unknown field: no data, graphql-js wording.
    assert reply.status == 200 and set(reply.body) == {"errors", "extensions"}
    [error] = reply.body["errors"]
    # graphql-js may add a suggestion ('Did you mean "photo_url"?'), as graphql-core does.
    assert error["message"].startswith(f'Cannot query field "{field}" on type "User".')
    assert error["locations"] == [{"line": 1, "column": 30}]


async def test_a_bad_enum_value_is_rejected_with_graphql_js_wording(api: Api) -> None:
    reply = await api.post('query { boards(state: everything) { id } }')
    assert reply.body["errors"][0]["message"].startswith('Value "everything" does not exist in "State" enum.')


async def test_a_syntax_error_is_reported_with_its_location(api: Api) -> None:
    reply = await api.post("query { boards { id ")
    error = reply.body["errors"][0]
    assert reply.status == 200 and error["message"].startswith("Syntax Error") and error["locations"]


async def test_wrongly_typed_variables_are_rejected_before_anything_runs(api: Api) -> None:
    reply = await api.post("query ($n: Int!) { boards(limit: $n) { id } }", {"n": "many"})
    assert reply.status == 200 and "errors" in reply.body and "data" not in reply.body


async def test_an_unsupported_root_field_answers_null_with_a_clear_error(api: Api) -> None:
    reply = await api.post("query { docs { id } me { id } }")
    assert reply.status == 200
    assert reply.body["data"]["docs"] is None and reply.body["data"]["me"]["id"]
    error = reply.body["errors"][0]
    assert error["path"] == ["docs"] and error["extensions"]["code"] == "UNSUPPORTED_BY_SIMULATOR"
    assert "docs" in error["message"]


async def test_mutations_validate_but_are_not_performed(api: Api) -> None:
    reply = await api.post('mutation { archive_board(board_id: 1) { id } }')
    assert reply.body["data"] == {"archive_board": None}
    assert reply.body["errors"][0]["extensions"]["code"] == "UNSUPPORTED_BY_SIMULATOR"


async def test_a_wrong_token_is_401_not_authenticated(api: Api) -> None:
    reply = await api.post("query { me { id } }", token="invalid_token")
    assert reply.status == 401
    assert reply.body == {"errors": [{"message": "Not authenticated", "extensions": {"code": "NOT_AUTHENTICATED"}}]}
    assert (await api.post("query { me { id } }", token=None)).status == 401


async def test_a_body_without_a_query_is_a_400(api: Api) -> None:
    response = await api.client.post("/v2", data="not json", headers={"Authorization": "demo-monday-token"})
    assert response.status == 400
    assert (await api.post("   ")).status == 400


async def test_the_operation_name_picks_one_of_several_operations(api: Api) -> None:
    document = "query A { me { id } } query B { account { id } }"
    assert "account" in (await api.data(document, operation_name="B"))
    assert (await api.post(document)).body["errors"][0]["message"].startswith("Must provide operation name")
