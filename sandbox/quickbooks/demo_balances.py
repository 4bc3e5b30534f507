"""Balances that follow from the generated transactions: customers', vendors' and the balance-sheet accounts'.

Customer and vendor balances are exact, in their own currency. Account balances are in USD and convert
foreign amounts at each transaction's own rate; QBO would keep one A/R account per currency and revalue
it, which the demo company does not model.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .demo_context import Draft
from .demo_lists import Lists
from .money import to_money

OPENING_CHECKING = 25_000_000  # cents in the bank when the history starts


def _home(draft: Draft, cents: int) -> int:
    return round(cents * float(draft.record.get("ExchangeRate", 1)))


def settle_balances(lists: Lists, by_entity: dict[str, list[Draft]]) -> None:
    owed: dict[int, int] = defaultdict(int)
    for invoice in by_entity["Invoice"]:
        owed[id(invoice.extra["customer"])] += invoice.extra["open"]
    for payment in by_entity["Payment"]:
        owed[id(payment.extra["customer"])] -= payment.extra["unapplied"]
    for memo in by_entity["CreditMemo"]:
        owed[id(memo.extra["customer"])] -= memo.extra["open"]
    with_jobs = dict(owed)
    for customer in lists.customers:
        customer.record["Balance"] = to_money(owed[id(customer)])
        parent = customer.extra.get("parent")
        if parent is not None:
            with_jobs[id(parent)] = with_jobs.get(id(parent), 0) + owed[id(customer)]
    for customer in lists.customers:
        customer.record["BalanceWithJobs"] = to_money(with_jobs.get(id(customer), 0))

    vendor_owed: dict[int, int] = defaultdict(int)
    for bill in by_entity["Bill"]:
        vendor_owed[id(bill.extra["vendor"])] += bill.extra["open"]
    for credit in by_entity["VendorCredit"]:
        vendor_owed[id(credit.extra["vendor"])] -= credit.extra["open"]
    for vendor in lists.vendors:
        vendor.record["Balance"] = to_money(vendor_owed[id(vendor)])

    for name, cents in account_balances(lists, by_entity).items():
        lists.accounts[name].record["CurrentBalance"] = to_money(cents)
        lists.accounts[name].record["CurrentBalanceWithSubAccounts"] = to_money(cents)


def account_balances(lists: Lists, by_entity: dict[str, list[Draft]]) -> dict[str, int]:
    """USD cents per balance-sheet account (assets and expenses debit-positive, the rest credit-positive)."""
    names = {id(draft): name for name, draft in lists.accounts.items()}
    balances: dict[str, int] = defaultdict(int)
    balances["Checking"] = OPENING_CHECKING
    balances["Accounts Receivable (A/R)"] = (
        sum(_home(i, i.extra["open"]) for i in by_entity["Invoice"])
        - sum(_home(p, p.extra["unapplied"]) for p in by_entity["Payment"])
        - sum(_home(m, m.extra["open"]) for m in by_entity["CreditMemo"]))
    balances["Accounts Payable (A/P)"] = (sum(b.extra["open"] for b in by_entity["Bill"])
                                          - sum(c.extra["open"] for c in by_entity["VendorCredit"]))
    received = by_entity["Payment"] + by_entity["SalesReceipt"]
    balances["Undeposited Funds"] = sum(_home(d, d.extra["total"]) for d in received if "deposit" not in d.extra)
    for deposit in by_entity["Deposit"]:
        balances["Checking"] += deposit.extra["total"]
        for _, cents, account in deposit.extra["others"]:
            _post(balances, names[id(account)], account, cents, "Credit")
    for purchase in by_entity["Purchase"]:
        balances["Visa" if purchase.extra["kind"] == "CreditCard" else "Checking"] += \
            purchase.extra["total"] * (1 if purchase.extra["kind"] == "CreditCard" else -1)
    for payment in by_entity["BillPayment"]:
        if payment.extra["kind"] == "CreditCard":
            balances["Visa"] += payment.extra["total"]
        else:
            balances["Checking"] -= payment.extra["total"]
    for refund in by_entity["RefundReceipt"]:
        balances["Checking"] -= refund.extra["total"]
    for entry in by_entity["JournalEntry"]:
        for account, cents, posting in entry.extra["postings"]:
            _post(balances, names[id(account)], account, cents, posting)
    return {name: cents for name, cents in balances.items()
            if lists.accounts[name].record["Classification"] in ("Asset", "Liability", "Equity")}


def _post(balances: dict[str, int], name: str, account: Draft, cents: int, posting: str) -> None:
    record: dict[str, Any] = account.record
    debit_positive = record["Classification"] in ("Asset", "Expense")
    balances[name] += cents if (posting == "Debit") == debit_positive else -cents
