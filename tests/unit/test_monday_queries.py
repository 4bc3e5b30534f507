"""Every GraphQL document the monday plugin can send is valid in the API version it pins."""

from __future__ import annotations

from functools import cache

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from plugins.monday.queries import COMPLEXITY, DOCUMENTS
from plugins.monday.settings import DEFAULT_API_VERSION, read_settings
from shared.db.connections import Connection
from tests.reference import REFERENCE

SCHEMAS = {
    "2025-04": "monday-schema-stable-2025-04-14.graphql",
    "2025-10": "monday-schema-2025-10-fetched-2025-09-10.graphql",
    "2026-01": "monday-schema-2026-01-fetched-2025-11-06.graphql",
    "2026-04": "monday-schema-2026-04-fetched-2026-03-25.graphql",
}


@cache
def schema(version: str) -> GraphQLSchema:
    return build_schema((REFERENCE / "monday" / "schema" / SCHEMAS[version]).read_text())


def test_the_default_pin_is_the_newest_version_in_the_reference_kit():
    newest = max(SCHEMAS)
    assert newest == DEFAULT_API_VERSION
    assert read_settings(Connection("m", "monday", "m", {"api_token_secret": "s"})).api_version == newest


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_document_validates_against_the_pinned_versions_sdl(name):
    errors = validate(schema(DEFAULT_API_VERSION), parse(DOCUMENTS[name]))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("version", ["2025-10", "2026-01"])
def test_every_document_also_validates_in_the_older_versions_a_connection_may_pin(version):
    for name, document in DOCUMENTS.items():
        assert not validate(schema(version), parse(document)), (version, name)


def test_versions_older_than_2025_10_are_refused_because_the_queries_need_their_fields():
    broken = {name for name, doc in DOCUMENTS.items() if validate(schema("2025-04"), parse(doc))}
    assert broken == {"Boards", "Updates"}  # Column.settings, Board.created_at, updates(from_date)
    with pytest.raises(ValueError, match="2025-10 or later"):
        read_settings(Connection("m", "monday", "m", {"api_token_secret": "s", "api_version": "2025-04"}))


def test_every_document_asks_what_it_cost():
    for name, document in DOCUMENTS.items():
        assert COMPLEXITY in document, name
