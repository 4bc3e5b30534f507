"""Intuit's OAuth 2 token endpoint: code exchange (with PKCE when the consent carried a challenge), refresh with
rotation, and access-token checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .clock import SimClock
from .responses import reply

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 8_726_400  # the value Intuit's SDK samples show (about 101 days)
AUTH_CODE_SECONDS = 600
TOKEN_CONTENT_TYPE = "application/json;charset=UTF-8"


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _AccessToken:
    realm: str | None  # None: a configured token valid for every realm, never expiring
    expires_at: float | None


@dataclass
class _RefreshToken:
    realm: str
    expires_at: float
    superseded: bool = False


class TokenRegistry:
    def __init__(self, clock: SimClock, static_access_tokens: Iterable[str] = (),
                 refresh_tokens: Mapping[str, str] | None = None, client_id: str = "demo-client-id",
                 client_secret: str = "demo-client-secret",
                 authorization_codes: Mapping[str, str] | None = None) -> None:
        self._clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self._access = {token: _AccessToken(None, None) for token in static_access_tokens}
        self._refresh = {token: _RefreshToken(realm, clock.elapsed() + REFRESH_TOKEN_SECONDS)
                         for realm, token in (refresh_tokens or {}).items()}
        self._codes = {code: (realm, clock.elapsed() + AUTH_CODE_SECONDS)
                       for code, realm in (authorization_codes or {}).items()}
        self._challenges: dict[str, tuple[str, str]] = {}  # code -> (PKCE challenge, method)

    def approve(self, code: str, realm: str, *, code_challenge: str | None = None,
                code_challenge_method: str = "S256") -> None:
        """The user consented at Intuit's page: `code` is issued for `realm`, bound to the authorize request's PKCE
        challenge when it carried one (the exchange must then send the matching code_verifier)."""
        self._codes[code] = (realm, self._clock.elapsed() + AUTH_CODE_SECONDS)
        if code_challenge:
            self._challenges[code] = (code_challenge, code_challenge_method)

    # -- API side ------------------------------------------------------------------------------
    def check_access(self, token: str | None, realm: str) -> str:
        """One of ok, missing, invalid, expired, forbidden (token issued for another company)."""
        if not token:
            return "missing"
        entry = self._access.get(token)
        if entry is None:
            return "invalid"
        if entry.expires_at is not None and self._clock.elapsed() >= entry.expires_at:
            return "expired"
        if entry.realm is not None and entry.realm != realm:
            return "forbidden"
        return "ok"

    def expire(self, token: str | None) -> None:
        """End an access token's life now, as if its hour had passed (a refreshed token replaces it)."""
        entry = self._access.get(token or "")
        if entry is not None:
            entry.expires_at = self._clock.elapsed()

    def add_access_token(self, token: str, realm: str | None = None) -> None:
        self._access[token] = _AccessToken(realm, None)

    def current_refresh_token(self, realm: str) -> str | None:
        live = [t for t, e in self._refresh.items() if e.realm == realm and not e.superseded]
        return live[-1] if live else None

    # -- token endpoint --------------------------------------------------------------------------
    def client_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        return client_id == self.client_id and client_secret == self.client_secret

    def refresh(self, token: str | None) -> dict[str, Any]:
        entry = self._refresh.get(token or "")
        if entry is None or entry.superseded or self._clock.elapsed() >= entry.expires_at:
            raise OAuthError(400, "invalid_grant", "Token invalid")
        # Rotate on every refresh: the old token is dead from now on, as Intuit's can be.
        entry.superseded = True
        return self._issue(entry.realm)

    def exchange_code(self, code: str | None, code_verifier: str | None = None) -> dict[str, Any]:
        found = self._codes.pop(code or "", None)
        challenge = self._challenges.pop(code or "", None)
        if found is None or self._clock.elapsed() >= found[1]:
            raise OAuthError(400, "invalid_grant", "Token invalid")
        if challenge is not None and not _pkce_ok(challenge, code_verifier):
            raise OAuthError(400, "invalid_grant", "PKCE verification failed")
        for entry in self._refresh.values():
            if entry.realm == found[0]:
                entry.superseded = True
        return self._issue(found[0])

    def _issue(self, realm: str) -> dict[str, Any]:
        now = self._clock.elapsed()
        access = f"sim-at-{secrets.token_urlsafe(24)}"
        refresh = f"sim-rt-{secrets.token_urlsafe(24)}"
        self._access[access] = _AccessToken(realm, now + ACCESS_TOKEN_SECONDS)
        self._refresh[refresh] = _RefreshToken(realm, now + REFRESH_TOKEN_SECONDS)
        # Field order as in Intuit's SDK fixture (oauth2/intuit-dotnet-sdk-success_token_response.json).
        return {"token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS, "refresh_token": refresh,
                "x_refresh_token_expires_in": REFRESH_TOKEN_SECONDS, "access_token": access}


def _pkce_ok(challenge: tuple[str, str], verifier: str | None) -> bool:
    """RFC 7636 section 4.6: the verifier must hash (S256) or equal (plain) the authorize request's challenge."""
    expected, method = challenge
    if not verifier:
        return False
    if method == "S256":
        verifier = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return hmac.compare_digest(verifier.encode(), expected.encode())


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _oauth_reply(payload: dict[str, Any], status: int = 200) -> web.Response:
    return reply(payload, status=status, content_type=TOKEN_CONTENT_TYPE,
                 headers={"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})


async def token_endpoint(registry: TokenRegistry, request: web.Request) -> web.Response:
    """POST /oauth2/v1/tokens/bearer (form body; client authenticated by HTTP Basic or form fields)."""
    form = await request.post()
    client_id, secret = _basic_credentials(request.headers.get("Authorization"))
    if client_id is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")  # client_secret_post
    if not registry.client_ok(str(client_id) if client_id else None, str(secret) if secret else None):
        return _oauth_reply({"error": "invalid_client"}, status=401)
    grant = form.get("grant_type")
    try:
        if grant == "refresh_token":
            tokens = registry.refresh(str(form.get("refresh_token") or ""))
        elif grant == "authorization_code":
            verifier = form.get("code_verifier")
            tokens = registry.exchange_code(str(form.get("code") or ""), str(verifier) if verifier else None)
        else:
            raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    except OAuthError as error:
        return _oauth_reply({"error_description": error.description, "error": error.error}, status=error.status)
    return _oauth_reply(tokens)
