"""Where a connection's settings may send the app's requests and which secrets they may name.

A connection's config is data an administrator (or an API caller with Connections.Admin) writes; the app then
sends a secret (a token, the client secret) to the URLs it names. So a config may only name secrets in its own
namespace, `conn-<connection id>-<word>`, never the app's keys, and may only point at the source's own HTTPS
hosts. Local development against the simulators on 127.0.0.1 is allowed by one setting,
BIZ_ALLOW_LOOPBACK_SOURCES=true, and then only for loopback addresses, plus the simulator host names a local stack
names in BIZ_DEV_SOURCE_HOSTS (docker-compose's simulator services), honoured only under that same setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from urllib.parse import urlsplit

LOOPBACK_SETTING = "BIZ_ALLOW_LOOPBACK_SOURCES"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEV_HOSTS_SETTING = "BIZ_DEV_SOURCE_HOSTS"
# The word after the connection id has no '-': a name then splits one way only, so connection "acme" can never
# name a secret of connection "acme-eu" (conn-acme-eu-token parses as connection acme-eu, word token).
_WORD = "[a-z0-9]{1,40}"


def loopback_allowed() -> bool:
    """Whether this process is a local development host that may call simulators on loopback over http."""
    return os.environ.get(LOOPBACK_SETTING, "").strip().lower() == "true"


def _local_hosts() -> frozenset[str]:
    if not loopback_allowed():
        return frozenset()
    named = {h.strip().lower() for h in os.environ.get(DEV_HOSTS_SETTING, "").split(",") if h.strip()}
    return LOOPBACK_HOSTS | named


def secret_namespace(connection_id: str) -> str:
    return f"conn-{connection_id}-"


def check_secret_name(name: object, connection_id: str, *, setting: str) -> str:
    """`name` if it is a secret of this connection's own namespace; ValueError saying what to use otherwise."""
    example = f"{secret_namespace(connection_id)}token"
    if "_" in connection_id:
        raise ValueError(f"{setting} cannot be used by a connection whose id holds '_' "
                         "(Key Vault secret names allow only letters, digits and '-'): use an id with '-' instead")
    if not isinstance(name, str) or not re.fullmatch(re.escape(secret_namespace(connection_id)) + _WORD, name):
        raise ValueError(f"{setting} {name!r} is not one of this connection's secrets: "
                         f"name a secret {secret_namespace(connection_id)}<word> (lowercase letters and digits, "
                         f"e.g. {example}); the app's own secrets cannot be named by a connection")
    return name


def check_url(url: object, known_hosts: Collection[str], *, setting: str) -> str:
    """`url` if it is https on one of `known_hosts` (or loopback while local development allows it)."""
    hosts = ", ".join(sorted(known_hosts))
    if not isinstance(url, str) or not url:
        raise ValueError(f"{setting} must be a URL (https:// on {hosts})")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"{setting} {url!r} is not a valid URL: use https:// on {hosts}") from None
    if parts.username is not None or parts.password is not None or any(c.isspace() for c in url):
        raise ValueError(f"{setting} {url!r} must not carry credentials or spaces: use https://<host>/...")
    if host in LOOPBACK_HOSTS or host in _local_hosts():
        if host in _local_hosts() and parts.scheme in ("http", "https"):
            return url
        raise ValueError(f"{setting} {url!r} points at loopback, which only local development allows "
                         f"(set {LOOPBACK_SETTING}=true there); otherwise use https:// on {hosts}")
    if parts.scheme != "https" or host not in known_hosts or port not in (None, 443):
        raise ValueError(f"{setting} {url!r} is not allowed: use https:// on {hosts}")
    return url
