"""Transactions of the demo company: invoices and the payments applied to them, receipts, bills, purchases,
and (through the sibling modules) estimates, credits, refunds, bill payments, deposits and journal entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import demo_banking, demo_payables, demo_sales
from .demo_base import CREW_FIELD, TxnBase
from .demo_context import Draft, GenContext, base_fields
from .demo_currency import Rates, apply_currency
from .demo_lists import Lists, ref
from .money import to_money
from .mutations import apply_void


@dataclass
class Counts:
    invoices: int
    payments: int
    sales_receipts: int
    bills: int
    purchases: int
    estimates: int = 0
    credit_memos: int = 0
    refund_receipts: int = 0
    bill_payments: int = 0
    vendor_credits: int = 0
    deposits: int = 0
    journal_entries: int = 0


@dataclass
class Transactions:
    by_entity: dict[str, list[Draft]]
    rates: Rates
    # (entity, Id, deleted at): hard deletes that CDC must still report
    deleted: list[tuple[str, str, datetime]] = field(default_factory=list)


class _Builder(TxnBase):
    # -- invoices -------------------------------------------------------------------------------
    def invoice(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        customer = self.customer_at(created)
        lines, total = self.sales_lines(discount_chance=0.08)
        term = rng.choice(self.terms)
        record: dict[str, Any] = {
            "AllowIPNPayment": False, "AllowOnlinePayment": False, "AllowOnlineCreditCardPayment": False,
            "AllowOnlineACHPayment": False, **base_fields(), "CustomField": [dict(f) for f in CREW_FIELD],
            "DocNumber": None, "TxnDate": day.isoformat(), "CurrencyRef": self.currency_ref(customer),
            "LinkedTxn": [], "Line": lines, "TxnTaxDetail": {"TotalTax": 0},
            "CustomerRef": ref(customer, "DisplayName")}
        self.address_fields(customer, record, ("BillAddr", "ShipAddr"))
        record["SalesTermRef"] = {"value": term.id}
        record["DueDate"] = (day + timedelta(days=int(term.record["DueDays"]))).isoformat()
        record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False,
                       "PrintStatus": rng.choice(("NeedToPrint", "NotSet")),
                       "EmailStatus": "NotSet"})
        if "PrimaryEmailAddr" in customer.record and rng.random() < 0.6:
            record["EmailStatus"] = "EmailSent"
            record["BillEmail"] = dict(customer.record["PrimaryEmailAddr"])
        record["Balance"] = to_money(total)
        customer.touch(created)
        return Draft("Invoice", record, created, created,
                     extra={"customer": customer, "total": total, "open": total, "payments": [], "estimates": [],
                            "paid_until": created, "currency": self.currency(customer)})

    def void_invoice(self, draft: Draft) -> None:
        moment = self.ctx.after(draft.created, within=timedelta(days=20))
        apply_void(draft.record)
        draft.extra["open"] = 0
        draft.extra["voided"] = True
        draft.edit(moment)
        draft.extra["customer"].touch(moment)

    # -- payments -------------------------------------------------------------------------------
    def plan_payments(self, invoices: list[Draft], count: int) -> list[Draft]:
        rng = self.ctx.rng
        cutoff = self.ctx.as_of - timedelta(days=1)
        pool = sorted((i for i in invoices if not i.extra.get("voided") and i.created < cutoff),
                      key=lambda d: (d.record["TxnDate"], d.created))
        payments = []
        for _ in range(count):
            roll = rng.random()
            if roll < 0.03 or not pool:
                payments.append(self._unapplied_payment())
                continue
            index = int(len(pool) * (rng.random() ** 2))
            first = pool[index]
            targets = [first]
            if 0.10 <= roll < 0.16:
                other = next((p for p in pool if p is not first and p.extra["customer"] is first.extra["customer"]),
                             None)
                if other is not None:
                    targets.append(other)
            partial = roll < 0.10
            applications = []
            for invoice in targets:
                amount = invoice.extra["open"]
                if partial and amount > 100:
                    amount = max(1, min(amount - 1, round(amount * rng.uniform(0.3, 0.7))))
                applications.append((invoice, amount))
            payment = self._payment(applications)
            payments.append(payment)
            for invoice, amount in applications:
                invoice.extra["open"] -= amount
                invoice.extra["payments"].append(payment)
                invoice.extra["paid_until"] = payment.created
                invoice.edit(payment.created)
                if invoice.extra["open"] == 0:
                    pool.remove(invoice)
        return payments

    def _payment(self, applications: list[tuple[Draft, int]]) -> Draft:
        rng = self.ctx.rng
        earliest = max(inv.extra["paid_until"] for inv, _ in applications)
        lag = rng.choice((0, 1, 3, 7, 14, 21, 30, 30, 45, 60, 75)) + rng.randint(0, 5)
        created = self.later(earliest, lag)
        customer = applications[0][0].extra["customer"]
        total = sum(amount for _, amount in applications)
        return self._payment_draft(customer, created, total, 0, applications)

    def _unapplied_payment(self) -> Draft:
        created = self.ctx.at_business_hours(self.txn_day())
        amount = self.ctx.rng.randint(50, 500) * 100
        return self._payment_draft(self.customer_at(created), created, amount, amount, [])

    def _payment_draft(self, customer: Draft, created: datetime, total: int, unapplied: int,
                       applications: list[tuple[Draft, int]]) -> Draft:
        rng = self.ctx.rng
        method = rng.choice(self.methods)
        record: dict[str, Any] = {"CustomerRef": ref(customer, "DisplayName"),
                                  "DepositToAccountRef": {"value": self.accounts["Undeposited Funds"].id},
                                  "PaymentMethodRef": {"value": method.id}}
        if method.record["Name"] == "Check":
            record["PaymentRefNum"] = str(rng.randint(1000, 99999))
        record.update({"TotalAmt": to_money(total), "UnappliedAmt": to_money(unapplied), "ProcessPayment": False,
                       **base_fields(), "TxnDate": self.ctx.local_day(created).isoformat(),
                       "CurrencyRef": self.currency_ref(customer), "Line": []})
        customer.touch(created)
        opens = [(inv, amount, inv.extra["open"]) for inv, amount in applications]
        return Draft("Payment", record, created, created,
                     extra={"customer": customer, "applications": opens, "unapplied": unapplied, "total": total,
                            "currency": self.currency(customer)})

    # -- other transactions ---------------------------------------------------------------------
    def sales_receipt(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        lines, total = self.sales_lines(discount_chance=0.05)
        customer = self.customer_at(created) if rng.random() < 0.8 else None
        record: dict[str, Any] = {**base_fields(), "CustomField": [dict(f) for f in CREW_FIELD], "DocNumber": None,
                                  "TxnDate": day.isoformat(), "CurrencyRef": self.currency_ref(customer),
                                  "Line": lines, "TxnTaxDetail": {"TotalTax": 0}}
        if customer is not None:
            record["CustomerRef"] = ref(customer, "DisplayName")
            record["CustomerMemo"] = {"value": "Thank you for your business and have a great day!"}
            self.address_fields(customer, record, ("BillAddr",))
        method = rng.choice(self.methods)
        record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                       "EmailStatus": "NotSet", "Balance": 0, "PaymentMethodRef": ref(method)})
        if method.record["Name"] == "Check":
            record["PaymentRefNum"] = str(rng.randint(1000, 99999))
        record["DepositToAccountRef"] = ref(self.accounts["Undeposited Funds"])
        return Draft("SalesReceipt", record, created, created,
                     extra={"customer": customer, "total": total, "currency": self.currency(customer)})

    def bill(self) -> Draft:
        day = self.txn_day()
        created = self.created_for(day)
        vendor = self.vendor_at(created)
        lines, total = self.expense_lines()
        net30 = self.terms[2] if len(self.terms) > 2 else self.terms[0]
        record: dict[str, Any] = {"SalesTermRef": {"value": net30.id},
                                  "DueDate": (day + timedelta(days=30)).isoformat(), "Balance": to_money(total),
                                  **base_fields(), "TxnDate": day.isoformat(), "CurrencyRef": self.currency_ref(None),
                                  "LinkedTxn": [], "Line": lines, "VendorRef": ref(vendor, "DisplayName"),
                                  "APAccountRef": ref(self.accounts["Accounts Payable (A/P)"]),
                                  "TotalAmt": to_money(total)}
        vendor.touch(created)
        return Draft("Bill", record, created, created,
                     extra={"vendor": vendor, "total": total, "open": total, "payments": [], "paid_until": created})

    def purchase(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        vendor = self.vendor_at(created)
        lines, total = self.expense_lines()
        kind = rng.choice(("Check", "Check", "CreditCard", "CreditCard", "CreditCard", "Cash"))
        account = self.accounts["Visa" if kind == "CreditCard" else "Checking"]
        record: dict[str, Any] = {"AccountRef": ref(account), "PaymentType": kind,
                                  "EntityRef": {**ref(vendor, "DisplayName"), "type": "Vendor"}}
        if kind == "CreditCard":
            record["Credit"] = False
        record["TotalAmt"] = to_money(total)
        if kind == "Check":
            record["PrintStatus"] = "NotSet"
        record.update({**base_fields(), "TxnDate": day.isoformat(), "CurrencyRef": self.currency_ref(None),
                       "Line": lines})
        if kind == "Check":
            record["DocNumber"] = None
        return Draft("Purchase", record, created, created, extra={"kind": kind, "total": total})


def _line_ex(invoice: Draft, open_before: int) -> dict[str, Any]:
    def pair(name: str, value: str) -> dict[str, Any]:
        return {"name": "{http://schema.intuit.com/finance/v3}NameValue",
                "declaredType": "com.intuit.schema.finance.v3.NameValue",
                "scope": "javax.xml.bind.JAXBElement$GlobalScope", "value": {"Name": name, "Value": value},
                "nil": False, "globalScope": True, "typeSubstituted": False}

    return {"any": [pair("txnId", invoice.id), pair("txnOpenBalance", f"{open_before / 100:.2f}"),
                    pair("txnReferenceNumber", str(invoice.record["DocNumber"]))]}


def _number_documents(by_entity: dict[str, list[Draft]]) -> None:
    # Sales forms share QBO's custom transaction numbers; estimates have their own; checks (purchases
    # paid by check and bill payments by check) share the bank account's check numbers.
    sales = [d for e in ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt") for d in by_entity[e]]
    checks = [p for p in by_entity["Purchase"] if p.extra["kind"] == "Check"]
    checks += [b for b in by_entity["BillPayment"] if b.record["PayType"] == "Check"]
    for group, start in ((sales, 1001), (by_entity["Estimate"], 1001), (checks, 5001)):
        for number, draft in enumerate(sorted(group, key=lambda d: d.created), start):
            draft.record["DocNumber"] = str(number)


def _link(by_entity: dict[str, list[Draft]]) -> None:
    """Write the cross-references that need Ids: payment lines, invoice and bill links."""
    for payment in by_entity["Payment"]:
        payment.record["Line"] = [
            {"Amount": to_money(amount), "LinkedTxn": [{"TxnId": invoice.id, "TxnType": "Invoice"}],
             "LineEx": _line_ex(invoice, open_before)}
            for invoice, amount, open_before in payment.extra["applications"]]
    for invoice in by_entity["Invoice"]:
        invoice.record["LinkedTxn"] = ([{"TxnId": e.id, "TxnType": "Estimate"} for e in invoice.extra["estimates"]]
                                       + [{"TxnId": p.id, "TxnType": "Payment"} for p in invoice.extra["payments"]])
        invoice.record["Balance"] = to_money(invoice.extra["open"])
    demo_sales.link_estimates(by_entity["Estimate"])
    demo_payables.link_bill_payments(by_entity["Bill"], by_entity["BillPayment"])
    demo_banking.link_deposits(by_entity["Deposit"])


def build_transactions(ctx: GenContext, lists: Lists, counts: Counts) -> Transactions:
    builder = _Builder(ctx, lists)
    rng = ctx.rng
    rates = Rates(ctx)
    deleted_count = min(3, counts.invoices // 100)
    invoices = [builder.invoice() for _ in range(counts.invoices + deleted_count)]

    recent = [i for i in invoices if i.created >= ctx.as_of - timedelta(days=60)]
    doomed = rng.sample(recent, deleted_count) if len(recent) >= deleted_count else invoices[-deleted_count:]
    doomed_ids = {id(d) for d in doomed}
    kept = [i for i in invoices if id(i) not in doomed_ids]
    for draft in rng.sample(kept, len(kept) // 100):
        builder.void_invoice(draft)
    for draft in kept:
        if not draft.extra.get("voided") and rng.random() < 0.08:
            draft.edit(ctx.after(draft.created))
            draft.record["PrivateNote"] = "Revised"

    payments = builder.plan_payments(kept, counts.payments)
    receipts = [builder.sales_receipt() for _ in range(counts.sales_receipts)]
    has_vendors = bool(builder.vendors)
    bills = [builder.bill() for _ in range(counts.bills)] if has_vendors else []
    purchases = [builder.purchase() for _ in range(counts.purchases)] if has_vendors else []
    by_entity: dict[str, list[Draft]] = {
        "Invoice": kept, "Payment": payments, "SalesReceipt": receipts,
        "Estimate": demo_sales.build_estimates(builder, kept, counts.estimates),
        "CreditMemo": demo_sales.build_credit_memos(builder, counts.credit_memos),
        "RefundReceipt": demo_sales.build_refund_receipts(builder, counts.refund_receipts),
        "Bill": bills,
        "BillPayment": demo_payables.plan_bill_payments(builder, bills, counts.bill_payments),
        "VendorCredit": demo_payables.build_vendor_credits(builder, counts.vendor_credits) if has_vendors else [],
        "Purchase": purchases,
        "Deposit": demo_banking.build_deposits(builder, payments + receipts, counts.deposits),
        "JournalEntry": demo_banking.build_journal_entries(builder, counts.journal_entries),
    }

    everything = [d for drafts in by_entity.values() for d in drafts] + doomed
    for number, draft in enumerate(sorted(everything, key=lambda d: d.created), 1):
        draft.record["Id"] = str(number)
    _number_documents(by_entity)
    _link(by_entity)
    apply_currency(by_entity, rates)

    result = Transactions(by_entity=by_entity, rates=rates)
    for draft in doomed:
        when = ctx.after(max(draft.created, ctx.as_of - timedelta(days=25)), within=timedelta(days=25))
        draft.extra["customer"].touch(when)
        result.deleted.append(("Invoice", draft.id, when))
    return result
