"""Estimates, credit memos and refund receipts of the demo company (all SalesTransaction in Finance.xsd)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from .demo_base import CREW_FIELD, TxnBase
from .demo_context import Draft, base_fields
from .demo_lists import ref
from .money import to_money

THANKS = {"value": "Thank you for your business and have a great day!"}
_CREDIT_REASONS = ("Returned goods", "Service credit", "Damaged on delivery", "Goodwill credit", None, None)


def build_estimates(builder: TxnBase, invoices: list[Draft], count: int) -> list[Draft]:
    """About two in five estimates became invoices (Closed, linked both ways, same lines); the rest are
    still Pending, Accepted or Rejected."""
    rng = builder.ctx.rng
    sources = [i for i in invoices if not i.extra.get("voided")]
    converted = rng.sample(sources, min(count * 2 // 5, len(sources)))
    drafts = [_estimate_for(builder, invoice) for invoice in converted]
    drafts += [_open_estimate(builder) for _ in range(count - len(drafts))]
    return drafts


def _estimate_record(builder: TxnBase, customer: Draft, day: date, status: str, lines: list[dict[str, Any]],
                     total: int) -> dict[str, Any]:
    rng = builder.ctx.rng
    record: dict[str, Any] = {**base_fields(), "CustomField": [dict(f) for f in CREW_FIELD], "DocNumber": None,
                              "TxnDate": day.isoformat(), "CurrencyRef": builder.currency_ref(customer),
                              "TxnStatus": status, "LinkedTxn": [], "Line": lines, "TxnTaxDetail": {"TotalTax": 0},
                              "CustomerRef": ref(customer, "DisplayName"), "CustomerMemo": dict(THANKS)}
    builder.address_fields(customer, record, ("BillAddr", "ShipAddr"))
    record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False,
                   "PrintStatus": rng.choice(("NeedToPrint", "NotSet")), "EmailStatus": "NotSet"})
    if "PrimaryEmailAddr" in customer.record and rng.random() < 0.5:
        record["EmailStatus"] = "EmailSent"
        record["BillEmail"] = dict(customer.record["PrimaryEmailAddr"])
        record["DeliveryInfo"] = {"DeliveryType": "Email"}
    if rng.random() < 0.5:
        record["ExpirationDate"] = (day + timedelta(days=30)).isoformat()
    return record


def _estimate_for(builder: TxnBase, invoice: Draft) -> Draft:
    ctx = builder.ctx
    customer: Draft = invoice.extra["customer"]
    low = max(ctx.history_start, customer.created, invoice.created - timedelta(days=20))
    created = ctx.moment_between(low, invoice.created - timedelta(hours=1))
    day = min(ctx.local_day(created), date.fromisoformat(invoice.record["TxnDate"]))
    record = _estimate_record(builder, customer, day, "Closed", copy.deepcopy(invoice.record["Line"]),
                              invoice.extra["total"])
    estimate = Draft("Estimate", record, created, created,
                     extra={"customer": customer, "invoice": invoice, "currency": invoice.extra.get("currency")})
    # Converting an estimate closes it without a new SyncToken (the recorded closed estimates are at 0).
    estimate.touch(invoice.created)
    invoice.extra["estimates"].append(estimate)
    customer.touch(created)
    return estimate


def _open_estimate(builder: TxnBase) -> Draft:
    ctx, rng = builder.ctx, builder.ctx.rng
    day = builder.txn_day()
    created = builder.created_for(day)
    customer = builder.customer_at(created)
    lines, total = builder.sales_lines(discount_chance=0.08)
    recent = ctx.as_of - created < timedelta(days=30)
    status = rng.choices(("Pending", "Accepted", "Rejected"), weights=(6, 3, 1) if recent else (3, 3, 4))[0]
    record = _estimate_record(builder, customer, day, status, lines, total)
    estimate = Draft("Estimate", record, created, created,
                     extra={"customer": customer, "currency": builder.currency(customer)})
    if status != "Pending":
        decided = ctx.after(created, within=timedelta(days=10))
        estimate.edit(decided)
        if status == "Accepted":
            record["AcceptedBy"] = " ".join(str(customer.record[k]) for k in ("GivenName", "FamilyName")
                                            if k in customer.record) or str(customer.record["DisplayName"])
            record["AcceptedDate"] = max(day, ctx.local_day(decided)).isoformat()
    customer.touch(created)
    return estimate


def link_estimates(estimates: list[Draft]) -> None:
    for estimate in estimates:
        invoice = estimate.extra.get("invoice")
        if invoice is not None:
            estimate.record["LinkedTxn"] = [{"TxnId": invoice.id, "TxnType": "Invoice"}]


def _home_customer(builder: TxnBase, created: Any) -> Draft:
    # Refunds leave the USD checking account, which QBO only allows for home-currency customers.
    for _ in range(20):
        customer = builder.customer_at(created)
        if builder.currency(customer) is None:
            return customer
    return next(c for c in builder.customers if builder.currency(c) is None)


def build_credit_memos(builder: TxnBase, count: int) -> list[Draft]:
    """Credits left on the customer's account (QBO applies them only when a payment links them)."""
    rng = builder.ctx.rng
    drafts = []
    for _ in range(count):
        day = builder.txn_day()
        created = builder.created_for(day)
        customer = builder.customer_at(created)
        lines, total = builder.sales_lines(max_items=2, max_halves=6)
        record: dict[str, Any] = {**base_fields(), "CustomField": [dict(f) for f in CREW_FIELD], "DocNumber": None,
                                  "TxnDate": day.isoformat(), "CurrencyRef": builder.currency_ref(customer)}
        reason = rng.choice(_CREDIT_REASONS)
        if reason:
            record["PrivateNote"] = reason
        record.update({"Line": lines, "TxnTaxDetail": {"TotalTax": 0}, "CustomerRef": ref(customer, "DisplayName"),
                       "CustomerMemo": dict(THANKS)})
        builder.address_fields(customer, record, ("BillAddr", "ShipAddr"))
        record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False,
                       "PrintStatus": rng.choice(("NeedToPrint", "NotSet")), "EmailStatus": "NotSet",
                       "Balance": to_money(total), "RemainingCredit": to_money(total)})
        customer.touch(created)
        drafts.append(Draft("CreditMemo", record, created, created,
                            extra={"customer": customer, "total": total, "open": total,
                                   "currency": builder.currency(customer)}))
    return drafts


