"""QuickBooks webhooks: the app's one endpoint, its verifier token, and CloudEvents for every change.

As Intuit sends them since 2026-07-31 (CloudEvents only): a POST whose body is a JSON array of events
gathered over a short window, possibly from several companies (realms), signed in `intuit-signature`
with base64(HMAC-SHA256(verifier token, raw body)). An event names the record, never its fields:
`{"specversion": "1.0", "id", "source", "type": "qbo.invoice.updated.v1", "datacontenttype",
"time", "intuitentityid", "intuitaccountid": realm, "data": {}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sandbox.webhooks import Channel, OutboxSettings, WebhookOutbox

# The entities Intuit's webhooks cover (its list for QBO); the simulator's others (TaxCode, TaxRate,
# ExchangeRate, CompanyInfo) change silently, as there.
WEBHOOK_ENTITIES = frozenset({
    "Account", "Bill", "BillPayment", "Budget", "Class", "CreditMemo", "Currency", "Customer", "Department",
    "Deposit", "Employee", "Estimate", "Invoice", "Item", "JournalCode", "JournalEntry", "Payment",
    "PaymentMethod", "Preferences", "Purchase", "PurchaseOrder", "RefundReceipt", "SalesReceipt", "TaxAgency",
    "Term", "TimeActivity", "Transfer", "Vendor", "VendorCredit"})
OPERATIONS = frozenset({"created", "updated", "deleted"})
# Intuit retries at 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h; the simulator keeps the
# first four, at a hundredth of the time.
RETRY_DELAYS = [0.1, 0.2, 0.3, 3.0]


def sign(body: bytes, verifier_token: str, _url: str) -> dict[str, str]:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return {"intuit-signature": base64.b64encode(digest).decode()}


def encode(events: list[dict[str, Any]], _attempt: int) -> bytes:
    return json.dumps(events, separators=(",", ":")).encode()


def event_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as in Intuit's samples ("2026-05-31T21:31:25.179Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class QuickBooksWebhooks:
    """The app's webhook subscription (endpoint, verifier token, entities) and its outbox."""

    def __init__(self, client_id: str) -> None:
        self.outbox = WebhookOutbox("Intuit-Webhooks-Simulator", OutboxSettings(retry_delays=list(RETRY_DELAYS)))
        # Intuit's `source` is "intuit." and an opaque base64 id of the app; this one is derived from the client id.
        self.source = "intuit." + base64.b64encode(hashlib.sha256(client_id.encode()).digest()).decode()
        self.one_realm_per_post = False
        self._channels: dict[str, Channel] = {}
        self._entities: frozenset[str] | None = None
        self._url: str | None = None
        self._token = ""

    def subscribe(self, url: str, verifier_token: str, entities: Iterable[str] | None = None, *,
                  one_realm_per_post: bool = False) -> None:
        """Send every later change of `entities` (all webhook entities if None) to `url`, signed with the token."""
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        if not verifier_token:
            raise ValueError("a verifier_token is required: Intuit signs every notification")
        chosen = None if entities is None else frozenset(str(e) for e in entities)
        unknown = sorted((chosen or frozenset()) - WEBHOOK_ENTITIES)
        if unknown:
            raise ValueError(f"no webhooks for {unknown}; expected some of {sorted(WEBHOOK_ENTITIES)}")
        self._url, self._entities, self.one_realm_per_post = url, chosen, one_realm_per_post
        self._token = verifier_token
        self._channels = {}

    def unsubscribe(self) -> None:
        self._url, self._entities, self._channels, self._token = None, None, {}, ""

    def describe(self) -> dict[str, Any]:
        """The subscription without its token (only whether one is set)."""
        return {"url": self._url, "verifier_token_set": self._url is not None,
                "entities": None if self._entities is None else sorted(self._entities),
                "one_realm_per_post": self.one_realm_per_post, "source": self.source}

    def notify(self, realm: str, entity: str, ident: str, operation: str, moment: datetime) -> None:
        """Queue the event of one change, if the app subscribes to it."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        if self._url is None or entity not in WEBHOOK_ENTITIES:
            return
        if self._entities is not None and entity not in self._entities:
            return
        event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": self.source,
                 "type": f"qbo.{entity.lower()}.{operation}.v1", "datacontenttype": "application/json",
                 "time": event_time(moment), "intuitentityid": ident, "intuitaccountid": realm, "data": {}}
        self.outbox.publish(self._channel(realm), event)

    def _channel(self, realm: str) -> Channel:
        # One channel batches every realm together; per-realm channels keep each POST to one company.
        key = realm if self.one_realm_per_post else ""
        channel = self._channels.get(key)
        if channel is None:
            assert self._url is not None
            channel = Channel(self._url, self._token, sign, encode, batched=True)
            self._channels[key] = channel
        return channel
