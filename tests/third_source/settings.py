"""A helpdesk connection's settings, validated once into a frozen object: its config, else the app setting named
beside it, else the default. The config names the secret holding the API token, never the token itself."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.core.http import RetryPolicy
from shared.db.connections import Connection

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500  # the API refuses larger pages


@dataclass(frozen=True)
class HelpdeskSettings:
    connection_id: str
    base_url: str  # config base_url, else HELPDESK_BASE_URL
    token_secret: str  # config api_token_secret: the secret's name
    page_size: int  # config page_size, 1-500
    retry: RetryPolicy  # config retry_attempts, retry_base_delay, request_timeout


def read_settings(connection: Connection) -> HelpdeskSettings:
    """Validated settings; a ValueError says which setting to fix (planning turns it into a refused run)."""
    config, name = connection.config, connection.connection_id
    base_url = str(config.get("base_url") or os.environ.get("HELPDESK_BASE_URL") or "").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"Helpdesk connection {name}: set base_url (or HELPDESK_BASE_URL) to the API's http(s) URL")
    secret = config.get("api_token_secret")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"Helpdesk connection {name}: set api_token_secret to the name of the secret holding "
                         "the API token")
    try:
        page_size = int(config.get("page_size", PAGE_SIZE))
    except (TypeError, ValueError):
        page_size = 0
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"Helpdesk connection {name}: page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return HelpdeskSettings(name, base_url, secret, page_size, RetryPolicy.from_config(config, timeout=30))
