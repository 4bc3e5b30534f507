"""The GraphQL schemas, built once per version from monday's own SDL (shared/reference/monday/schema)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from graphql import GraphQLSchema, build_schema

from .versions import SCHEMA_FILES, schema_dir


@lru_cache(maxsize=16)
def _build(path: Path) -> GraphQLSchema:
    return build_schema(path.read_text(encoding="utf-8"))


def schema_for(schema_key: str) -> GraphQLSchema:
    """The schema of one SDL version ("2025-04", "2025-10", "2026-01", "2026-04"); built on first use."""
    try:
        name = SCHEMA_FILES[schema_key]
    except KeyError:
        raise ValueError(f"no SDL for {schema_key!r}; known: {sorted(SCHEMA_FILES)}") from None
    path = schema_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"monday SDL not found at {path} (set MONDAY_SIM_SCHEMA_DIR)")
    return _build(path)
