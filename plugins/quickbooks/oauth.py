"""QuickBooks Online OAuth 2: Intuit's token endpoint, the consent URL (with PKCE), token lifetimes and their warnings.

Refresh tokens rotate and the old one then fails with invalid_grant, so every refresh goes through
shared.tokens.store.refresh_if_needed (single flight, rotated token stored in the same transaction).
The token request goes only to Intuit's token host (or the simulator on loopback in local development) and
follows no redirect: a 3xx is an error, so the client credentials are never sent on to another URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from plugins.quickbooks.settings import TOKEN_PATH as TOKEN_PATH  # re-exported: the endpoint this module speaks to
from plugins.quickbooks.settings import secret_setting, token_url
from shared.core.http import ApiError
from shared.core.secrets import SecretNotFound, secrets_provider
from shared.db.connections import Connection
from shared.tokens.store import DEFAULT_SKEW, TokenInfo, TokenSet, refresh_if_needed, utcnow

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
SCOPE = "com.intuit.quickbooks.accounting"
ENVIRONMENTS = ("sandbox", "production")
CLIENT_ID_SECRET = "qbo-client-id"
CLIENT_SECRET_SECRET = "qbo-client-secret"
INVALID_GRANT_REASON = "QuickBooks refused the stored refresh token (invalid_grant): reconnect this company"
HTTP_TIMEOUT = 30.0
REFRESH_IDLE_LIMIT = timedelta(days=100)
IDLE_WARNING = timedelta(days=14)
CONSENT_YEARS = 5
CONSENT_WARNING = timedelta(days=30)
# Sanity bounds: a value beyond these is a misread response (e.g. milliseconds), not a lifetime.
_MAX_ACCESS_SECONDS = 86_400
_MAX_REFRESH_SECONDS = 6 * 366 * 86_400
_HINTS = {
    "invalid_grant": "the token or authorization code was refused (expired, already used, or revoked)",
    "invalid_client": f"check the app's client id and secret (secrets {CLIENT_ID_SECRET}, {CLIENT_SECRET_SECRET})",
}


def _app_secret(connection_id: str | None, config: Mapping[str, Any], name: str, default: str) -> str:
    if config.get(name) and connection_id is None:
        raise ValueError(f"{name} names a connection's own secret: pass the connection id it belongs to")
    secret = secret_setting(connection_id or "", config, name, default) or default
    return secrets_provider().get(secret)


def client_id(config: Mapping[str, Any], connection_id: str | None = None) -> str:
    return _app_secret(connection_id, config, "client_id_secret", CLIENT_ID_SECRET)


def client_credentials(config: Mapping[str, Any], connection_id: str | None = None) -> tuple[str, str]:
    """(client id, client secret): the app's, or secrets of the connection's own namespace that its config names."""
    return (client_id(config, connection_id),
            _app_secret(connection_id, config, "client_secret_secret", CLIENT_SECRET_SECRET))


def intuit_app(config: Mapping[str, Any], connection_id: str) -> str:
    """The Intuit app that meters a connection's calls: a fingerprint of its client id (the connection's own app when
    its config names client_id_secret, else the app-wide one). Intuit counts calls per app, whatever company they
    read; the fingerprint names the app without showing its id. Where the client id cannot be read (a static token
    in local development), the name of the secret that would hold it stands for the app."""
    name = secret_setting(connection_id, config, "client_id_secret", CLIENT_ID_SECRET) or CLIENT_ID_SECRET
    try:
        identity = secrets_provider().get(name)
    except SecretNotFound:
        return f"intuit-app:{name}"
    return "intuit-app:" + hashlib.sha256(identity.encode()).hexdigest()[:12]


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters; 256 random bits here)."""
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of a verifier: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


def _check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    return environment


def authorize_url(state: str, redirect_uri: str, environment: str, *,
                  config: Mapping[str, Any] | None = None, connection_id: str | None = None,
                  code_verifier: str | None = None) -> str:
    """Intuit's consent page for this app; it redirects to `redirect_uri` with code, state and realmId.

    With a code_verifier the URL carries its S256 challenge (PKCE); a server without PKCE ignores it (RFC 7636).
    """
    _check_environment(environment)  # the same page serves both: the app's keys decide which companies it sees
    query = {"client_id": client_id(config or {}, connection_id), "response_type": "code", "scope": SCOPE,
             "redirect_uri": redirect_uri, "state": state}
    if code_verifier:
        query |= {"code_challenge": code_challenge(code_verifier), "code_challenge_method": "S256"}
    return f"{AUTHORIZE_URL}?{urlencode(query)}"


