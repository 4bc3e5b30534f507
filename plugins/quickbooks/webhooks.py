"""Intuit's webhooks: entity change notifications in the CloudEvents format, a JSON array per delivery that may span
several companies (realms), signed in the `intuit-signature` header.

The signature (base64 of HMAC-SHA256 over the raw body, keyed with the Intuit app's verifier token) is checked on
the bytes as received, in constant time, before the body is parsed. Each event then only says "an entity of this
realm changed": `type` qbo.<entity>.<operation>.v1 names the entity, `intuitaccountid` the realm, and every
enabled connection of that realm that syncs the entity gets the hint "entity:<Entity>" (the plan honours it,
plugin.py _focus). The event's `data` and `intuitentityid` are never used: the sync reads the real records.

The verifier token is the app secret `qbo-webhook-verifier` (Key Vault, or SECRET_QBO_WEBHOOK_VERIFIER locally);
while it rotates, `qbo-webhook-verifier-previous` is accepted too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from plugins.quickbooks.plugin import ENTITY_HINT
from plugins.quickbooks.streams import STREAMS
from shared.changes import intake
from shared.changes.intake import Batch, Dropped, Receipt, Refused, SourceEvent
from shared.core.convert import as_instant
from shared.core.secrets import SecretNotFound, SecretsProvider, with_previous
from shared.db.connections import Connection

SOURCE = "quickbooks"
SIGNATURE_HEADER = "intuit-signature"
VERIFIER_SECRET = "qbo-webhook-verifier"
PREVIOUS_VERIFIER_SECRET = "qbo-webhook-verifier-previous"
EVENT_TYPE = re.compile(r"qbo\.([a-z]+)\.([a-z]+)\.v1")
# Entities by the lower-case name an event type carries (qbo.salesreceipt.created.v1 -> SalesReceipt).
ENTITIES = {name.lower(): name for name in STREAMS}
MAX_SIGNATURE_CHARS = 200
MAX_ID_CHARS = 200


def verifier_tokens(provider: SecretsProvider | None = None) -> list[str]:
    """The verifier token, and the previous one while it rotates; 503 while none is configured."""
    try:
        return with_previous(VERIFIER_SECRET, PREVIOUS_VERIFIER_SECRET, provider)
    except SecretNotFound:
        raise Refused(503, "webhooks_not_configured", f"QuickBooks webhooks are not set up here: store the Intuit "
                      f"app's verifier token as secret {VERIFIER_SECRET}") from None


def sign(body: bytes, token: str) -> str:
    """The `intuit-signature` Intuit sends with `body` (tests and the simulator sign with it)."""
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def signature_bytes(signature: str | None) -> bytes:
    """The HMAC the header carries; Refused(401) when it is missing or not base64 (no secret needed to say so)."""
    if not signature:
        raise Refused(401, "signature_missing", f"The {SIGNATURE_HEADER} header is missing")
    try:
        if len(signature) > MAX_SIGNATURE_CHARS:
            raise ValueError
        return base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise Refused(401, "signature_invalid", f"The {SIGNATURE_HEADER} header is not base64") from None


def verify(body: bytes, signature: str | None, tokens: list[str]) -> None:
    """Refused(401) unless `signature` is the body's HMAC under one of `tokens`; compared in constant time."""
    given = signature_bytes(signature)
    matched = False
    for token in tokens:
        expected = hmac.new(token.encode(), body, hashlib.sha256).digest()
        # Every token is compared (no early exit), so timing says nothing about which one matched.
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise Refused(401, "signature_invalid", f"The {SIGNATURE_HEADER} header does not match the body")


def parse(body: bytes) -> list[Any]:
    """The delivery's events: a JSON array (each element is checked later, one by one)."""
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed_json", "The body is not JSON") from None
    if not isinstance(events, list):
        raise Refused(400, "not_a_batch", "The body is not a JSON array of CloudEvents (Intuit's format since "
                      "2026-07-31)")
    return events


def _text(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise ValueError(f"no valid {name}")
    return value


def _event(raw: Any) -> tuple[str, str, dt.datetime, str]:
    """(event id, realm, time, entity) of one CloudEvent; ValueError saying what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    event_id = _text(raw, "id")
    if raw.get("specversion") != "1.0":
        raise ValueError("specversion is not 1.0")
    kind = EVENT_TYPE.fullmatch(_text(raw, "type"))
    if kind is None:
        raise ValueError("type is not qbo.<entity>.<operation>.v1")
    realm = _text(raw, "intuitaccountid")
    if not realm.isdigit():
        raise ValueError("intuitaccountid is not a realm id")
    _text(raw, "intuitentityid")  # required by the format, though the sync reads the record itself
    stamp = _text(raw, "time")
    try:
        occurred = as_instant(stamp)
    except ValueError:
        raise ValueError("time is not an RFC 3339 timestamp with an offset") from None
    assert occurred is not None
    return event_id, realm, occurred, kind.group(1)


def _syncs(connection: Connection, entity: str) -> bool:
    wanted = connection.config.get("streams")
    return not wanted or entity in wanted


def read_events(events: list[Any], connections: list[Connection]) -> Batch:
    """Each event mapped to the enabled connections of its realm that sync its entity; the rest dropped."""
    by_realm: dict[str, list[Connection]] = {}
    for connection in connections:
        by_realm.setdefault(str(connection.config.get("realm_id", "")), []).append(connection)
    batch = Batch()
    for raw in events:
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            event_id, realm, occurred, entity_lower = _event(raw)
        except ValueError as exc:
            batch.dropped.append(Dropped(str(raw_id or ""), f"malformed event: {exc}"))
            continue
        entity = ENTITIES.get(entity_lower)
        if entity is None:
            batch.dropped.append(Dropped(event_id, f"entity {entity_lower!r} is not one this app syncs"))
            continue
        if realm not in by_realm:
            batch.dropped.append(Dropped(event_id, f"no enabled connection has realm {realm}"))
            continue
        targets = tuple(c.connection_id for c in by_realm[realm] if _syncs(c, entity))
        if not targets:
            batch.dropped.append(Dropped(event_id, f"no connection of realm {realm} syncs {entity}"))
            continue
        batch.events.append(SourceEvent(event_id, occurred, targets, (ENTITY_HINT + entity,)))
    return batch


def receive(body: bytes, signature: str | None, *, open_db: Callable[[], Any] | None = None, queue: Any = None,
            now: dt.datetime | None = None) -> Receipt:
    """One delivery: size, signature, then parse, map and queue (shared/changes/intake.py); Refused says why not."""
    with intake.refusals(SOURCE):
        intake.check_size(body)
        signature_bytes(signature)  # what is not even a signature is refused before the secret is read
        verify(body, signature, verifier_tokens())
        events = parse(body)
        return intake.take(SOURCE, lambda connections: read_events(events, connections), open_db=open_db,
                           queue=queue, now=now)
