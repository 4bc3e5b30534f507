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
DEFAULT_QBO_BASE_URL = "http://127.0.0.1:8761"
# Not loopback: without a connection-level token_url/base_url, tokens are exchanged with Intuit itself.
DEFAULT_QBO_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, in one place."""

    pg_dsn: str
    storage_connection: str
    landing_container: str
    qbo_base_url: str
    qbo_minor_version: int
    load_batch_rows: int
    pages_per_fetch: int
    iterations_before_continue_as_new: int
    qbo_token_url: str = DEFAULT_QBO_TOKEN_URL


def _int(name: str, default: int) -> int:
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
    minor = _int("QBO_MINOR_VERSION", 75)
    if minor < 75:
        raise ValueError("QBO_MINOR_VERSION must be 75 or later: minor versions 1-74 were retired on 2025-08-01")
    return Settings(
        pg_dsn=os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN,
        storage_connection=_storage_connection(),
        landing_container=os.environ.get("LANDING_CONTAINER") or "landing",
        qbo_base_url=(os.environ.get("QBO_BASE_URL") or DEFAULT_QBO_BASE_URL).rstrip("/"),
        qbo_minor_version=minor,
        load_batch_rows=_int("LOAD_BATCH_ROWS", 5000),
        pages_per_fetch=_int("PAGES_PER_FETCH", 2),
        iterations_before_continue_as_new=_int("ITERATIONS_BEFORE_CONTINUE_AS_NEW", 20),
        qbo_token_url=os.environ.get("QBO_TOKEN_URL") or DEFAULT_QBO_TOKEN_URL,
    )
