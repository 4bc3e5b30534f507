"""Each request is validated against the SDL of the version it is served as; the version is reported back."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from sandbox.monday import MondayState
from sandbox.monday.schema import schema_for
from sandbox.monday.versions import SCHEMA_FILES, resolve, schema_key_for

from .conftest import TOKEN, Api

SYNC_QUERY = """
query ($board: [ID!], $limit: Int!) {
  complexity { before query after reset_in_x_seconds }
  boards(ids: $board, state: all) {
    id name state board_kind workspace_id updated_at
    groups { id title position archived deleted }
    columns { id title type settings_str archived }
    items_page(limit: $limit) {
      cursor
      items {
        id name state created_at updated_at creator_id group { id } parent_item { id }
        subitems { id name updated_at }
        column_values {
          id type text value
          ... on StatusValue { label index }
          ... on DateValue { date time }
          ... on NumbersValue { number }
          ... on PeopleValue { persons_and_teams { id kind } }
          ... on TimelineValue { from to }
          ... on CheckboxValue { checked }
          ... on MirrorValue { display_value }
          ... on BoardRelationValue { display_value linked_item_ids }
          ... on DependencyValue { display_value linked_item_ids }
        }
      }
    }
  }
}
"""


@pytest.mark.parametrize("key", sorted(SCHEMA_FILES))
def test_each_reference_sdl_builds_a_schema_a_sync_query_validates_against(key: str) -> None:
    schema = schema_for(key)
    assert {"boards", "items", "next_items_page", "complexity", "version"} <= set(schema.query_type.fields)
    assert validate(schema, parse(SYNC_QUERY)) == []


def test_a_field_added_in_2026_04_is_refused_by_older_versions() -> None:
    document = parse("query { items(ids: [1]) { column_values { is_leaf } } }")
    assert validate(schema_for("2026-04"), document) == []
    assert validate(schema_for("2026-01"), document) != []


@pytest.mark.parametrize(("header", "served", "sdl"), [
    (None, "2026-04", "2026-04"),
    ("2026-04", "2026-04", "2026-04"),
    ("2026-01", "2026-01", "2026-01"),
    ("2025-10", "2025-10", "2025-10"),
    ("2025-07", "2025-07", "2025-04"),
    ("2024-04", "2024-04", "2025-04"),
    ("2099-01", "2026-04", "2026-04"),
    ("not-a-version", "2026-04", "2026-04"),
])
def test_the_version_header_picks_the_served_version_and_its_sdl(header: str | None, served: str, sdl: str) -> None:
    version = resolve(header)
    assert (version.value, version.schema_key) == (served, sdl)
    assert schema_key_for(served) == sdl


async def test_the_served_version_is_in_the_header_and_the_version_field(api: Api) -> None:
    reply = await api.post("query { version { kind value } }", version="2025-10")
    assert reply.status == 200 and reply.headers["Api-Version"] == "2025-10"
    assert reply.body["data"]["version"] == {"kind": "previous_maintenance", "value": "2025-10"}
    assert reply.body["extensions"]["request_id"] == reply.headers["X-Request-Id"]


async def test_an_unknown_version_is_answered_silently_by_the_current_one(api: Api) -> None:
    reply = await api.post("query { version { kind value } }", version="2031-01")
    assert reply.headers["Api-Version"] == "2026-04"
    assert reply.body["data"]["version"] == {"kind": "current", "value": "2026-04"}


async def test_a_missing_header_gets_the_configured_default(api: Api, state: MondayState) -> None:
    assert (await api.post("query { version { value } }", version=None)).headers["Api-Version"] == "2026-04"
    state.default_version = "2025-10"
    reply = await api.post("query { version { value } }", version=None)
    assert reply.headers["Api-Version"] == "2025-10" and reply.body["data"]["version"]["value"] == "2025-10"


async def test_a_query_valid_only_in_a_newer_version_is_rejected_by_an_older_one(api: Api) -> None:
    query = "query { boards(limit: 1) { items_page(limit: 1) { items { column_values { is_leaf } } } } }"
    assert (await api.post(query, version="2026-04")).status == 200
    older = await api.post(query, version="2026-01")
    assert older.body["errors"][0]["message"] == 'Cannot query field "is_leaf" on type "ColumnValue".'


async def test_the_versions_query_lists_every_known_version(api: Api) -> None:
    data = await api.data("query { versions { kind value } }")
    kinds = {v["value"]: v["kind"] for v in data["versions"]}
    assert kinds["2026-04"] == "current" and kinds["2024-04"] == "deprecated" and len(kinds) >= 8


async def test_the_token_can_come_with_or_without_bearer(api: Api) -> None:
    assert (await api.post("query { me { id } }", token=TOKEN)).status == 200
    assert (await api.post("query { me { id } }", token=f"Bearer {TOKEN}")).status == 200
