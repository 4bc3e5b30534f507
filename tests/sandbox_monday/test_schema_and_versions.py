"""Each request is validated against the SDL of the version it is served as; the version is reported back."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from sandbox.monday import MondayState
from sandbox.monday.schema import schema_for
from sandbox.monday.versions import SCHEMA_FILES, SDL_DIR, resolve

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
def test_each_served_sdl_builds_a_schema_a_sync_query_validates_against(key: str) -> None:
    schema = schema_for(key)
    assert {"boards", "items", "next_items_page", "complexity", "version"} <= set(schema.query_type.fields)
    assert validate(schema, parse(SYNC_QUERY)) == []


def test_the_sdl_files_are_in_the_repository_next_to_their_provenance() -> None:
    assert sorted(SCHEMA_FILES) == ["2026-07", "2026-10"]
    readme = (SDL_DIR / "README.md").read_text()
    for name in SCHEMA_FILES.values():
        assert (SDL_DIR / name).is_file() and name in readme
    assert "mondaycom/mcp" in readme and "MIT" in readme


def test_2026_10_removed_the_legacy_user_fields_that_2026_07_deprecated() -> None:
    removed = {"enabled", "is_admin", "is_guest", "is_pending", "is_view_only", "join_date", "is_verified",
               "photo_original", "photo_small", "photo_thumb", "photo_thumb_small", "photo_tiny"}
    added = {"status", "kind", "is_deleted", "became_active_at"}
    old, new = (set(schema_for(key).type_map["User"].fields) for key in ("2026-07", "2026-10"))  # type: ignore[union-attr]
    assert removed <= old and not removed & new and added <= old & new


@pytest.mark.parametrize(("header", "served"), [
    (None, "2026-10"),
    ("2026-10", "2026-10"),
    ("2026-07", "2026-07"),
    ("2026-04", "2026-07"),  # retired: routed to the oldest version still supported
    ("2024-04", "2026-07"),
    ("2099-01", "2026-10"),  # unknown: the current version
    ("2027-01", "2026-10"),
    ("not-a-version", "2026-10"),
])
def test_the_version_header_picks_the_served_version(header: str | None, served: str) -> None:
    version = resolve(header)
    assert version.value == served and version.schema_key == served


async def test_the_served_version_is_in_the_header_and_the_version_field(api: Api) -> None:
    reply = await api.post("query { version { kind value } }", version="2026-07")
    assert reply.status == 200 and reply.headers["Api-Version"] == "2026-07"
    assert reply.body["data"]["version"] == {"kind": "maintenance", "value": "2026-07"}
    assert reply.body["extensions"]["request_id"] == reply.headers["X-Request-Id"]


async def test_a_retired_version_is_answered_by_the_oldest_supported_one(api: Api) -> None:
    reply = await api.post("query { version { kind value } }", version="2026-04")
    assert reply.headers["Api-Version"] == "2026-07"
    assert reply.body["data"]["version"] == {"kind": "maintenance", "value": "2026-07"}


async def test_an_unknown_version_is_answered_silently_by_the_current_one(api: Api) -> None:
    reply = await api.post("query { version { kind value } }", version="2031-01")
    assert reply.headers["Api-Version"] == "2026-10"
    assert reply.body["data"]["version"] == {"kind": "current", "value": "2026-10"}


async def test_a_missing_header_gets_the_configured_default(api: Api, state: MondayState) -> None:
    assert (await api.post("query { version { value } }", version=None)).headers["Api-Version"] == "2026-10"
    state.default_version = "2026-07"
    reply = await api.post("query { version { value } }", version=None)
    assert reply.headers["Api-Version"] == "2026-07" and reply.body["data"]["version"]["value"] == "2026-07"


async def test_a_query_valid_only_in_the_older_version_is_rejected_by_the_newer_one(api: Api) -> None:
    query = "query { me { id is_guest } }"
    assert (await api.post(query, version="2026-07")).status == 200
    newer = await api.post(query, version="2026-10")
    assert newer.body["errors"][0]["message"] == 'Cannot query field "is_guest" on type "User".'


async def test_the_versions_query_lists_the_supported_versions(api: Api) -> None:
    data = await api.data("query { versions { kind value } }")
    assert {v["value"]: v["kind"] for v in data["versions"]} == {"2026-07": "maintenance", "2026-10": "current"}


async def test_the_token_can_come_with_or_without_bearer(api: Api) -> None:
    assert (await api.post("query { me { id } }", token=TOKEN)).status == 200
    assert (await api.post("query { me { id } }", token=f"Bearer {TOKEN}")).status == 200
