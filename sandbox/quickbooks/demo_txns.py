"""Transactions of the demo company: invoices and the payments applied to them, receipts, bills, purchases."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from . import demo_names as names
from .demo_context import USD, Draft, GenContext, base_fields
from .demo_lists import EXPENSE_ACCOUNTS, Lists, ref
from .money import to_money
from .mutations import apply_void

CREW_FIELD = [{"DefinitionId": "1", "Name": "Crew #", "Type": "StringType"}]


@dataclass
class Counts:
    invoices: int
    payments: int
    sales_receipts: int
    bills: int
    purchases: int


@dataclass
class Transactions:
    by_entity: dict[str, list[Draft]]
    # (entity, Id, deleted at): hard deletes that CDC must still report
    deleted: list[tuple[str, str, datetime]] = field(default_factory=list)


def _number(value: float) -> int | float:
    # Quantities and unit prices come back as `4` or `4.5`, never `4.0`.
    return int(value) if float(value).is_integer() else value


class _Builder:
    def __init__(self, ctx: GenContext, lists: Lists) -> None:
        self.ctx = ctx
        self.lists = lists
        self.customers = sorted((c for c in lists.customers), key=lambda d: d.created)
        self._customer_times = [c.created for c in self.customers]
        self.vendors = sorted((v for v in lists.vendors if v.record["Active"]), key=lambda d: d.created)
        self._vendor_times = [v.created for v in self.vendors]
        self.items = [i for i in lists.items if i.record["Active"] and i.record["UnitPrice"]]
        self.terms = [t for t in lists.terms if t.record["Active"]]
        self.methods = [m for m in lists.payment_methods if m.record["Active"]]

    # -- picking --------------------------------------------------------------------------------
    def txn_day(self) -> date:
        # Biased towards recent dates: the business grows, and CDC's 30-day window has content.
        first = self.ctx.local_day(self.ctx.history_start)
        span = (self.ctx.local_day(self.ctx.as_of) - first).days - 1
        return first + timedelta(days=int((self.ctx.rng.random() ** 0.8) * span))

    def customer_at(self, moment: datetime) -> Draft:
        known = max(1, bisect.bisect_right(self._customer_times, moment))
        # Older customers buy more often.
        return self.customers[int(known * (self.ctx.rng.random() ** 1.4))]

    def vendor_at(self, moment: datetime) -> Draft:
        known = max(1, bisect.bisect_right(self._vendor_times, moment))
        return self.vendors[self.ctx.rng.randrange(known)]

    def created_for(self, day: date) -> datetime:
        created = self.ctx.at_business_hours(day)
        if self.ctx.rng.random() < 0.1:
            # Entered a few days after its business date: a backdated transaction.
            created = self.ctx.at_business_hours(day + timedelta(days=self.ctx.rng.randint(1, 10)))
        return created

    def sales_lines(self) -> tuple[list[dict[str, Any]], int]:
        rng = self.ctx.rng
        lines, total = [], 0
        for number, item in enumerate(rng.sample(self.items, rng.randint(1, min(4, len(self.items)))), 1):
            price = round(float(item.record["UnitPrice"]) * 100)
            halves = rng.randint(1, 24) if item.record["Type"] == "Service" else 2 * rng.randint(1, 20)
            amount = price * halves // 2
            total += amount
            lines.append({"Id": str(number), "LineNum": number,
                          "Description": item.record.get("Description", item.record["Name"]),
                          "Amount": to_money(amount), "DetailType": "SalesItemLineDetail",
                          "SalesItemLineDetail": {"ItemRef": ref(item), "UnitPrice": _number(price / 100),
                                                  "Qty": _number(halves / 2), "TaxCodeRef": {"value": "NON"}}})
        lines.append({"Amount": to_money(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        return lines, total

    def expense_lines(self) -> tuple[list[dict[str, Any]], int]:
        rng = self.ctx.rng
        lines, total = [], 0
        for number in range(1, rng.randint(1, 3) + 1):
            amount = rng.randint(20, 2500) * 100 + rng.choice((0, 0, 50, 99, rng.randint(1, 99)))
            total += amount
            account = self.lists.accounts[rng.choice(EXPENSE_ACCOUNTS)]
            lines.append({"Id": str(number), "LineNum": number,
                          "Description": rng.choice(names.EXPENSE_DESCRIPTIONS), "Amount": to_money(amount),
                          "DetailType": "AccountBasedExpenseLineDetail",
                          "AccountBasedExpenseLineDetail": {"AccountRef": ref(account),
                                                            "BillableStatus": "NotBillable",
                                                            "TaxCodeRef": {"value": "NON"}}})
        return lines, total

    # -- invoices -------------------------------------------------------------------------------
    def invoice(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        customer = self.customer_at(created)
        lines, total = self.sales_lines()
        term = rng.choice(self.terms)
        record: dict[str, Any] = {
            "AllowIPNPayment": False, "AllowOnlinePayment": False, "AllowOnlineCreditCardPayment": False,
            "AllowOnlineACHPayment": False, **base_fields(), "CustomField": [dict(f) for f in CREW_FIELD],
            "DocNumber": None, "TxnDate": day.isoformat(), "CurrencyRef": dict(USD), "LinkedTxn": [],
            "Line": lines, "TxnTaxDetail": {"TotalTax": 0}, "CustomerRef": ref(customer, "DisplayName")}
        for key in ("BillAddr", "ShipAddr"):
            if key in customer.record:
                record[key] = dict(customer.record[key])
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
                     extra={"customer": customer, "total": total, "open": total, "payments": [],
                            "paid_until": created})

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
        lag = timedelta(days=rng.choice((0, 1, 3, 7, 14, 21, 30, 30, 45, 60, 75)) + rng.randint(0, 5))
        day = self.ctx.local_day(earliest + lag)
        created = self.ctx.at_business_hours(day)
        if created <= earliest:
            created = self.ctx.after(earliest, at_least=timedelta(minutes=5), within=timedelta(hours=8))
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
                                  "DepositToAccountRef": {"value": self.lists.accounts["Undeposited Funds"].id},
                                  "PaymentMethodRef": {"value": method.id}}
        if method.record["Name"] == "Check":
            record["PaymentRefNum"] = str(rng.randint(1000, 99999))
        record.update({"TotalAmt": to_money(total), "UnappliedAmt": to_money(unapplied), "ProcessPayment": False,
                       **base_fields(), "TxnDate": self.ctx.local_day(created).isoformat(),
                       "CurrencyRef": dict(USD), "Line": []})
        customer.touch(created)
        opens = [(inv, amount, inv.extra["open"]) for inv, amount in applications]
        return Draft("Payment", record, created, created, extra={"customer": customer, "applications": opens,
                                                                 "unapplied": unapplied})

    # -- other transactions ---------------------------------------------------------------------
    def sales_receipt(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        lines, total = self.sales_lines()
        record: dict[str, Any] = {**base_fields(), "CustomField": [dict(f) for f in CREW_FIELD], "DocNumber": None,
                                  "TxnDate": day.isoformat(), "CurrencyRef": dict(USD), "Line": lines,
                                  "TxnTaxDetail": {"TotalTax": 0}}
        if rng.random() < 0.8:
            customer = self.customer_at(created)
            record["CustomerRef"] = ref(customer, "DisplayName")
            record["CustomerMemo"] = {"value": "Thank you for your business and have a great day!"}
            if "BillAddr" in customer.record:
                record["BillAddr"] = dict(customer.record["BillAddr"])
        method = rng.choice(self.methods)
        record.update({"TotalAmt": to_money(total), "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                       "EmailStatus": "NotSet", "Balance": 0, "PaymentMethodRef": ref(method)})
        if method.record["Name"] == "Check":
            record["PaymentRefNum"] = str(rng.randint(1000, 99999))
        record["DepositToAccountRef"] = ref(self.lists.accounts["Undeposited Funds"])
        return Draft("SalesReceipt", record, created, created)

    def bill(self) -> Draft:
        day = self.txn_day()
        created = self.created_for(day)
        vendor = self.vendor_at(created)
        lines, total = self.expense_lines()
        net30 = self.terms[2] if len(self.terms) > 2 else self.terms[0]
        record: dict[str, Any] = {"SalesTermRef": {"value": net30.id},
                                  "DueDate": (day + timedelta(days=30)).isoformat(), "Balance": to_money(total),
                                  **base_fields(), "TxnDate": day.isoformat(), "CurrencyRef": dict(USD),
                                  "LinkedTxn": [], "Line": lines, "VendorRef": ref(vendor, "DisplayName"),
                                  "APAccountRef": ref(self.lists.accounts["Accounts Payable (A/P)"]),
                                  "TotalAmt": to_money(total)}
        vendor.touch(created)
        return Draft("Bill", record, created, created, extra={"vendor": vendor, "open": total})

    def purchase(self) -> Draft:
        rng = self.ctx.rng
        day = self.txn_day()
        created = self.created_for(day)
        vendor = self.vendor_at(created)
        lines, total = self.expense_lines()
        kind = rng.choice(("Check", "Check", "CreditCard", "CreditCard", "CreditCard", "Cash"))
        account = self.lists.accounts["Visa" if kind == "CreditCard" else "Checking"]
        record: dict[str, Any] = {"AccountRef": ref(account), "PaymentType": kind,
                                  "EntityRef": {**ref(vendor, "DisplayName"), "type": "Vendor"}}
        if kind == "CreditCard":
            record["Credit"] = False
        record["TotalAmt"] = to_money(total)
        if kind == "Check":
            record["PrintStatus"] = "NotSet"
        record.update({**base_fields(), "TxnDate": day.isoformat(), "CurrencyRef": dict(USD), "Line": lines})
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


def build_transactions(ctx: GenContext, lists: Lists, counts: Counts) -> Transactions:
    builder = _Builder(ctx, lists)
    rng = ctx.rng
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
    bills = [builder.bill() for _ in range(counts.bills)] if builder.vendors else []
    purchases = [builder.purchase() for _ in range(counts.purchases)] if builder.vendors else []

    everything = invoices + payments + receipts + bills + purchases
    for number, draft in enumerate(sorted(everything, key=lambda d: d.created), 1):
        draft.record["Id"] = str(number)
    for number, draft in enumerate(sorted(invoices + receipts, key=lambda d: d.created), 1001):
        draft.record["DocNumber"] = str(number)
    checks = [p for p in purchases if p.extra["kind"] == "Check"]
    for number, draft in enumerate(sorted(checks, key=lambda d: d.created), 5001):
        draft.record["DocNumber"] = str(number)

    for payment in payments:
        payment.record["Line"] = [
            {"Amount": to_money(amount), "LinkedTxn": [{"TxnId": invoice.id, "TxnType": "Invoice"}],
             "LineEx": _line_ex(invoice, open_before)}
            for invoice, amount, open_before in payment.extra["applications"]]
    for invoice in kept:
        invoice.record["LinkedTxn"] = [{"TxnId": p.id, "TxnType": "Payment"} for p in invoice.extra["payments"]]
        invoice.record["Balance"] = to_money(invoice.extra["open"])

    result = Transactions(by_entity={"Invoice": kept, "Payment": payments, "SalesReceipt": receipts,
                                     "Bill": bills, "Purchase": purchases})
    for draft in doomed:
        when = ctx.after(max(draft.created, ctx.as_of - timedelta(days=25)), within=timedelta(days=25))
        draft.extra["customer"].touch(when)
        result.deleted.append(("Invoice", draft.id, when))
    return result