def _lifetime(doc: Mapping[str, Any], name: str, limit: int, *, required: bool) -> int | None:
    value = doc.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise ApiError(f"QuickBooks token response has an implausible {name}: {value!r}", code="bad_token_response")
    return value


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def parse_token_response(status: int, body: bytes | str, *, now: datetime | None = None,
                         sent: tuple[str, ...] = ()) -> TokenSet:
    """A TokenSet from Intuit's answer, or ApiError with the OAuth `error` as code; `sent` secrets are redacted."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(f"QuickBooks token endpoint answered HTTP {status} with a body that is not JSON",
                       status=status, code="bad_token_response", transient=status >= 500) from None
    if not isinstance(doc, dict):
        raise ApiError(f"QuickBooks token endpoint answered HTTP {status} with JSON that is not an object",
                       status=status, code="bad_token_response", transient=status >= 500)
    if status != 200 or "error" in doc:
        code = str(doc.get("error") or f"http_{status}")[:100]
        detail = str(doc.get("error_description") or "")[:200]
        hint = _HINTS.get(code, "")
        text = f"QuickBooks token endpoint answered HTTP {status} {code}" + (f" ({detail})" if detail else "")
        raise ApiError(_redact(text + (f": {hint}" if hint else ""), sent), status=status, code=code,
                       transient=status >= 500 or status == 429)
    access, refresh = doc.get("access_token"), doc.get("refresh_token")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise ApiError("QuickBooks token response lacks access_token or refresh_token", status=status,
                       code="bad_token_response")
    if str(doc.get("token_type", "bearer")).lower() != "bearer":
        raise ApiError(f"QuickBooks issued a {doc.get('token_type')!r} token, expected bearer", status=status,
                       code="bad_token_response")
    expires_in = _lifetime(doc, "expires_in", _MAX_ACCESS_SECONDS, required=True)
    refresh_in = _lifetime(doc, "x_refresh_token_expires_in", _MAX_REFRESH_SECONDS, required=False)
    moment = now or utcnow()
    return TokenSet(access_token=access, refresh_token=refresh,
                    access_expires_at=moment + timedelta(seconds=expires_in or 0),
                    refresh_expires_at=moment + timedelta(seconds=refresh_in) if refresh_in else None)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is returned as it is (then refused): following it would send the client credentials elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def request_tokens(form: Mapping[str, str], config: Mapping[str, Any], *, now: datetime | None = None,
                   connection_id: str | None = None) -> TokenSet:
    """POST a grant to the token endpoint (client authenticated by HTTP Basic) and parse the answer."""
    url = token_url(config)  # checked first: no secret is read for a URL that is refused
    identity, client_secret = client_credentials(config, connection_id)
    basic = base64.b64encode(f"{identity}:{client_secret}".encode()).decode()
    request = urllib.request.Request(
        url, data=urlencode(form).encode(), method="POST",
        headers={"Authorization": f"Basic {basic}", "Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"})
    sent = (client_secret, form.get("refresh_token", ""), form.get("code", ""))
    started = utcnow() if now is None else now
    try:
        with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(f"QuickBooks token endpoint {url} could not be reached: {type(exc).__name__}: {reason}",
                       code="token_endpoint_unreachable", transient=True) from None
    if 300 <= status < 400:
        raise ApiError(f"QuickBooks token endpoint {url} answered HTTP {status} (a redirect); token requests follow "
                       "no redirects: check token_url / QBO_TOKEN_URL", status=status, code="token_redirect_refused")
    # Lifetimes count from when the request was sent, so a slow answer cannot overstate them.
    return parse_token_response(status, body, now=started, sent=sent)


def refresh_tokens(refresh_token: str, config: Mapping[str, Any], *, now: datetime | None = None,
                   connection_id: str | None = None) -> TokenSet:
    return request_tokens({"grant_type": "refresh_token", "refresh_token": refresh_token}, config, now=now,
                          connection_id=connection_id)


def is_realm_id(value: object) -> bool:
    """A QuickBooks company id: ASCII digits only (str.isdigit would also take other scripts' digits)."""
    return isinstance(value, str) and re.fullmatch(r"[0-9]{1,32}", value) is not None


def exchange_code(code: str, realm_id: str, redirect_uri: str, *, config: Mapping[str, Any] | None = None,
                  now: datetime | None = None, code_verifier: str | None = None,
                  connection_id: str | None = None) -> TokenSet:
    """Trade the consent's authorization code for tokens (redirect_uri must equal the authorize request's;
    code_verifier is the PKCE verifier whose challenge the authorize URL carried)."""
    if not is_realm_id(realm_id):
        raise ValueError(f"realmId must be the company's numeric id, got {realm_id!r}")
    if not code:
        raise ValueError("The callback has no authorization code")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    return request_tokens(form, config or {}, now=now, connection_id=connection_id)


def verify_company(access_token: str, realm_id: str, base_url: str, *, minor_version: int) -> None:
    """Check that the token really opens company `realm_id` (reads companyinfo/{realmId}); ConsentError-worthy
    ApiError otherwise. The callback's realmId is only a claim of the redirect: this proves it."""
    if not is_realm_id(realm_id):
        raise ValueError(f"realmId must be the company's numeric id, got {realm_id!r}")
    url = f"{base_url}/v3/company/{realm_id}/companyinfo/{realm_id}?minorversion={minor_version}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {access_token}",
                                                   "Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, b""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ApiError(f"QuickBooks could not be reached to confirm company {realm_id}: {type(exc).__name__}",
                       code="company_check_unreachable", transient=True) from None
    if status in (401, 403):
        raise ApiError(f"The issued token does not open QuickBooks company {realm_id} (HTTP {status})",
                       status=status, code="realm_mismatch")
    try:
        info = json.loads(body).get("CompanyInfo") if status == 200 else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        info = None
    if not isinstance(info, dict):
        raise ApiError(f"QuickBooks answered HTTP {status} without the CompanyInfo of company {realm_id}",
                       status=status, code="company_check_failed", transient=status >= 500)


