"""monday.com board webhooks: the `challenge` handshake, then one event per delivery, {"event": {...}}, signed with
a JWT (HS256, the app's signing secret) in the `Authorization` header.

Each connection has its own URL, /api/webhooks/monday/{connection_id}: a connection is one monday account with its
own board selection, and the URL says which one a webhook was registered for. The JWT is checked before the body
is read: signature (HS256 only), `exp` and `iat` present and current, `aud` (when monday sets it) naming this URL's
path, and `accountId` matching the connection's `account_id` setting when it has one. Its `shortLivedToken` is a
credential and is never kept, logged or used.

An event only says "something on this board changed": `boardId` becomes the hint "board:<id>" (update events:
"updates"), which the plan honours (planning.focus); the sync reads the real items, their activity log included.

The signing secret is the app secret `monday-signing-secret` (Key Vault, or SECRET_MONDAY_SIGNING_SECRET locally);
while it rotates, `monday-signing-secret-previous` is accepted too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt

from plugins.monday.planning import BOARD_HINT, UPDATES_HINT
from shared.changes import intake
from shared.changes.intake import Batch, Dropped, Receipt, Refused, SourceEvent
from shared.core.convert import as_instant
from shared.core.secrets import SecretNotFound, SecretsProvider, with_previous
from shared.db.connections import Connection

SOURCE = "monday"
PATH = "/api/webhooks/monday"
SIGNING_SECRET = "monday-signing-secret"
PREVIOUS_SIGNING_SECRET = "monday-signing-secret-previous"
# HS256 only: "none" and every other algorithm are refused, whatever the token's header says.
ALGORITHMS = ["HS256"]
LEEWAY_SECONDS = 60
# monday's tokens live minutes; one issued longer ago than this is a replay.
MAX_TOKEN_AGE = dt.timedelta(hours=1)
MAX_TOKEN_CHARS = 8192
MAX_CHALLENGE_CHARS = 512
MAX_ID_CHARS = 200
UPDATE_EVENTS = frozenset({"create_update", "edit_update", "delete_update", "create_subitem_update"})


def signing_secrets(provider: SecretsProvider | None = None) -> list[str]:
    """The signing secret, and the previous one while it rotates; 503 while none is configured."""
    try:
        return with_previous(SIGNING_SECRET, PREVIOUS_SIGNING_SECRET, provider)
    except SecretNotFound:
        raise Refused(503, "webhooks_not_configured", "monday webhooks are not set up here: store the monday app's "
                      f"signing secret as secret {SIGNING_SECRET}") from None


def bearer_token(authorization: str | None) -> str:
    """The JWT the header carries, shaped like one of monday's (HS256); Refused(401) otherwise. No secret is needed
    to say so, so this runs before the secret is read."""
    if not authorization:
        raise Refused(401, "signature_missing", "The Authorization header with monday's JWT is missing")
    token = authorization.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise jwt.DecodeError("too long")
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Refused(401, "invalid_token", "The Authorization header is not a JWT") from None
    if algorithm not in ALGORITHMS:
        raise Refused(401, "invalid_token", "The JWT is not signed with HS256")
    return token


def verify(authorization: str | None, secrets: list[str], *, path: str, now: dt.datetime) -> dict[str, Any]:
    """The JWT's claims once it is proven monday's (signed with one of `secrets`, current, for this URL);
    Refused(401) otherwise, saying what was wrong but never echoing the token."""
    claims = _decode(bearer_token(authorization), secrets)
    # Every time check against `now` (PyJWT's own use the process clock): one clock for the whole decision.
    leeway = dt.timedelta(seconds=LEEWAY_SECONDS)
    issued, expires = _instant(claims, "iat"), _instant(claims, "exp")
    if now > expires + leeway:
        raise Refused(401, "token_expired", "The JWT has expired")
    if now - issued > MAX_TOKEN_AGE:
        raise Refused(401, "token_expired", "The JWT was issued too long ago")
    if issued > now + leeway or ("nbf" in claims and _instant(claims, "nbf") > now + leeway):
        raise Refused(401, "invalid_token", "The JWT is issued in the future")
    audience = claims.get("aud")
    if audience is not None and (not isinstance(audience, str)
                                 or urlsplit(audience).path.rstrip("/") != path.rstrip("/")):
        raise Refused(401, "wrong_audience", "The JWT was issued for another URL")
    return claims


def _instant(claims: dict[str, Any], name: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(claims[name]), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise Refused(401, "invalid_token", f"The JWT's {name} is not a time") from None


def _decode(token: str, secrets: list[str]) -> dict[str, Any]:
    # aud is checked against the path, and the times against the caller's clock, by verify.
    options = {"require": ["exp", "iat"], "verify_aud": False, "verify_exp": False, "verify_iat": False,
               "verify_nbf": False}
    for secret in secrets:
        try:
            return jwt.decode(token, secret, algorithms=ALGORITHMS, options=options)
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the other secret of a rotation
        except jwt.InvalidAlgorithmError:
            raise Refused(401, "invalid_token", "The JWT is not signed with HS256") from None
        except jwt.PyJWTError as exc:
            raise Refused(401, "invalid_token", f"The JWT is not valid ({type(exc).__name__})") from None
    raise Refused(401, "signature_invalid", "The JWT is not signed with this app's signing secret")


def parse(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed_json", "The body is not JSON") from None
    if not isinstance(document, dict):
        raise Refused(400, "not_an_event", 'The body is not a JSON object ({"event": {...}} or {"challenge": ...})')
    return document


def challenge(document: dict[str, Any]) -> str | None:
    """The handshake's token to echo, when this is the handshake."""
    value = document.get("challenge")
    if value is None or "event" in document:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CHALLENGE_CHARS:
        raise Refused(400, "invalid_challenge", "The challenge is not a short string")
    return value


