"""API versions: which label a request is served as, which SDL validates it, and which error era it is in.

monday answers an unknown `API-Version` with the current version and a missing header with the default
one (api-facts). The reference kit has the SDL of four versions; every other known label is validated
against the nearest older SDL (or the oldest one), which is the safe side: a query valid there is valid
in the newer schema too for everything a sync reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CURRENT_VERSION = "2026-04"

# The SDL files of the reference kit (shared/reference/monday/schema), by the version they describe.
SCHEMA_FILES: dict[str, str] = {
    "2025-04": "monday-schema-stable-2025-04-14.graphql",
    "2025-10": "monday-schema-2025-10-fetched-2025-09-10.graphql",
    "2026-01": "monday-schema-2026-01-fetched-2025-11-06.graphql",
    "2026-04": "monday-schema-2026-04-fetched-2026-03-25.graphql",
}

# Every label the simulator knows, with the `VersionKind` the `versions` query reports for it. Labels
# before 2025-04 are kept so that clients can be tested against the pre-2024-10 error envelope.
VERSION_KINDS: dict[str, str] = {
    "2023-10": "deprecated",
    "2024-01": "deprecated",
    "2024-04": "deprecated",
    "2024-07": "deprecated",
    "2024-10": "deprecated",
    "2025-01": "deprecated",
    "2025-04": "old_previous_maintenance",
    "2025-07": "old__maintenance",
    "2025-10": "previous_maintenance",
    "2026-01": "maintenance",
    "2026-04": "current",
}

_DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "monday" / "schema"


def schema_dir() -> Path:
    """Where the SDL files are read from: $MONDAY_SIM_SCHEMA_DIR, else the shared reference kit."""
    override = os.environ.get("MONDAY_SIM_SCHEMA_DIR")
    return Path(override) if override else _DEFAULT_SCHEMA_DIR


def schema_key_for(label: str) -> str:
    """The SDL that validates `label`: the newest one not newer than it, else the oldest one."""
    older = [key for key in SCHEMA_FILES if key <= label]
    return max(older) if older else min(SCHEMA_FILES)


@dataclass(frozen=True)
class ApiVersion:
    value: str
    kind: str
    schema_key: str
    requested: str | None

    @property
    def legacy_errors(self) -> bool:
        """Before 2024-10 application errors were top-level `error_code`/`error_message` bodies."""
        return self.value < "2024-10"

    @property
    def slim_limit_errors(self) -> bool:
        """From 2025-07 limit errors carry only `{code, retry_in_seconds}` in `extensions`."""
        return self.value >= "2025-07"


def resolve(header: str | None, default: str = CURRENT_VERSION) -> ApiVersion:
    """The version a request is served as, from its `API-Version` header (None when absent)."""
    requested = header.strip() if header is not None else None
    if not requested:
        label = default
    elif requested in VERSION_KINDS:
        label = requested
    else:
        label = CURRENT_VERSION  # unknown labels are answered by the current version, silently
    return ApiVersion(value=label, kind=VERSION_KINDS[label], schema_key=schema_key_for(label), requested=requested)


def all_versions() -> list[dict[str, str]]:
    return [{"value": label, "kind": kind, "display_name": label} for label, kind in sorted(VERSION_KINDS.items())]
