"""A DemoCompany with years of seasonal, growing activity, sized by one number.

The company's lists (accounts, items, terms, customers, vendors, company info) come from the simulator's
own DemoCompany.generate; the transactions are drawn here: invoices with their payments (some partial,
some late, a few never), sales receipts, credit memos, refunds, bills with their payments, purchases
(card credits among them), voids and hard deletes. Every draw comes from one seeded RNG.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sandbox.quickbooks.clock import format_timestamp, parse_instant, zone
from sandbox.quickbooks.datagen.seasons import DaySampler
from sandbox.quickbooks.demo_company import DEFAULT_AS_OF, DEFAULT_TIMEZONE, DemoCompany, Tombstone
from sandbox.quickbooks.mutations import apply_void

HOME = "USD"
FX_BASE = {"EUR": 1.08, "CAD": 0.73, "GBP": 1.27}
NAMES = {"USD": "United States Dollar", "EUR": "Euro", "CAD": "Canadian Dollar", "GBP": "British Pound Sterling"}
# Share of `records` per entity; payments follow from the invoices (about 0.9 per invoice).
SHARES = {"invoices": 0.40, "sales_receipts": 0.10, "credit_memos": 0.02, "refund_receipts": 0.01,
          "bills": 0.08, "purchases": 0.08}


@dataclass(frozen=True)
class Sizes:
    invoices: int
    sales_receipts: int
    credit_memos: int
    refund_receipts: int
    bills: int
    purchases: int
    customers: int
    vendors: int

    @classmethod
    def for_records(cls, records: int) -> Sizes:
        """About `records` transactions in all (payments and bill payments included)."""
        counts = {name: max(1, round(records * share)) for name, share in SHARES.items()}
        return cls(**counts, customers=max(12, min(20_000, records // 25)), vendors=max(6, min(2_000, records // 250)))


@dataclass
class _Draft:
    entity: str
    record: dict[str, Any]
    created: datetime
    updated: datetime
    sync: int = 0
    links: list[tuple[_Draft, str]] = field(default_factory=list)  # (target, TxnType) for Line LinkedTxn

    def edit(self, moment: datetime) -> None:
        self.sync += 1
        self.updated = max(self.updated, moment)


def _money(cents: int) -> int | float:
    return 0 if cents == 0 else cents / 100


def _ref(record: dict[str, Any], name_key: str = "DisplayName") -> dict[str, str]:
    return {"value": str(record["Id"]), "name": str(record.get(name_key) or record.get("Name"))}


class _Builder:
    def __init__(self, base: DemoCompany, rng: random.Random, as_of: datetime, years: int) -> None:
        self.rng = rng
        self.tz = zone(base.timezone)
        self.as_of = as_of.astimezone(UTC)
        last = self.as_of.astimezone(self.tz).date() - timedelta(days=1)
        self.first = last - timedelta(days=round(365.25 * years))
        self.sampler = DaySampler(self.first, last)
        records = base.records
        self.customers = sorted((c for c in records["Customer"] if c.get("Active", True)),
                                key=lambda c: c["MetaData"]["CreateTime"])
        self._customer_days = [self._local_date(c["MetaData"]["CreateTime"]) for c in self.customers]
        self.vendors = [v for v in records["Vendor"] if v.get("Active", True)]
        self.items = [i for i in records["Item"] if i.get("Active", True) and i.get("UnitPrice")]
        self.terms = [t for t in records["Term"] if t.get("Active", True)]
        self.methods = [m for m in records["PaymentMethod"] if m.get("Active", True)]
        accounts = {a["Name"]: a for a in records["Account"]}
        self.accounts = accounts
        self.expense_accounts = [a for a in records["Account"] if a.get("AccountType") == "Expense"
                                 and a.get("Active", True)]
        self.drafts: list[_Draft] = []

    # -- time ---------------------------------------------------------------------------------------
    def _local_date(self, text: str) -> date:
        return parse_instant(text).astimezone(self.tz).date()

    def moment(self, day: date) -> datetime:
        """A working-hours moment of the local day, never at or after as_of."""
        seconds = self.rng.randint(7 * 3600 + 1800, 18 * 3600)
        local = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), tzinfo=self.tz)
        return min(local.astimezone(UTC), self.as_of - timedelta(minutes=1 + self.rng.randint(0, 600)))

    def entered(self, day: date) -> datetime:
        # One in ten is entered a few days after its business date (a backdated transaction).
        lag = self.rng.randint(1, 10) if self.rng.random() < 0.1 else 0
        return self.moment(day + timedelta(days=lag))

    def fx(self, code: str | None, day: date) -> float:
        if code in (None, HOME):
            return 1.0
        t = (day - self.first).days
        return round(FX_BASE[code] * (1 + 0.04 * math.sin(t / 58.1) + 0.01 * math.sin(t / 7.3)), 6)

    # -- parties ------------------------------------------------------------------------------------
    def customer_on(self, day: date) -> dict[str, Any]:
        known = max(1, bisect.bisect_right(self._customer_days, day))
        return self.customers[int(known * self.rng.random() ** 1.3)]

    @staticmethod
    def currency(customer: dict[str, Any] | None) -> str:
        return str(((customer or {}).get("CurrencyRef") or {}).get("value") or HOME)

    def _currency_fields(self, record: dict[str, Any], code: str, day: date, total: int) -> None:
        rate = self.fx(code, day)
        record.update({"CurrencyRef": {"value": code, "name": NAMES[code]}, "ExchangeRate": rate,
                       "TotalAmt": _money(total)})
        if code != HOME:
            record["HomeTotalAmt"] = _money(round(total * rate))

    # -- lines --------------------------------------------------------------------------------------
    def sales_lines(self, max_items: int = 3) -> tuple[list[dict[str, Any]], int]:
        lines, total = [], 0
        for number, item in enumerate(self.rng.sample(self.items, self.rng.randint(1, min(max_items, len(self.items)))),
                                      start=1):
            price = round(float(item["UnitPrice"]) * 100)
            qty = self.rng.randint(1, 16)
            amount = price * qty
            total += amount
            lines.append({"Id": str(number), "LineNum": number, "Description": item.get("Description", item["Name"]),
                          "Amount": _money(amount), "DetailType": "SalesItemLineDetail",
                          "SalesItemLineDetail": {"ItemRef": _ref(item, "Name"), "UnitPrice": price / 100,
                                                  "Qty": qty, "TaxCodeRef": {"value": "NON"}}})
        lines.append({"Amount": _money(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        return lines, total

    def expense_lines(self) -> tuple[list[dict[str, Any]], int]:
        lines, total = [], 0
        for number in range(1, self.rng.randint(1, 3) + 1):
            amount = self.rng.randint(15, 1800) * 100 + self.rng.choice((0, 0, 50, 99))
            account = self.rng.choice(self.expense_accounts)
            total += amount
            lines.append({"Id": str(number), "LineNum": number, "Description": "Supplies and services",
                          "Amount": _money(amount), "DetailType": "AccountBasedExpenseLineDetail",
                          "AccountBasedExpenseLineDetail": {"AccountRef": _ref(account, "Name"),
                                                            "BillableStatus": "NotBillable",
                                                            "TaxCodeRef": {"value": "NON"}}})
        return lines, total

    def add(self, entity: str, record: dict[str, Any], created: datetime) -> _Draft:
        draft = _Draft(entity, {"domain": "QBO", "sparse": False, **record}, created, created)
        self.drafts.append(draft)
        return draft

    # -- transactions -------------------------------------------------------------------------------
    def invoice(self) -> _Draft:
        day = self.sampler.draw(self.rng)
        customer = self.customer_on(day)
        lines, total = self.sales_lines()
        term = self.rng.choice(self.terms)
        record: dict[str, Any] = {"TxnDate": day.isoformat(), "Line": lines, "CustomerRef": _ref(customer),
                                  "SalesTermRef": {"value": str(term["Id"])},
                                  "DueDate": (day + timedelta(days=int(term["DueDays"]))).isoformat(),
                                  "Balance": _money(total), "LinkedTxn": []}
        self._currency_fields(record, self.currency(customer), day, total)
        record["_open"] = total
        return self.add("Invoice", record, self.entered(day))

    def pay(self, invoice: _Draft) -> None:
        """Most invoices get paid, a tenth of them in two parts, some late, some never."""
        record = invoice.record
        due = date.fromisoformat(record["DueDate"])
        roll = self.rng.random()
        if roll < 0.08:
            return
        parts = 2 if roll < 0.2 else 1
        day = date.fromisoformat(record["TxnDate"])
        for part in range(parts):
            lag = self.rng.choice((0, 2, 7, 14, 21, 28, 35, 45, 60, 90))
            day = max(day, due - timedelta(days=10)) + timedelta(days=lag + self.rng.randint(0, 4))
            if day >= self.as_of.astimezone(self.tz).date():
                return
            amount = record["_open"] if part == parts - 1 else max(1, record["_open"] // 2)
            self.payment(record["CustomerRef"], self.currency_of(record), day, amount, invoice)
            record["_open"] -= amount

    @staticmethod
    def currency_of(record: dict[str, Any]) -> str:
        return str(record["CurrencyRef"]["value"])

    def payment(self, customer_ref: dict[str, str], code: str, day: date, amount: int,
                invoice: _Draft | None) -> None:
        created = max(self.moment(day), invoice.created + timedelta(minutes=5)) if invoice else self.moment(day)
        created = min(created, self.as_of - timedelta(seconds=30))
        method = self.rng.choice(self.methods)
        record: dict[str, Any] = {"CustomerRef": dict(customer_ref),
                                  "DepositToAccountRef": {"value": str(self.accounts["Undeposited Funds"]["Id"])},
                                  "PaymentMethodRef": {"value": str(method["Id"])}, "TxnDate": day.isoformat(),
                                  "UnappliedAmt": 0 if invoice else _money(amount), "ProcessPayment": False,
                                  "Line": []}
        self._currency_fields(record, code, day, amount)
        record.pop("HomeTotalAmt", None)  # Finance.xsd declares no HomeTotalAmt on Payment
        payment = self.add("Payment", record, created)
        if invoice is not None:
            payment.links = [(invoice, "Invoice")]
            payment.record["_applied"] = [amount]
            invoice.links.append((payment, "Payment"))
            invoice.record["Balance"] = _money(invoice.record["_open"] - amount)
            invoice.edit(created)

    def sales_receipt(self) -> None:
        day = self.sampler.draw(self.rng)
        customer = self.customer_on(day) if self.rng.random() < 0.8 else None
        lines, total = self.sales_lines()
        record: dict[str, Any] = {"TxnDate": day.isoformat(), "Line": lines, "Balance": 0,
                                  "PaymentMethodRef": {"value": str(self.rng.choice(self.methods)["Id"])},
                                  "DepositToAccountRef": {"value": str(self.accounts["Undeposited Funds"]["Id"])}}
        if customer is not None:
            record["CustomerRef"] = _ref(customer)
        self._currency_fields(record, self.currency(customer), day, total)
        self.add("SalesReceipt", record, self.entered(day))

    def credit_memo(self) -> None:
        day = self.sampler.draw(self.rng)
        customer = self.customer_on(day)
        amount = self.rng.randint(20, 400) * 100
        record: dict[str, Any] = {"TxnDate": day.isoformat(), "CustomerRef": _ref(customer),
                                  "Line": [{"Id": "1", "LineNum": 1, "Description": "Credit for service issue",
                                            "Amount": _money(amount), "DetailType": "SalesItemLineDetail",
                                            "SalesItemLineDetail": {"ItemRef": _ref(self.items[0], "Name"),
                                                                    "TaxCodeRef": {"value": "NON"}}}],
                                  "Balance": _money(amount), "RemainingCredit": _money(amount)}
        self._currency_fields(record, self.currency(customer), day, amount)
        self.add("CreditMemo", record, self.entered(day))

    def refund_receipt(self) -> None:
        day = self.sampler.draw(self.rng)
        customer = self.customer_on(day)
        amount = self.rng.randint(10, 250) * 100
        record: dict[str, Any] = {"TxnDate": day.isoformat(), "CustomerRef": _ref(customer),
                                  "DepositToAccountRef": {"value": str(self.accounts["Checking"]["Id"])},
                                  "Line": [{"Id": "1", "LineNum": 1, "Description": "Refund",
                                            "Amount": _money(amount), "DetailType": "SalesItemLineDetail",
                                            "SalesItemLineDetail": {"ItemRef": _ref(self.items[0], "Name"),
                                                                    "TaxCodeRef": {"value": "NON"}}}]}
        self._currency_fields(record, self.currency(customer), day, amount)
        self.add("RefundReceipt", record, self.entered(day))

    def bill(self) -> None:
        day = self.sampler.draw(self.rng)
        vendor = self.rng.choice(self.vendors)
        lines, total = self.expense_lines()
        record: dict[str, Any] = {"TxnDate": day.isoformat(), "VendorRef": _ref(vendor), "Line": lines,
                                  "DueDate": (day + timedelta(days=30)).isoformat(), "Balance": _money(total),
                                  "APAccountRef": _ref(self.accounts["Accounts Payable (A/P)"], "Name"),
                                  "LinkedTxn": []}
        self._currency_fields(record, HOME, day, total)
        bill = self.add("Bill", record, self.entered(day))
        paid_on = day + timedelta(days=self.rng.randint(5, 40))
        if self.rng.random() < 0.85 and paid_on < self.as_of.astimezone(self.tz).date():
            kind = "Check" if self.rng.random() < 0.7 else "CreditCard"
            created = min(max(self.moment(paid_on), bill.created + timedelta(minutes=5)),
                          self.as_of - timedelta(seconds=30))
            payment: dict[str, Any] = {"VendorRef": dict(record["VendorRef"]), "PayType": kind,
                                       "TxnDate": paid_on.isoformat(),
                                       "Line": [{"Amount": _money(total), "LinkedTxn": []}]}
            self._currency_fields(payment, HOME, paid_on, total)
            paying = self.add("BillPayment", payment, created)
            paying.links = [(bill, "Bill")]
            bill.links.append((paying, "BillPayment"))
            record["Balance"] = 0
            bill.edit(created)

    def purchase(self) -> None:
        day = self.sampler.draw(self.rng)
        vendor = self.rng.choice(self.vendors)
        lines, total = self.expense_lines()
        kind = self.rng.choice(("Cash", "Check", "Check", "CreditCard", "CreditCard", "CreditCard"))
        record: dict[str, Any] = {"AccountRef": _ref(self.accounts["Visa" if kind == "CreditCard" else "Checking"],
                                                     "Name"),
                                  "PaymentType": kind, "EntityRef": {**_ref(vendor), "type": "Vendor"},
                                  "TxnDate": day.isoformat(), "Line": lines}
        if kind == "CreditCard":
            record["Credit"] = self.rng.random() < 0.04  # a refund to the card
        self._currency_fields(record, HOME, day, total)
        self.add("Purchase", record, self.entered(day))


def _void_and_delete(builder: _Builder, invoices: list[_Draft]) -> list[_Draft]:
    """Void 1% of the unpaid invoices; hard-delete up to three recent ones (returned, kept for CDC)."""
    unpaid = [d for d in invoices if not d.links]
    for draft in builder.rng.sample(unpaid, len(invoices) // 100):
        apply_void(draft.record)
        draft.record["_open"] = 0
        draft.edit(min(draft.created + timedelta(hours=builder.rng.randint(1, 200)),
                       builder.as_of - timedelta(seconds=20)))
    recent = [d for d in unpaid if d.created > builder.as_of - timedelta(days=25) and d.sync == 0]
    doomed = builder.rng.sample(recent, min(3, len(recent)))
    for draft in doomed:
        builder.drafts.remove(draft)
        draft.record["_deleted_at"] = min(draft.created + timedelta(days=2), builder.as_of - timedelta(seconds=10))
    return doomed


def _finish(builder: _Builder, start_id: int, doomed: list[_Draft]) -> tuple[dict[str, list[dict[str, Any]]],
                                                                             list[Tombstone]]:
    everything = sorted(builder.drafts + doomed, key=lambda d: d.created)
    for number, draft in enumerate(everything, start=start_id):
        draft.record["Id"] = str(number)
    numbers = {"sales": 1001}
    out: dict[str, list[dict[str, Any]]] = {}
    for draft in everything:
        record = draft.record
        if draft.entity in ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt"):
            record["DocNumber"] = str(numbers["sales"])
            numbers["sales"] += 1
        applied = record.pop("_applied", None)
        if draft.entity in ("Invoice", "Bill"):
            record["LinkedTxn"] = [{"TxnId": t.record["Id"], "TxnType": kind} for t, kind in draft.links]
        elif draft.links:
            record["Line"] = [{"Amount": _money(amount if applied else round(record["TotalAmt"] * 100)),
                               "LinkedTxn": [{"TxnId": t.record["Id"], "TxnType": kind}]}
                              for (t, kind), amount in zip(draft.links, applied or [0], strict=True)]
        record.pop("_open", None)
        record["SyncToken"] = str(draft.sync)
        record["MetaData"] = {"CreateTime": format_timestamp(draft.created, builder.tz),
                              "LastUpdatedTime": format_timestamp(draft.updated, builder.tz)}
        if "_deleted_at" not in record:
            out.setdefault(draft.entity, []).append(record)
    tombstones = [Tombstone(d.entity, d.record["Id"], format_timestamp(d.record["_deleted_at"], builder.tz))
                  for d in doomed]
    return out, tombstones


def generate_company(realm_id: str, seed: int, records: int = 2_000, *, years: int = 3,
                     as_of: str = DEFAULT_AS_OF, timezone: str = DEFAULT_TIMEZONE,
                     fiscal_start_month: str | None = None) -> DemoCompany:
    """A company with about `records` transactions over `years` years before `as_of`, deterministic by seed."""
    if records < 10 or years < 1:
        raise ValueError("ask for at least 10 records and one year")
    sizes = Sizes.for_records(records)
    history_days = round(365.25 * years) + 30
    base = DemoCompany.generate(realm_id=realm_id, seed=seed, customers=sizes.customers, invoices=0, payments=0,
                                vendors=sizes.vendors, sales_receipts=0, bills=0, purchases=0, as_of=as_of,
                                history_days=history_days, timezone=timezone)
    builder = _Builder(base, random.Random(f"datagen-{seed}"), parse_instant(as_of, timezone), years)
    invoices = [builder.invoice() for _ in range(sizes.invoices)]
    doomed = _void_and_delete(builder, invoices)
    gone = {id(d) for d in doomed}
    for invoice in invoices:
        if id(invoice) not in gone and invoice.sync == 0:
            builder.pay(invoice)
    for _ in range(max(1, sizes.invoices // 50)):  # money on account, applied to nothing yet
        day = builder.sampler.draw(builder.rng)
        customer = builder.customer_on(day)
        builder.payment(_ref(customer), builder.currency(customer), day, builder.rng.randint(50, 500) * 100, None)
    for make, count in ((builder.sales_receipt, sizes.sales_receipts), (builder.credit_memo, sizes.credit_memos),
                        (builder.refund_receipt, sizes.refund_receipts), (builder.bill, sizes.bills),
                        (builder.purchase, sizes.purchases)):
        for _ in range(count):
            make()
    start_id = 1 + max(int(r["Id"]) for rows in base.records.values() for r in rows if str(r.get("Id", "")).isdigit())
    made, tombstones = _finish(builder, start_id, doomed)
    records_out = {entity: list(rows) for entity, rows in base.records.items()}
    for entity, rows in made.items():
        records_out[entity] = records_out.get(entity, []) + rows
    if fiscal_start_month:
        for info in records_out["CompanyInfo"]:
            info["FiscalYearStartMonth"] = fiscal_start_month
    return DemoCompany(realm_id=realm_id, timezone=timezone, records=records_out,
                       deleted=[*base.deleted, *tombstones], seed=seed)