def _digits(value: Any) -> str | None:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text if text.isdigit() and len(text) <= 20 else None


def _event(document: dict[str, Any]) -> tuple[str, dt.datetime, tuple[str, ...]]:
    """(event id, time, hints) of the delivery's event; ValueError saying what is wrong."""
    event = document.get("event")
    if not isinstance(event, dict):
        raise ValueError("no event object")
    event_id = event.get("triggerUuid")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_ID_CHARS:
        raise ValueError("no valid triggerUuid")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("no type")
    try:
        occurred = as_instant(event.get("triggerTime"))
    except ValueError:
        raise ValueError("triggerTime is not an ISO 8601 timestamp with an offset") from None
    if occurred is None:
        raise ValueError("no triggerTime")
    board = _digits(event.get("boardId"))
    if board is None:
        raise ValueError("no valid boardId")
    return event_id, occurred, (UPDATES_HINT,) if kind in UPDATE_EVENTS else (BOARD_HINT + board,)


def read_event(document: dict[str, Any], claims: dict[str, Any], connection_id: str,
               connections: list[Connection]) -> Batch:
    """The event mapped to the URL's connection; 404 when there is no enabled monday connection by that id, 401
    when the JWT is another account's than the connection's."""
    connection = next((c for c in connections if c.connection_id == connection_id), None)
    if connection is None:
        raise Refused(404, "connection_not_found", f"No enabled monday connection {connection_id[:100]!r}")
    expected = connection.config.get("account_id")
    if expected is not None and str(claims.get("accountId")) != str(expected):
        raise Refused(401, "wrong_account", "The JWT is for another monday account than this connection's")
    try:
        event_id, occurred, hints = _event(document)
    except ValueError as exc:
        raw = document.get("event")
        raw_id = raw.get("triggerUuid") if isinstance(raw, dict) else None
        return Batch(dropped=[Dropped(str(raw_id or ""), f"malformed event: {exc}")])
    return Batch(events=[SourceEvent(event_id, occurred, (connection.connection_id,), hints)])


def receive(connection_id: str, body: bytes, authorization: str | None, *,
            open_db: Callable[[], Any] | None = None, queue: Any = None,
            now: dt.datetime | None = None) -> Receipt | str:
    """One delivery to a connection's URL: the challenge to echo (a str), or the receipt of its event."""
    now = now or dt.datetime.now(dt.UTC)
    with intake.refusals(SOURCE):
        intake.check_size(body)
        # The handshake carries no event and starts nothing: it is answered even without a JWT (monday may send
        # it before the app's token exists); a JWT that is there must still be valid.
        claims = None
        if authorization:
            bearer_token(authorization)  # what is not even a JWT is refused before the secret is read
            claims = verify(authorization, signing_secrets(), path=f"{PATH}/{connection_id}", now=now)
        document = parse(body)
        echo = challenge(document)
        if echo is not None:
            return echo
        if claims is None:
            raise Refused(401, "signature_missing", "The Authorization header with monday's JWT is missing")
        return intake.take(SOURCE, lambda connections: read_event(document, claims, connection_id, connections),
                           open_db=open_db, queue=queue, now=now)
