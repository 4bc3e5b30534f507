"""The GraphQL schemas, built once per served version from monday's own SDL (sdl/, see its README)."""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

from .versions import SCHEMA_FILES, SDL_DIR


@lru_cache(maxsize=4)
def schema_for(schema_key: str) -> GraphQLSchema:
    """The schema of one served version ("2026-07", "2026-10"); built on first use."""
    try:
        name = SCHEMA_FILES[schema_key]
    except KeyError:
        raise ValueError(f"no SDL for {schema_key!r}; served: {sorted(SCHEMA_FILES)}") from None
    return build_schema((SDL_DIR / name).read_text(encoding="utf-8"))
