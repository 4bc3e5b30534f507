"""Who is calling: one Authenticator reads the request's credential and returns a Principal, or refuses.

Credentials, one per request:
- `Authorization: Bearer bzk_...` or `X-API-Key: bzk_...`: a scoped API key (machines);
- `Authorization: Bearer <JWT>`: an Entra ID access token (people, or apps with app roles);
- `X-MS-CLIENT-PRINCIPAL`: the user App Service Authentication signed in, only when the app is configured to
  run behind it (otherwise any client could forge it, so it is ignored).
Refusals are 401 problems with a stable code and a WWW-Authenticate challenge; no message echoes a credential.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from api.auth.app_service import HEADER as APP_SERVICE_HEADER
from api.auth.app_service import principal_from_header
from api.auth.entra import EntraValidator, SigningKeysUnavailable, TokenRejected
from api.auth.keys import PEPPER_SECRET, ApiKeys, KeyRejected, PepperUnavailable, looks_like_key
from api.auth.principal import Principal
from api.auth.settings import load_auth_settings
from api.problems import Problem

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bizmetrics"'}
API_KEY_HEADER = "x-api-key"


def unauthenticated(code: str, detail: str) -> Problem:
    return Problem(401, code, detail, title="Unauthenticated", headers=dict(CHALLENGE))


class Authenticator:
    """Turns request headers into a Principal (see the module docstring for the credentials it accepts)."""

    def __init__(self, keys: ApiKeys, entra: EntraValidator | None, trust_app_service_auth: bool) -> None:
        self.keys = keys
        self.entra = entra
        self.trust_app_service_auth = trust_app_service_auth

    @classmethod
    def from_settings(cls, conn_factory: Callable[[], Any]) -> Authenticator:
        """From BIZ_ENTRA_TENANT_ID, BIZ_ENTRA_AUDIENCE and BIZ_TRUST_APP_SERVICE_AUTH; keys in the database
        `conn_factory` opens (a context manager giving a psycopg connection, e.g. `connect` or a pool's)."""
        settings = load_auth_settings()
        entra = (EntraValidator(settings.entra_tenant_id, settings.entra_audiences)
                 if settings.entra_tenant_id else None)
        return cls(ApiKeys(conn_factory), entra, settings.trust_app_service_auth)

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller, or a 401 Problem (503 when Entra's signing keys cannot be fetched)."""
        bearer = _bearer(headers)
        api_key = _single(headers, API_KEY_HEADER)
        if bearer is not None and api_key is not None:
            raise unauthenticated("invalid_credentials", "Send one credential: Authorization or X-API-Key, not both")
        if api_key is not None or (bearer is not None and looks_like_key(bearer)):
            return self._key(api_key if api_key is not None else bearer or "")
        if self.trust_app_service_auth:
            client_principal = _single(headers, APP_SERVICE_HEADER)
            if client_principal is not None:
                return self._rejecting(principal_from_header, client_principal)
        if bearer is not None:
            if self.entra is None:
                raise unauthenticated("invalid_token", "This deployment accepts API keys only (Entra ID sign-in is "
                                                       "not configured)")
            return self._rejecting(self.entra.validate, bearer)
        raise unauthenticated("unauthenticated", "Send an Entra ID bearer token or an API key "
                                                 "(Authorization: Bearer ... or X-API-Key: bzk_...)")

    def _key(self, text: str) -> Principal:
        try:
            return self.keys.verify(text.strip()).principal()
        except KeyRejected as exc:
            raise unauthenticated(exc.code, exc.detail) from None
        except PepperUnavailable:
            log.error("API keys cannot be checked: the %s secret is missing or too short", PEPPER_SECRET)
            raise Problem(503, "api_keys_unavailable", "API keys cannot be checked right now: the service is not "
                          "fully configured; try again later or tell its operator") from None

    @staticmethod
    def _rejecting(validate: Callable[[str], Principal], credential: str) -> Principal:
        try:
            return validate(credential)
        except TokenRejected as exc:
            raise unauthenticated(exc.code, exc.detail) from None
        except SigningKeysUnavailable:
            log.error("Entra signing keys are unavailable; refusing bearer tokens until they can be fetched")
            raise Problem(503, "signing_keys_unavailable", "Sign-in cannot be checked right now; retry shortly",
                          headers={"Retry-After": "60"}) from None


def _single(headers: Mapping[str, str], name: str) -> str | None:
    """The one value of header `name` (case-insensitive); a repeated credential header is refused."""
    getlist = getattr(headers, "getlist", None)
    values = getlist(name) if getlist else [v for k, v in headers.items() if k.lower() == name]
    if len(values) > 1:
        raise unauthenticated("invalid_credentials", f"Send the {name} header once")
    return values[0] if values else None


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = _single(headers, "authorization")
    if value is None:
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise unauthenticated("invalid_credentials", "Use Authorization: Bearer <token or API key>")
    return credential.strip()
