"""A QuickBooks connection's settings, read once: its config, else the app setting named beside each, else the default.

Secrets never appear here: the config names the secrets that hold them (`access_token_secret`, `client_id_secret`,
`client_secret_secret`), and only secrets of the connection's own namespace (shared/core/egress.py). API and token
URLs must be https on Intuit's hosts (loopback only while BIZ_ALLOW_LOOPBACK_SOURCES=true, for the simulator).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.core.config import int_setting
from shared.core.egress import LOOPBACK_HOSTS, check_secret_name, check_url
from shared.db.connections import Connection

BASE_URLS = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
API_HOSTS = frozenset({"quickbooks.api.intuit.com", "sandbox-quickbooks.api.intuit.com"})
TOKEN_HOSTS = frozenset({"oauth.platform.intuit.com"})
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
# The consent callback this app registered with Intuit; taken from configuration only, never from a request.
REDIRECT_URI_SETTING = "QBO_REDIRECT_URI"
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
    access_token_secret: str | None = None  # config access_token_secret: a static token (simulator); None: OAuth
    token_url: str = DEFAULT_TOKEN_URL  # see token_url()


def _minor_version(connection: Connection) -> int:
    app = int_setting("QBO_MINOR_VERSION", OLDEST_MINOR_VERSION)
    if app < OLDEST_MINOR_VERSION:
        raise ValueError("QBO_MINOR_VERSION must be 75 or later: minor versions 1-74 were retired on 2025-08-01")
    minor = int(connection.config.get("minor_version", app))
    if minor < OLDEST_MINOR_VERSION:
        raise ValueError(f"Connection {connection.connection_id}: minor_version must be 75 or later")
    return minor


def api_base_url(config: Mapping[str, Any]) -> str | None:
    """The config's `base_url`, else QBO_BASE_URL, checked; None: Intuit's host for the environment."""
    if config.get("base_url"):
        return check_url(config["base_url"], API_HOSTS, setting="base_url").rstrip("/")
    if os.environ.get("QBO_BASE_URL"):
        return check_url(os.environ["QBO_BASE_URL"], API_HOSTS, setting="App setting QBO_BASE_URL").rstrip("/")
    return None


def _base_url(connection: Connection) -> str:
    try:
        configured = api_base_url(connection.config)
    except ValueError as exc:
        raise ValueError(f"Connection {connection.connection_id}: {exc}") from None
    if configured:
        return configured
    environment = connection.config.get("environment", "production")
    if environment not in BASE_URLS:
        raise ValueError(f"Connection {connection.connection_id}: environment must be sandbox or production")
    return BASE_URLS[environment]


def read_settings(connection: Connection) -> QuickBooksSettings:
    """Validated settings; a ValueError says which setting to fix."""
    config = connection.config
    try:
        static_token = secret_setting(connection.connection_id, config, "access_token_secret", None)
        for name in ("client_id_secret", "client_secret_secret"):
            secret_setting(connection.connection_id, config, name, None)
        tokens_at = token_url(config)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(message if message.startswith("Connection ") else
                         f"Connection {connection.connection_id}: {message}") from None
    return QuickBooksSettings(
        connection_id=connection.connection_id,
        base_url=_base_url(connection),
        minor_version=_minor_version(connection),
        monthly_read_quota=int(config.get("monthly_read_quota") or os.environ.get("QBO_MONTHLY_READ_QUOTA")
                               or MONTHLY_READ_QUOTA),
        quota_stop_share=float(config.get("quota_stop_share") or os.environ.get("QBO_QUOTA_STOP_SHARE")
                               or QUOTA_STOP_SHARE),
        access_token_secret=static_token,
        token_url=tokens_at,
    )


def token_url(config: Mapping[str, Any]) -> str:
    """The config's `token_url`, else a loopback `base_url` (the simulator serves both) + the token path, else
    QBO_TOKEN_URL, else Intuit's; checked (https on Intuit's token host, loopback only in local development).

    Takes a config, not a connection: a consent exchanges its code before the connection exists.
    """
    if config.get("token_url"):
        return check_url(config["token_url"], TOKEN_HOSTS, setting="token_url")
    base = config.get("base_url")
    if base and urlsplit(str(base)).hostname in LOOPBACK_HOSTS:
        return check_url(str(base).rstrip("/") + TOKEN_PATH, TOKEN_HOSTS, setting="base_url")
    if os.environ.get("QBO_TOKEN_URL"):
        return check_url(os.environ["QBO_TOKEN_URL"], TOKEN_HOSTS, setting="App setting QBO_TOKEN_URL")
    return DEFAULT_TOKEN_URL


def secret_setting(connection_id: str, config: Mapping[str, Any], name: str, default: str | None) -> str | None:
    """The secret a config names under `name` (only its own namespace), else the app's `default`."""
    if config.get(name) is None or config.get(name) == "":
        return default
    return check_secret_name(config[name], connection_id, setting=name)


def redirect_uri() -> str:
    """The consent callback URL registered with the Intuit app (QBO_REDIRECT_URI), https unless local."""
    value = os.environ.get(REDIRECT_URI_SETTING, "").strip()
    if not value:
        raise ValueError(f"App setting {REDIRECT_URI_SETTING} is not set: set it to this app's consent callback, "
                         "https://<app host>/api/connections/quickbooks/callback, as registered with the Intuit app")
    parts = urlsplit(value)
    if parts.hostname in LOOPBACK_HOSTS:
        check_url(value, (), setting=f"App setting {REDIRECT_URI_SETTING}")
    elif parts.scheme != "https" or not parts.hostname or parts.username or parts.password or parts.fragment:
        raise ValueError(f"App setting {REDIRECT_URI_SETTING} {value!r} must be an https:// URL without credentials "
                         "or fragment")
    return value