def build_refund_receipts(builder: TxnBase, count: int) -> list[Draft]:
    """Money paid back to a customer straight from the checking account."""
    rng = builder.ctx.rng
    methods = [m for m in builder.methods if m.record["Name"] in ("Check", "Cash", "Visa", "MasterCard")] \
        or builder.methods
    drafts = []
    for _ in range(count):
        day = builder.txn_day()
        created = builder.created_for(day)
        customer = _home_customer(builder, created)
        lines, total = builder.sales_lines(max_items=2, max_halves=4)
        record: dict[str, Any] = {**base_fields(), "CustomField": [dict(f) for f in CREW_FIELD], "DocNumber": None,
                                  "TxnDate": day.isoformat(), "CurrencyRef": builder.currency_ref(None),
                                  "Line": lines, "TxnTaxDetail": {"TotalTax": 0},
                                  "CustomerRef": ref(customer, "DisplayName"), "CustomerMemo": dict(THANKS)}
        builder.address_fields(customer, record, ("BillAddr",))
        method = rng.choice(methods)
        record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                       "Balance": 0, "PaymentMethodRef": ref(method)})
        if method.record["Name"] == "Check":
            record["PaymentRefNum"] = str(rng.randint(1000, 99999))
        record["DepositToAccountRef"] = ref(builder.accounts["Checking"])
        customer.touch(created)
        drafts.append(Draft("RefundReceipt", record, created, created,
                            extra={"customer": customer, "total": total, "currency": None}))
    return drafts
