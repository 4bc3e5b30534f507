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


class MissingSetting(ValueError):
    """A setting the app cannot run without in Azure (locally it would default to the local services)."""

    def __init__(self, name: str, what: str) -> None:
        super().__init__(f"App setting {name} is required: {what}")
        self.name = name


@dataclass(frozen=True)
class StorageTarget:
    """Where the landing zone lives: a connection string (Azurite, or an account key), or an account's blob URL
    reached with the app's managed identity (`client_id` names a user-assigned one)."""

    connection_string: str | None = None
    blob_url: str | None = None
    client_id: str | None = None
    queue_url: str | None = None  # the change-notice queue's service (identity-based), shared/changes/queue.py

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


@dataclass(frozen=True)
class Settings:
    """What the core of the app reads from its environment (each plugin reads its own: plugins/<name>/settings.py)."""

    pg_dsn: str
    storage: StorageTarget
    landing_container: str
    load_batch_rows: int
    pages_per_fetch: int
    # The most pages one fetch reads (and so one load gets) while sync_stream finds loading the slower.
    load_pages_max: int = 10
    # load_pages calls running at once in one worker process; the others wait for a slot (activities/load.py).
    loads_per_worker: int = 5
    # Database sessions a connection's refresh rebuilds its metrics in, side by side (shared/metrics/sessions.py).
    refresh_sessions: int = 2


def int_setting(name: str, default: int, *, minimum: int | None = None, unit: str = "") -> int:
    """A whole-number app setting; empty or unset: the default. Below `minimum`, a ValueError naming the setting,
    the least it may be (followed by `unit`, e.g. " seconds") and the value given."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        value = default
    else:
        try:
            value = int(raw)
        except ValueError as exc:
            raise ValueError(f"App setting {name} must be a whole number, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ValueError(f"App setting {name} must be at least {minimum}{unit}, got {value}")
    return value


def strict_settings() -> bool:
    """Running in Azure (App Service sets WEBSITE_SITE_NAME), or asked to be strict: no local defaults then."""
    return bool(os.environ.get("WEBSITE_SITE_NAME")) or os.environ.get("BIZ_STRICT_SETTINGS", "").lower() == "true"


def _storage() -> StorageTarget:
    raw = os.environ.get("LANDING_STORAGE_CONNECTION") or os.environ.get("AzureWebJobsStorage") or ""
    if raw == "UseDevelopmentStorage=true":
        # Azurite on its default ports; spelled out so that the endpoints are explicit loopback addresses.
        return StorageTarget(connection_string=DEFAULT_STORAGE)
    if raw:
        return StorageTarget(connection_string=raw)
    # Identity-based (the Functions host's own convention): the service URI or just the account name.
    url = os.environ.get("AzureWebJobsStorage__blobServiceUri") or ""
    queue_url = os.environ.get("AzureWebJobsStorage__queueServiceUri") or ""
    account = os.environ.get("AzureWebJobsStorage__accountName") or ""
    if url or account:
        blob_url = (url or f"https://{account}.blob.core.windows.net").rstrip("/")
        queue_url = queue_url or (f"https://{account}.queue.core.windows.net" if account
                                  else blob_url.replace(".blob.", ".queue.", 1))
        return StorageTarget(blob_url=blob_url, queue_url=queue_url.rstrip("/"),
                             client_id=os.environ.get("AzureWebJobsStorage__clientId") or None)
    if strict_settings():
        raise MissingSetting("AzureWebJobsStorage__accountName",
                             "the storage account of the landing zone (or AzureWebJobsStorage__blobServiceUri, "
                             "or a connection string in LANDING_STORAGE_CONNECTION)")
    return StorageTarget(connection_string=DEFAULT_STORAGE)


def _pg_dsn() -> str:
    dsn = os.environ.get("BIZ_PG_DSN") or ""
    if dsn:
        return dsn
    if strict_settings():
        raise MissingSetting("BIZ_PG_DSN", "the app role's PostgreSQL DSN, e.g. host=<server>.postgres.database."
                             "azure.com dbname=bizmetrics user=<identity name> sslmode=verify-full")
    return DEFAULT_PG_DSN


def load_settings() -> Settings:
    """Read the settings now (not at import), so tests and the local host can set the environment first.

    In Azure (strict_settings()) a missing database or storage setting raises MissingSetting naming it, instead of
    defaulting to the local services on 127.0.0.1."""
    return Settings(
        pg_dsn=_pg_dsn(),
        storage=_storage(),
        landing_container=os.environ.get("LANDING_CONTAINER") or "landing",
        load_batch_rows=int_setting("LOAD_BATCH_ROWS", 5000),
        pages_per_fetch=int_setting("PAGES_PER_FETCH", 2),
        load_pages_max=int_setting("LOAD_PAGES_MAX", 10),
        loads_per_worker=int_setting("LOADS_PER_WORKER", 5, minimum=1),
        refresh_sessions=int_setting("METRIC_REFRESH_SESSIONS", 2, minimum=1),
    )
