"""Calling the API over HTTP with a key: where it is (BIZ_API_URL), the key (BIZ_API_KEY or a file), one request.

The transport is a plain function (method, url, headers, body) -> (status, body), so tests can hand the CLI the
app itself instead of a socket. The key travels only in the Authorization header, and only over https or to
loopback: a key sent in clear text to another host could be read on the way.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

URL_SETTING = "BIZ_API_URL"
KEY_SETTING = "BIZ_API_KEY"
KEY_FILE_SETTING = "BIZ_API_KEY_FILE"
LOCAL_URL = "http://127.0.0.1:8770"  # `make api`
LOCAL_KEY_FILE = Path(".local/api-key")  # the key `make api` and `make demo` write
REQUEST_TIMEOUT = 30.0

Transport = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]


class ClientError(Exception):
    """Something the operator must fix before a call can be made (no key, an unsafe URL)."""


class Unreachable(Exception):
    """The API did not answer (network, DNS, TLS, timeout)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the decoded JSON, or the text when it is not JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def problem(self) -> str:
        """What a refusal says: its problem detail (and code), or the body's start."""
        if isinstance(self.body, dict) and "detail" in self.body:
            code = f" ({self.body['code']})" if self.body.get("code") else ""
            return f"{self.body['detail']}{code}"
        return str(self.body)[:300] or f"HTTP {self.status}"


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    for name, value in headers.items():
        if name.lower() == "authorization":
            request.add_unredirected_header(name, value)  # never forwarded to where a redirect points
        else:
            request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"{method} {url}: {reason}") from None


def api_url() -> str:
    """BIZ_API_URL without its trailing slash; the local `make api` server when unset."""
    url = (os.environ.get(URL_SETTING) or LOCAL_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"{URL_SETTING} must be an http(s) URL such as https://bizmetrics.example.com, not {url!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ClientError(f"{URL_SETTING} {url} is plain http to another host: the API key would cross the network "
                          "in clear text; use https")
    return url


def api_key() -> str:
    """BIZ_API_KEY, else the file BIZ_API_KEY_FILE names, else the local .local/api-key."""
    key = (os.environ.get(KEY_SETTING) or "").strip()
    if key:
        return key
    named = os.environ.get(KEY_FILE_SETTING)
    path = Path(named) if named else LOCAL_KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError:
        where = f"{KEY_FILE_SETTING} names {path}, which cannot be read" if named else f"no {LOCAL_KEY_FILE} here"
        raise ClientError(f"no API key: set {KEY_SETTING}, or {KEY_FILE_SETTING} to a file holding one ({where}; "
                          "`make api` writes the local one, `python -m api.auth create` makes one)") from None
    if not key:
        raise ClientError(f"the API key file {path} is empty")
    return key


class Api:
    """One base URL and key; `call` sends JSON and decodes the answer."""

    def __init__(self, base_url: str, key: str, transport: Transport = urllib_transport) -> None:
        self.base_url = base_url
        self._key = key
        self._transport = transport

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        status, raw = self._transport(method, self.base_url + path, headers, data)
        try:
            decoded: Any = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode("utf-8", "replace")
        return Answer(status, decoded)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
