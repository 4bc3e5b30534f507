"""Bill payments and vendor credits of the demo company."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .demo_base import TxnBase
from .demo_context import Draft, base_fields
from .demo_lists import ref
from .money import to_money

# The TxnType a bill lists its payment under, as QBO writes it (recorded bills show BillPaymentCheck).
BILL_LINK_TYPE = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}
_CREDIT_NOTES = ("Returned materials", "Overbilled last month", "Damaged shipment", "Volume rebate")


def plan_bill_payments(builder: TxnBase, bills: list[Draft], count: int) -> list[Draft]:
    """Pay the oldest open bills first: most in full, some in part, a few two bills of one vendor at once.

    Stops early when no open bill is left, so `count` is an upper bound."""
    rng = builder.ctx.rng
    cutoff = builder.ctx.as_of - timedelta(days=1)
    pool = sorted((b for b in bills if b.created < cutoff), key=lambda d: (d.record["TxnDate"], d.created))
    payments = []
    for _ in range(count):
        if not pool:
            break
        roll = rng.random()
        first = pool[int(len(pool) * (rng.random() ** 1.5))]
        targets = [first]
        if roll < 0.12:
            other = next((b for b in pool if b is not first and b.extra["vendor"] is first.extra["vendor"]), None)
            if other is not None:
                targets.append(other)
        partial = 0.12 <= roll < 0.2
        applications = []
        for bill in targets:
            amount = bill.extra["open"]
            if partial and amount > 100:
                amount = max(1, min(amount - 1, round(amount * rng.uniform(0.3, 0.7))))
            applications.append((bill, amount))
        payment = _bill_payment(builder, applications)
        payments.append(payment)
        for bill, amount in applications:
            bill.extra["open"] -= amount
            bill.extra["payments"].append(payment)
            bill.extra["paid_until"] = payment.created
            # Paying a bill bumps its SyncToken, as the recorded paid bills show.
            bill.edit(payment.created)
            if bill.extra["open"] == 0:
                pool.remove(bill)
    return payments


def _bill_payment(builder: TxnBase, applications: list[tuple[Draft, int]]) -> Draft:
    rng = builder.ctx.rng
    earliest = max(bill.extra["paid_until"] for bill, _ in applications)
    created = builder.later(earliest, rng.choice((3, 7, 14, 21, 28, 30, 35, 45)) + rng.randint(0, 3))
    vendor: Draft = applications[0][0].extra["vendor"]
    kind = "Check" if rng.random() < 0.65 else "CreditCard"
    total = sum(amount for _, amount in applications)
    record: dict[str, Any] = {"VendorRef": ref(vendor, "DisplayName"), "PayType": kind}
    if kind == "Check":
        record["CheckPayment"] = {"BankAccountRef": ref(builder.accounts["Checking"]), "PrintStatus": "NotSet"}
    else:
        record["CreditCardPayment"] = {"CCAccountRef": ref(builder.accounts["Visa"])}
    record.update({"TotalAmt": to_money(total), **base_fields()})
    if kind == "Check":
        record["DocNumber"] = None
    record.update({"TxnDate": builder.ctx.local_day(created).isoformat(), "CurrencyRef": builder.currency_ref(None),
                   "Line": []})
    vendor.touch(created)
    return Draft("BillPayment", record, created, created,
                 extra={"vendor": vendor, "applications": applications, "total": total, "kind": kind})


def link_bill_payments(bills: list[Draft], payments: list[Draft]) -> None:
    """Both directions, once Ids exist: payment lines name their bills, bills list their payments."""
    for payment in payments:
        payment.record["Line"] = [{"Amount": to_money(amount), "LinkedTxn": [{"TxnId": bill.id, "TxnType": "Bill"}]}
                                  for bill, amount in payment.extra["applications"]]
    for bill in bills:
        bill.record["LinkedTxn"] = [{"TxnId": p.id, "TxnType": BILL_LINK_TYPE[p.extra["kind"]]}
                                    for p in bill.extra["payments"]]
        bill.record["Balance"] = to_money(bill.extra["open"])


def build_vendor_credits(builder: TxnBase, count: int) -> list[Draft]:
    """Credits from vendors, left open on the vendor's account (they lower what the company owes)."""
    rng = builder.ctx.rng
    drafts = []
    for _ in range(count):
        day = builder.txn_day()
        created = builder.created_for(day)
        vendor = builder.vendor_at(created)
        lines, total = builder.expense_lines(item_chance=0.3, max_dollars=400, max_lines=2)
        record: dict[str, Any] = {"VendorRef": ref(vendor, "DisplayName"),
                                  "APAccountRef": ref(builder.accounts["Accounts Payable (A/P)"]),
                                  "TotalAmt": to_money(total), **base_fields()}
        if rng.random() < 0.5:
            record["DocNumber"] = f"CR-{rng.randint(100, 9999)}"
        record.update({"TxnDate": day.isoformat(), "CurrencyRef": builder.currency_ref(None)})
        if rng.random() < 0.6:
            record["PrivateNote"] = rng.choice(_CREDIT_NOTES)
        record.update({"LinkedTxn": [], "Line": lines, "Balance": to_money(total)})
        vendor.touch(created)
        drafts.append(Draft("VendorCredit", record, created, created,
                            extra={"vendor": vendor, "total": total, "open": total}))
    return drafts
