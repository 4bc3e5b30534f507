"""Validated identifiers and JSON the routes share: full-match ids, catalog names, bounded safe JSON."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, StringConstraints, TypeAdapter, ValidationError

from api.limits import SafeText
from shared.db.connections import RESERVED_IDS

# Anchored and matched whole by pydantic's regex engine: "acme\n" does not pass (the connections table's check).
CONNECTION_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
METRIC_PATTERN = r"^[a-z]+\.[a-z0-9_]{1,100}$"

def _not_reserved(value: str) -> str:
    if value in RESERVED_IDS:
        raise ValueError(f"{value!r} is reserved (it means every connection): choose another id")
    return value


ConnectionId = Annotated[str, StringConstraints(pattern=CONNECTION_ID_PATTERN, max_length=63),
                         AfterValidator(_not_reserved)]
ConnectionIdPath = Annotated[str, Path(pattern=CONNECTION_ID_PATTERN, max_length=63,
                                       description="A connection id (1-63 of a-z, 0-9, '-', '_')")]
MetricPath = Annotated[str, Path(pattern=METRIC_PATTERN, max_length=110,
                                 description="A metric name from GET /api/metrics, e.g. source.metric")]

MAX_SETTINGS_DEPTH = 4
MAX_SETTINGS_ITEMS = 200
_TEXT: TypeAdapter[str] = TypeAdapter(SafeText)


def _bounded(value: Any, depth: int, seen: list[int]) -> None:
    seen[0] += 1
    if seen[0] > MAX_SETTINGS_ITEMS:
        raise ValueError(f"settings may hold at most {MAX_SETTINGS_ITEMS} keys and values")
    if isinstance(value, str):
        try:
            _TEXT.validate_python(value)
        except ValidationError:
            raise ValueError("a settings text must be at most 500 characters, without control characters, "
                             "NUL or unpaired surrogates") from None
    elif isinstance(value, float) and not math.isfinite(value):
        # JSON parsers accept NaN and Infinity; PostgreSQL's jsonb does not.
        raise ValueError("settings numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, dict | list):
        if depth >= MAX_SETTINGS_DEPTH:
            raise ValueError(f"settings may nest at most {MAX_SETTINGS_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                _bounded(key, depth + 1, seen)
            _bounded(item, depth + 1, seen)


def _safe_settings(value: dict[str, Any]) -> dict[str, Any]:
    _bounded(value, 0, [0])
    return value


# A plugin's settings: JSON PostgreSQL can store (no NUL, no lone surrogates), small and shallow.
Settings = Annotated[dict[str, Any], AfterValidator(_safe_settings)]
