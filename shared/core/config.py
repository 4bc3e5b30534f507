"""Settings read from the environment (app settings in Azure, local.settings.json or defaults locally)."""

from __future__ import annotations

import os
from dataclasses import dataclass

# Defaults point at the project's own local services (scripts/services.sh): loopback only.
DEFAULT_PG_DSN = "postgresql://bizmetrics@127.0.0.1:54329/bizmetrics"
DEFAULT_STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


@dataclass(frozen=True)
class Settings:
    """What the core of the app reads from its environment (each plugin reads its own: plugins/<name>/settings.py)."""

    pg_dsn: str
    storage_connection: str
    landing_container: str
    load_batch_rows: int
    pages_per_fetch: int


def int_setting(name: str, default: int) -> int:
    """A whole-number app setting; empty or unset: the default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"App setting {name} must be a whole number, got {raw!r}") from exc


def _storage_connection() -> str:
    raw = os.environ.get("LANDING_STORAGE_CONNECTION") or os.environ.get("AzureWebJobsStorage") or ""
    # "UseDevelopmentStorage=true" means Azurite on its default ports; spell it out so that the
    # endpoints are explicit loopback addresses.
    if raw in ("", "UseDevelopmentStorage=true"):
        return DEFAULT_STORAGE
    return raw


def load_settings() -> Settings:
    """Read the settings now (not at import), so tests and the local host can set the environment first."""
    return Settings(
        pg_dsn=os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN,
        storage_connection=_storage_connection(),
        landing_container=os.environ.get("LANDING_CONTAINER") or "landing",
        load_batch_rows=int_setting("LOAD_BATCH_ROWS", 5000),
        pages_per_fetch=int_setting("PAGES_PER_FETCH", 2),
    )