def bearer_token(connection: Connection, *, conn_factory: Callable[[], Any] | None = None,
                 now: Callable[[], datetime] = utcnow, skew: timedelta = DEFAULT_SKEW,
                 rejected: str | None = None, on_refresh: Callable[[], None] | None = None) -> str:
    """A valid access token for the connection, refreshed first (once across processes) if it expires soon,
    or if it is `rejected`, the token QuickBooks just refused (401) however long its stored expiry says it lives.

    The token store (shared/tokens) opens the connections its single-flight refresh needs (`conn_factory` to
    choose them). Blocking (database and HTTP): async callers use asyncio.to_thread. Raises
    ApiError(code="invalid_grant") after marking the connection action_required when QuickBooks refuses the stored
    refresh token. `on_refresh` is told of each refresh sent to Intuit (its metering counts them as calls).
    """
    def refresh(refresh_token: str) -> TokenSet:
        if on_refresh is not None:
            on_refresh()
        return refresh_tokens(refresh_token, connection.config, now=now(), connection_id=connection.connection_id)

    return refresh_if_needed(conn_factory, connection.connection_id, refresh, skew=skew, now=now,
                             invalid_grant_reason=INVALID_GRANT_REASON, rejected=rejected)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def connection_warnings(info: TokenInfo, *, now: datetime | None = None) -> list[str]:
    """What the user must act on soon: a refresh token about to die unused, or consent near its 5-year end."""
    moment = now or utcnow()
    warnings: list[str] = []
    idle_deadline = info.refresh_expires_at or (info.last_refreshed_at or info.consented_at) + REFRESH_IDLE_LIMIT
    if idle_deadline <= moment:
        warnings.append(f"The QuickBooks refresh token expired on {idle_deadline:%Y-%m-%d} (100 days without use): "
                        "reconnect this company")
    elif idle_deadline - moment <= IDLE_WARNING:
        warnings.append(f"The QuickBooks refresh token expires on {idle_deadline:%Y-%m-%d} unless a sync runs "
                        "before then (it dies after 100 days without use)")
    consent_end = _add_years(info.consented_at, CONSENT_YEARS)
    if consent_end - moment <= CONSENT_WARNING:
        when = "ended" if consent_end <= moment else "ends"
        warnings.append(f"The QuickBooks consent given on {info.consented_at:%Y-%m-%d} {when} on "
                        f"{consent_end:%Y-%m-%d} (5-year limit): reconnect this company")
    return warnings
