"""The demo company on the local QuickBooks simulator (sandbox/quickbooks), for `make demo`.

Its webhook step (devhost/webhook_demo.py) adds a line to the latest invoice in the home currency and watches
"Revenue invoiced" for that invoice's month move: the simulator posts the change as a signed CloudEvents
webhook to the demo's API, whose route, queue trigger and debounced sync bring the new total into metric_points.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

import psycopg

from plugins.base import DemoChange, DemoSource, WebhookDemo
from plugins.quickbooks import storage
from shared.core.secrets import secrets_provider
from shared.db.connections import Connection

# Where scripts/services.sh starts the simulator (sandbox/ports.py); QBO_BASE_URL points elsewhere.
SIMULATOR_URL = "http://127.0.0.1:8761"
CONNECTION_ID = "qbo-demo"
REALM = "9130350000000001"
TOKEN_SECRET = f"conn-{CONNECTION_ID}-token"  # in the connection's own namespace (shared/core/egress.py)
TOKEN = "demo-access-token"  # the simulator's demo credential, not a real secret
# The verifier token the simulator signs the demo's webhooks with (.env.example's local-only value), used only
# where the environment names none.
LOCAL_VERIFIER = "local-only-qbo-webhook-verifier"
WEBHOOK_ROUTE = "/api/webhooks/quickbooks"
METRIC = "qbo.revenue_invoiced"
RAISE = Decimal("250.00")
CENTS = Decimal("0.01")
MINOR_VERSION = 75
TIMEOUT_SECONDS = 10


def demo_connection(base_url: str, realm: str = REALM, **extra: Any) -> Connection:
    return Connection(
        connection_id=CONNECTION_ID,
        plugin="quickbooks",
        display_name="Demo company (QuickBooks simulator)",
        config={"realm_id": realm, "base_url": base_url, "access_token_secret": TOKEN_SECRET, **extra},
    )


def demo_source() -> DemoSource:
    from plugins.quickbooks.webhooks import VERIFIER_SECRET  # here: the webhooks module imports the plugin

    url = (os.environ.get("QBO_BASE_URL") or SIMULATOR_URL).rstrip("/")
    return DemoSource(
        label="QuickBooks",
        simulator_url=url,
        connections=(demo_connection(url),),
        secrets={TOKEN_SECRET: TOKEN, VERIFIER_SECRET: LOCAL_VERIFIER},
        queries=("SELECT id, doc_number, txn_date, total_amt, balance FROM qbo_invoice "
                 "ORDER BY txn_date DESC LIMIT 10",),
        webhook=webhook_demo(url),
    )


def webhook_demo(simulator_url: str, *, realm: str = REALM, connection_id: str = CONNECTION_ID,
                 token: str = TOKEN) -> WebhookDemo:
    """The webhook step against the simulator at `simulator_url` (its control plane, /_sim/, and its API)."""
    base = simulator_url.rstrip("/")

    def subscribe(url: str) -> None:
        from plugins.quickbooks.webhooks import VERIFIER_SECRET

        # Signed with the verifier token the route checks: the app's secret, as in Intuit's developer portal.
        _call(f"{base}/_sim/webhooks", "PUT", {"url": url, "verifier_token": secrets_provider().get(VERIFIER_SECRET),
                                               "entities": ["Invoice"]})

    def unsubscribe() -> None:
        _call(f"{base}/_sim/webhooks", "DELETE")

    def prepare_change(db: psycopg.Connection) -> DemoChange:
        invoice = _latest_home_currency_invoice(db, base, realm, token, connection_id)
        fields = raised(invoice, RAISE)
        total = Decimal(str(invoice["TotalAmt"])).quantize(CENTS)
        return DemoChange(
            description=(f"invoice {invoice.get('DocNumber') or invoice['Id']} of {invoice['TxnDate']}: a new line of "
                         f"{RAISE} (total {total} -> {total + RAISE})"),
            connection_id=connection_id, metric=METRIC, grain="month",
            bucket=dt.date.fromisoformat(invoice["TxnDate"]).replace(day=1),
            apply=lambda: _call(f"{base}/_sim/{realm}/update", "POST",
                                {"entity": "Invoice", "id": invoice["Id"], "fields": fields}))

    return WebhookDemo(route=WEBHOOK_ROUTE, subscribe=subscribe, unsubscribe=unsubscribe,
                       prepare_change=prepare_change)


def raised(invoice: dict[str, Any], amount: Decimal) -> dict[str, Any]:
    """The fields that add a sales line of `amount` to the invoice, its subtotal, total and balance agreeing."""
    lines = [dict(line) for line in invoice.get("Line") or []]
    sales = [line for line in lines if line.get("DetailType") == "SalesItemLineDetail"]
    detail = dict(sales[0]["SalesItemLineDetail"]) if sales else {}
    detail.update(Qty=1, UnitPrice=float(amount))
    new_line = {"Id": str(1 + max((int(line["Id"]) for line in lines if str(line.get("Id", "")).isdigit()),
                                  default=0)),
                "LineNum": len(sales) + 1, "Amount": float(amount), "DetailType": "SalesItemLineDetail",
                "Description": "Added by the webhook demo", "SalesItemLineDetail": detail}
    for line in lines:
        if line.get("DetailType") == "SubTotalLineDetail":
            line["Amount"] = float(Decimal(str(line["Amount"])) + amount)
    at = next((i for i, line in enumerate(lines) if line.get("DetailType") != "SalesItemLineDetail"), len(lines))
    return {"Line": [*lines[:at], new_line, *lines[at:]],
            "TotalAmt": float(Decimal(str(invoice["TotalAmt"])) + amount),
            "Balance": float(Decimal(str(invoice.get("Balance", 0))) + amount)}


def _latest_home_currency_invoice(db: psycopg.Connection, base: str, realm: str, token: str,
                                  connection_id: str) -> dict[str, Any]:
    """The most recent invoice the change moves one-for-one in the home currency (not voided, no exchange) whose
    stored copy is the simulator's version.

    A simulator started again regenerates its company, so an invoice an earlier demo changed is older there than
    the copy the database kept (a sync never takes a record back to an older version): a change to it would only
    bring the simulator back to what is stored, and the metric would not move."""
    query = urllib.parse.urlencode({"query": "select * from Invoice orderby TxnDate desc maxresults 50",
                                    "minorversion": MINOR_VERSION})
    answer = _call(f"{base}/v3/company/{realm}/query?{query}", token=token)
    candidates = [invoice for invoice in answer.get("QueryResponse", {}).get("Invoice", [])
                  if "HomeTotalAmt" not in invoice and float(invoice.get("ExchangeRate", 1)) == 1
                  and invoice["TotalAmt"]]
    if not candidates:
        raise LookupError(f"the simulator's company {realm} has no recent invoice in its home currency")
    stored = storage.invoice_versions(db, connection_id, [invoice["Id"] for invoice in candidates])
    for invoice in candidates:
        version = stored.get(invoice["Id"])
        if version is None or version == (str(invoice.get("SyncToken")), Decimal(str(invoice["TotalAmt"]))):
            return invoice
    raise LookupError(f"the database holds newer versions of {connection_id}'s recent invoices than the simulator "
                      "(was it started again since?): `make clean-data`, then `make demo`")


def _call(url: str, method: str = "GET", body: dict[str, Any] | None = None, *,
          token: str | None = None) -> dict[str, Any]:
    headers = {"Accept": "application/json", "Content-Type": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return json.loads(response.read() or b"{}")
