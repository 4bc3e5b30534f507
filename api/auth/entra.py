"""People: Entra ID access tokens (RS256 JWTs) checked against the tenant's signing keys, issuer and audience.

App roles in the token's `roles` claim are the scopes (Metrics.Read, Sync.Run, Connections.Admin); any other role
is ignored. The signing keys (JWKS) are cached and refetched when they age out or when a token names a key id not
seen yet, at most once a minute, so a stream of forged key ids cannot make the app hammer Entra.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jwt

from api.auth.principal import SCOPES, Principal

log = logging.getLogger(__name__)

# Entra signs access tokens with RS256. Never "none" or HS*: with a public key as an HMAC secret anyone could sign.
ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 60
MAX_TOKEN_CHARS = 16_384
_MAX_JWKS_BYTES = 1_000_000

JwksFetcher = Callable[[str], Mapping[str, Any]]


class TokenRejected(Exception):
    """A token that does not authenticate; `code` is token_expired or invalid_token. Never holds the token."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class SigningKeysUnavailable(Exception):
    """The tenant's signing keys could not be fetched and none are cached: the fault is ours, not the caller's."""


def jwks_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"


def issuers(tenant_id: str) -> tuple[str, str]:
    """The v2 and v1 issuers of the tenant's access tokens (v1 when the API's manifest asks for v1 tokens)."""
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0", f"https://sts.windows.net/{tenant_id}/"


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """GET the JWKS document (the one network edge of this module; tests pass their own fetcher)."""
    with urllib.request.urlopen(url, timeout=5) as response:  # a fixed https URL built from settings
        return json.loads(response.read(_MAX_JWKS_BYTES))


class SigningKeys:
    """The tenant's JWKS by key id: refreshed after `ttl`, or on an unknown kid at most every `min_refetch`."""

    def __init__(self, url: str, fetch: JwksFetcher = fetch_jwks, *, ttl: float = 3600.0,
                 min_refetch: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = url
        self._fetch = fetch
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None

    def get(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            unknown = kid not in self._keys and (self._fetched_at is None
                                                 or now - self._fetched_at >= self._min_refetch)
            if stale or unknown:
                self._refresh(now)
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        try:
            document = self._fetch(self._url)
            keys = {}
            for jwk in document.get("keys", []):
                if not isinstance(jwk, dict) or not jwk.get("kid") or jwk.get("use", "sig") != "sig":
                    continue
                try:
                    keys[str(jwk["kid"])] = jwt.PyJWK(jwk)
                except jwt.PyJWTError:
                    continue  # a key type we do not use; the others still count
        except Exception as exc:  # network, JSON, anything: keep what we have
            self._fetched_at = now  # and wait min_refetch before trying again
            if not self._keys:
                raise SigningKeysUnavailable(f"Could not fetch Entra signing keys: {type(exc).__name__}") from exc
            log.warning("Could not refresh Entra signing keys (%s); using the cached ones", type(exc).__name__)
            return
        self._keys, self._fetched_at = keys, now


class EntraValidator:
    """Validates an Entra access token for this API and turns it into a user Principal."""

    def __init__(self, tenant_id: str, audiences: Sequence[str], *, fetch: JwksFetcher = fetch_jwks,
                 leeway: int = LEEWAY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        if not tenant_id or not audiences:
            raise ValueError("Entra validation needs a tenant id and at least one audience")
        self.tenant_id = tenant_id
        self.audiences = tuple(audiences)
        self.issuers = issuers(tenant_id)
        self.leeway = leeway
        self.keys = SigningKeys(jwks_url(tenant_id), fetch, clock=clock)

    def validate(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("invalid_token", "The bearer token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("invalid_token", "The bearer token is not a well-formed JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenRejected("invalid_token", f"Tokens must be signed with {', '.join(ALGORITHMS)}")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("invalid_token", "The token names no signing key (kid)")
        key = self.keys.get(kid)
        if key is None:
            raise TokenRejected("invalid_token", "The token is signed with a key this tenant does not publish")
        try:
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS), audience=list(self.audiences),
                                issuer=list(self.issuers), leeway=self.leeway,
                                options={"require": ["exp", "iss", "aud", "oid"]})
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token_expired", "The bearer token has expired; get a new one") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("invalid_token", "The token was not issued for this API (audience)") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("invalid_token", "The token was not issued by this tenant (issuer)") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("invalid_token", "The token is not valid yet (nbf/iat)") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("invalid_token", "The token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected("invalid_token", f"The token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise TokenRejected("invalid_token", "The bearer token is not valid") from None
        return principal_from_claims(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """A user Principal from validated claims: subject oid, the known app roles as scopes."""
    oid = claims.get("oid")
    if not isinstance(oid, str) or not oid:
        raise TokenRejected("invalid_token", "The token lacks the 'oid' claim")
    roles = claims.get("roles") or []
    scopes = frozenset(r for r in roles if isinstance(r, str) and r in SCOPES) if isinstance(roles, list) else None
    if scopes is None:
        raise TokenRejected("invalid_token", "The token's roles claim is not a list")
    name = next((v for c in ("preferred_username", "upn", "name", "appid", "azp")
                 if isinstance(v := claims.get(c), str) and v), oid)
    return Principal(kind="user", subject=oid, name=name[:200], scopes=scopes)
