"""A QuickBooks connection's settings, read once: its config, else the app setting named beside each, else the default.

Secrets never appear here: the config names the secrets that hold them (`access_token_secret`, `client_id_secret`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.core.config import int_setting
from shared.db.connections import Connection

BASE_URLS = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
# Not loopback: without a connection-level token_url/base_url, tokens are exchanged with Intuit itself.
DEFAULT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
# Minor versions 1-74 were retired on 2025-08-01.
OLDEST_MINOR_VERSION = 75
MONTHLY_READ_QUOTA = 500_000
QUOTA_STOP_SHARE = 0.9


@dataclass(frozen=True)
class QuickBooksSettings:
    connection_id: str
    base_url: str  # config base_url, else QBO_BASE_URL, else Intuit's host for the config's environment
    minor_version: int  # config minor_version, else QBO_MINOR_VERSION
    monthly_read_quota: int  # config monthly_read_quota, else QBO_MONTHLY_READ_QUOTA
    quota_stop_share: float  # config quota_stop_share, else QBO_QUOTA_STOP_SHARE


def _minor_version(connection: Connection) -> int:
    app = int_setting("QBO_MINOR_VERSION", OLDEST_MINOR_VERSION)
    if app < OLDEST_MINOR_VERSION:
        raise ValueError("QBO_MINOR_VERSION must be 75 or later: minor versions 1-74 were retired on 2025-08-01")
    minor = int(connection.config.get("minor_version", app))
    if minor < OLDEST_MINOR_VERSION:
        raise ValueError(f"Connection {connection.connection_id}: minor_version must be 75 or later")
    return minor


def _base_url(connection: Connection) -> str:
    configured = connection.config.get("base_url") or os.environ.get("QBO_BASE_URL")
    if configured:
        return str(configured).rstrip("/")
    environment = connection.config.get("environment", "production")
    if environment not in BASE_URLS:
        raise ValueError(f"Connection {connection.connection_id}: environment must be sandbox or production")
    return BASE_URLS[environment]


def read_settings(connection: Connection) -> QuickBooksSettings:
    """Validated settings; a ValueError says which setting to fix."""
    config = connection.config
    return QuickBooksSettings(
        connection_id=connection.connection_id,
        base_url=_base_url(connection),
        minor_version=_minor_version(connection),
        monthly_read_quota=int(config.get("monthly_read_quota") or os.environ.get("QBO_MONTHLY_READ_QUOTA")
                               or MONTHLY_READ_QUOTA),
        quota_stop_share=float(config.get("quota_stop_share") or os.environ.get("QBO_QUOTA_STOP_SHARE")
                               or QUOTA_STOP_SHARE),
    )


def token_url(config: Mapping[str, Any]) -> str:
    """The config's `token_url`, else its `base_url` (the simulator) + the token path, else QBO_TOKEN_URL/Intuit.

    Takes a config, not a connection: a consent exchanges its code before the connection exists.
    """
    if config.get("token_url"):
        return str(config["token_url"])
    if config.get("base_url"):
        return str(config["base_url"]).rstrip("/") + TOKEN_PATH
    return os.environ.get("QBO_TOKEN_URL") or DEFAULT_TOKEN_URL
