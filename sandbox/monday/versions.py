"""API versions: which version answers a request, and the SDL it is validated against.

monday keeps a few versions live (as of 2026-12: 2026-10 current, 2026-07 maintenance, 2027-01 release
candidate) and routes the rest (api-facts): a request for a retired version is answered by the oldest version
still supported, an unknown or malformed label by the current version, a missing header by the default one.
The response says which version answered (the `Api-Version` header and `version { kind value }`), which is how
a client finds out. The simulator serves the versions whose SDL is in `sdl/` (2026-07, 2026-10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CURRENT_VERSION = "2026-10"

# monday's SDL of each served version (sdl/README.md names their source).
SDL_DIR = Path(__file__).resolve().parent / "sdl"
SCHEMA_FILES: dict[str, str] = {
    "2026-07": "monday-schema-2026-07-fetched-2026-06-24.graphql",
    "2026-10": "monday-schema-2026-10-fetched-2026-06-29.graphql",
}

# The `VersionKind` the `versions` query reports for each label monday still lists.
VERSION_KINDS: dict[str, str] = {
    "2026-07": "maintenance",
    "2026-10": "current",
}
_LABEL = re.compile(r"^\d{4}-(01|04|07|10)$")


@dataclass(frozen=True)
class ApiVersion:
    value: str
    kind: str
    requested: str | None

    @property
    def schema_key(self) -> str:
        return self.value

    @property
    def rerouted(self) -> bool:
        """Another version than the one asked for answers (retired or unknown label)."""
        return self.requested is not None and self.requested != self.value


def served_label(requested: str | None, default: str = CURRENT_VERSION,
                 retired: frozenset[str] = frozenset()) -> str:
    """The label that answers a request for `requested` (the `API-Version` header, None when absent);
    `retired` plays the day monday stops serving one of VERSION_KINDS (it is then routed like older ones)."""
    live = sorted(set(VERSION_KINDS) - retired)
    label = requested.strip() if requested is not None else ""
    if not label:
        return default if default in live else CURRENT_VERSION
    if label in live:
        return label
    if _LABEL.match(label) and label < live[0]:
        return live[0]  # retired: routed to the oldest version still supported
    return CURRENT_VERSION  # unknown, malformed or not yet released: the current version


def resolve(header: str | None, default: str = CURRENT_VERSION, retired: frozenset[str] = frozenset()) -> ApiVersion:
    """The version a request is served as, from its `API-Version` header (None when absent)."""
    requested = header.strip() if header is not None else None
    label = served_label(requested, default, retired)
    return ApiVersion(value=label, kind=VERSION_KINDS[label], requested=requested or None)


def all_versions() -> list[dict[str, str]]:
    return [{"value": label, "kind": kind, "display_name": label} for label, kind in sorted(VERSION_KINDS.items())]
