"""Every GraphQL document the monday plugin can send is valid in each API version it pins or accepts."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from plugins.monday.queries import COMPLEXITY, DOCUMENTS, USER_FIELDS
from plugins.monday.settings import DEFAULT_API_VERSION, SUPPORTED_API_VERSIONS, read_settings
from sandbox.monday.schema import schema_for
from sandbox.monday.versions import SCHEMA_FILES
from shared.db.connections import Connection


def _settings(**config: str):  # type: ignore[no-untyped-def]
    return read_settings(Connection("m", "monday", "m", {"api_token_secret": "conn-m-token", **config}))


def test_the_plugin_pins_2026_10_and_accepts_2026_07_whose_sdls_the_repository_keeps():
    assert DEFAULT_API_VERSION == "2026-10" and _settings().api_version == "2026-10"
    assert _settings(api_version="2026-07").api_version == "2026-07"
    assert set(SUPPORTED_API_VERSIONS) == set(SCHEMA_FILES)


@pytest.mark.parametrize("version", SUPPORTED_API_VERSIONS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_document_validates_against_the_sdl_of_every_accepted_version(name, version):
    errors = validate(schema_for(version), parse(DOCUMENTS[name]))
    assert not errors, [e.message for e in errors]


def test_the_directory_reads_users_of_every_status_in_one_list_with_the_new_user_fields():
    # users() answers only ACTIVE and PENDING users by default, and non_active: true only inactive ones.
    directory = DOCUMENTS["Directory"]
    assert "status: [ACTIVE, PENDING, INACTIVE]" in directory and "non_active" not in directory
    assert {"status", "kind", "is_deleted", "became_active_at"} <= set(USER_FIELDS.split())


def test_every_document_asks_what_it_cost():
    for name, document in DOCUMENTS.items():
        assert COMPLEXITY in document, name
