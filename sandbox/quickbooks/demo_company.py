"""A deterministic demo QuickBooks company: same seed, byte-identical records."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from . import demo_lists, demo_tax
from .clock import format_timestamp, parse_instant, zone
from .demo_balances import settle_balances
from .demo_context import Draft, GenContext, assign_ids, finalize
from .demo_currency import choose_foreign_customers, exchange_rate_drafts
from .demo_txns import Counts, Transactions, build_transactions

# Generated history ends here, just before the simulator clock's default start, so CDC's
# 30-day window holds real changes. Never the wall clock: two runs must give identical data.
DEFAULT_AS_OF = "2026-11-01T06:00:00-07:00"
DEFAULT_TIMEZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class Tombstone:
    """A hard-deleted transaction, kept so CDC can report it as `status: Deleted`."""

    entity: str
    id: str
    deleted_at: str


@dataclass
class DemoCompany:
    realm_id: str
    timezone: str
    records: dict[str, list[dict[str, Any]]]
    deleted: list[Tombstone] = field(default_factory=list)
    seed: int = 0

    def counts(self) -> dict[str, int]:
        return {entity: len(rows) for entity, rows in self.records.items()}

    def to_json(self) -> str:
        """Canonical serialization, for determinism checks and fixtures."""
        payload = {"realm_id": self.realm_id, "timezone": self.timezone, "records": self.records,
                   "deleted": [vars(t) for t in self.deleted]}
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def generate(
        cls,
        realm_id: str,
        seed: int,
        customers: int = 120,
        invoices: int = 2400,
        payments: int = 1800,
        *,
        vendors: int = 30,
        sales_receipts: int | None = None,
        bills: int | None = None,
        purchases: int | None = None,
        as_of: str = DEFAULT_AS_OF,
        history_days: int = 730,
        timezone: str = DEFAULT_TIMEZONE,
        company_name: str = "Bizmetrics Demo Landscaping",
        estimates: int | None = None,
        credit_memos: int | None = None,
        refund_receipts: int | None = None,
        bill_payments: int | None = None,
        vendor_credits: int | None = None,
        deposits: int | None = None,
        journal_entries: int | None = None,
        foreign_customers: int | None = None,
    ) -> DemoCompany:
        """Build the company; optional counts default to proportions of `invoices` (bill payments and
        vendor credits of `bills`, deposits and journal entries of `history_days`, foreign-currency
        customers of `customers`).

        Bill payments and deposits stop early when nothing is left to pay or deposit. ExchangeRate rows
        follow from the data: per foreign currency, the first of each month and every day a rate was used."""
        if customers < 1 or invoices < 0 or payments < 0 or history_days < 2:
            raise ValueError("need at least one customer and two days of history")
        tz = zone(timezone)
        end = parse_instant(as_of, timezone)
        ctx = GenContext(rng=random.Random(seed), tz=tz, as_of=end,
                         history_start=end - timedelta(days=history_days))
        setup = ctx.local_moment(ctx.local_day(ctx.history_start - timedelta(days=20)), time(9))

        lists = _build_lists(ctx, setup, customers, vendors, company_name)
        choose_foreign_customers(ctx, lists.customers,
                                 (customers // 30 if customers >= 10 else 0) if foreign_customers is None
                                 else foreign_customers)
        bill_count = invoices * 3 // 20 if bills is None else bills
        receipt_count = invoices // 8 if sales_receipts is None else sales_receipts

        def pick(value: int | None, default: int) -> int:
            return default if value is None else value

        counts = Counts(invoices=invoices, payments=payments, sales_receipts=receipt_count, bills=bill_count,
                        purchases=pick(purchases, invoices // 5), estimates=pick(estimates, invoices // 12),
                        credit_memos=pick(credit_memos, invoices // 40),
                        refund_receipts=pick(refund_receipts, invoices // 60),
                        bill_payments=pick(bill_payments, bill_count * 2 // 3),
                        vendor_credits=pick(vendor_credits, bill_count // 12),
                        # About weekly, and never more than a deposit per four receipts.
                        deposits=pick(deposits, min(history_days // 7, (payments + receipt_count) // 4)),
                        journal_entries=pick(journal_entries, history_days // 12))
        txns = build_transactions(ctx, lists, counts)
        settle_balances(lists, txns.by_entity)
        _retire_idle_customers(ctx, lists.customers)
        _refresh_reference_names(lists, txns)

        drafts: dict[str, list[Draft]] = {
            "Account": list(lists.accounts.values()), "Item": lists.items, "Term": lists.terms,
            "PaymentMethod": lists.payment_methods, "TaxCode": lists.others.pop("TaxCode"),
            "TaxRate": lists.others.pop("TaxRate"), "Customer": lists.customers, "Vendor": lists.vendors,
            **lists.others, **txns.by_entity, "ExchangeRate": exchange_rate_drafts(ctx, txns.rates)}
        records: dict[str, list[dict[str, Any]]] = {}
        for entity, rows in drafts.items():
            finalize(ctx, rows)
            records[entity] = [d.record for d in sorted(rows, key=_storage_order)]
        deleted = [Tombstone(entity, ident, format_timestamp(when, tz)) for entity, ident, when in txns.deleted]
        return cls(realm_id=realm_id, timezone=timezone, records=records, deleted=deleted, seed=seed)


def _storage_order(draft: Draft) -> tuple[int, int, str]:
    # Numeric Ids in numeric order; then TAX/NON; exchange rates (no Id) by date and currency.
    ident = draft.record.get("Id")
    if ident is None:
        return 2, 0, f"{draft.record.get('AsOfDate')}:{draft.record.get('SourceCurrencyCode')}"
    return (0, int(ident), "") if str(ident).isdigit() else (1, 0, str(ident))


def _build_lists(ctx: GenContext, setup: datetime, customers: int, vendors: int,
                 company_name: str) -> demo_lists.Lists:
    used_names: set[str] = set()
    accounts = demo_lists.build_accounts(ctx, setup)
    assign_ids(list(accounts.values()))
    items = demo_lists.build_items(ctx, setup, accounts)
    assign_ids(items)
    simple = demo_lists.build_simple_lists(ctx, setup)
    for rows in simple.values():
        assign_ids(rows)
    employees = demo_lists.build_employees(ctx, setup, used_names)
    customer_drafts = demo_lists.build_customers(ctx, customers, setup, used_names)
    vendor_drafts = demo_lists.build_vendors(ctx, vendors, setup, used_names, simple["Term"])
    # Customers, vendors and employees draw from one Id counter in QBO.
    assign_ids(employees + customer_drafts + vendor_drafts)
    demo_lists.link_jobs(customer_drafts)
    tax_rates = demo_tax.build_tax_rates(ctx, setup)
    others = {"Employee": employees, "Class": simple["Class"], "Department": simple["Department"],
              "TaxRate": tax_rates, "TaxCode": demo_tax.build_tax_codes(ctx, setup, tax_rates),
              **demo_lists.build_company(ctx, setup, company_name)}
    return demo_lists.Lists(accounts=accounts, items=items, terms=simple["Term"],
                            payment_methods=simple["PaymentMethod"], customers=customer_drafts,
                            vendors=vendor_drafts, others=others)


def _retire_idle_customers(ctx: GenContext, customers: list[Draft]) -> None:
    """Make ~8% of customers inactive: only settled ones with no jobs, as QBO expects."""
    parents = {id(c.extra["parent"]) for c in customers if c.extra.get("parent") is not None}
    idle = [c for c in customers
            if c.record["Balance"] == 0 and id(c) not in parents and not c.record["Job"]
            and c.updated < ctx.as_of - timedelta(days=10)]
    for customer in ctx.rng.sample(idle, min(len(idle), round(len(customers) * 0.08))):
        demo_lists.deactivate(ctx, customer, after=customer.updated)


def _refresh_reference_names(lists: demo_lists.Lists, txns: Transactions) -> None:
    # References carry the current name, so retired customers show "(deleted)" in their invoices too.
    current = {c.id: str(c.record["DisplayName"]) for c in lists.customers}
    for entity in ("Invoice", "Payment", "SalesReceipt", "Estimate", "CreditMemo", "RefundReceipt"):
        for draft in txns.by_entity[entity]:
            customer_ref = draft.record.get("CustomerRef")
            if customer_ref is not None:
                customer_ref["name"] = current[customer_ref["value"]]
