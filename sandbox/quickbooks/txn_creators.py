"""Defaults and checks QBO applies to a transaction being created, entity by entity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from .demo_context import USD, insert_after
from .demo_currency import HOME, HOME_BALANCE_ENTITIES, HOME_TOTAL_ENTITIES, home_amount
from .money import to_cents, to_money
from .store import SALES_FORMS, RealmStore
from .txn_effects import ref_value

_SUMMARY_LINES = frozenset({"SubTotalLineDetail"})


def _line_total(body: dict[str, Any]) -> int:
    """What the lines add up to: a discount line subtracts, QBO's SubTotalLine is only a summary."""
    total = 0
    for line in body.get("Line", []):
        kind = line.get("DetailType")
        if kind in _SUMMARY_LINES:
            continue
        cents = to_cents(line.get("Amount", 0))
        total += -cents if kind == "DiscountLineDetail" else cents
    return total


def _number_lines(entity: str, body: dict[str, Any]) -> None:
    """QBO gives every detail line an Id (and LineNum) on create; journal entry lines count from 0."""
    first = 0 if entity == "JournalEntry" else 1
    used = {str(line["Id"]) for line in body["Line"] if "Id" in line}
    number = first
    for line in body["Line"]:
        # Payment and bill payment lines (LinkedTxn only) have no Id in QBO; deposit lines do.
        linked_only = "DetailType" not in line and entity != "Deposit"
        if line.get("DetailType") in _SUMMARY_LINES or linked_only or "Id" in line:
            continue
        while str(number) in used:
            number += 1
        line["Id"] = str(number)
        if entity != "JournalEntry":
            line.setdefault("LineNum", number)
        used.add(str(number))


def _account_ref(store: RealmStore, name: str) -> dict[str, str]:
    account = store.account_named(name)
    if account is None:
        raise ValueError(f"the company has no {name!r} account")
    return {"value": str(account["Id"]), "name": str(account["Name"])}


def _party(store: RealmStore, body: dict[str, Any], key: str, entity: str, *, required: bool) -> dict[str, Any] | None:
    ident = ref_value(body, key)
    party = store.get(entity, ident) if ident else None
    if ident and party is None:
        raise ValueError(f"{key} {ident} does not exist")
    if required and party is None:
        raise ValueError(f"needs an existing {key}")
    if party is not None:
        body[key] = {"value": party["Id"], "name": party["DisplayName"]}
    return party


def _txn_defaults(body: dict[str, Any], today: date, party: dict[str, Any] | None = None) -> None:
    body.setdefault("TxnDate", today.isoformat())
    body.setdefault("CurrencyRef", dict(party.get("CurrencyRef", USD)) if party else dict(USD))
    body.setdefault("Line", [])


def _sales_defaults(store: RealmStore, entity: str, body: dict[str, Any], today: date, *,
                    customer_required: bool) -> None:
    customer = _party(store, body, "CustomerRef", "Customer", required=customer_required)
    _txn_defaults(body, today, customer)
    body.setdefault("DocNumber", store.next_doc_number(("Estimate",) if entity == "Estimate" else SALES_FORMS))
    if not any(line.get("DetailType") == "SubTotalLineDetail" for line in body["Line"]):
        subtotal = sum(to_cents(line.get("Amount", 0)) for line in body["Line"]
                       if line.get("DetailType") == "SalesItemLineDetail")
        body["Line"].append({"Amount": to_money(subtotal), "DetailType": "SubTotalLineDetail",
                             "SubTotalLineDetail": {}})
    body.setdefault("TxnTaxDetail", {"TotalTax": 0})
    body.setdefault("TotalAmt", to_money(_line_total(body)))
    body.setdefault("ApplyTaxAfterDiscount", False)
    body.setdefault("PrintStatus", "NotSet")
    body.setdefault("EmailStatus", "NotSet")


def _create_invoice(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, "Invoice", body, today, customer_required=True)
    body.setdefault("LinkedTxn", [])
    for link in body["LinkedTxn"]:
        if link.get("TxnType") == "Estimate" and store.get("Estimate", str(link.get("TxnId", ""))) is None:
            raise ValueError(f"linked transaction {link} does not exist")
    body.setdefault("DueDate", (date.fromisoformat(body["TxnDate"]) + timedelta(days=30)).isoformat())
    body.setdefault("Balance", body["TotalAmt"])


def _create_sales_receipt(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, "SalesReceipt", body, today, customer_required=False)
    body.setdefault("Balance", 0)


def _create_estimate(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, "Estimate", body, today, customer_required=True)
    body.setdefault("TxnStatus", "Pending")
    body.setdefault("LinkedTxn", [])


def _create_credit_memo(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, "CreditMemo", body, today, customer_required=True)
    body.setdefault("Balance", body["TotalAmt"])
    body.setdefault("RemainingCredit", body["Balance"])


def _create_refund_receipt(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, "RefundReceipt", body, today, customer_required=False)
    body.setdefault("Balance", 0)
    body.setdefault("DepositToAccountRef", _account_ref(store, "Checking"))


def _check_links(store: RealmStore, body: dict[str, Any], allowed: tuple[str, ...]) -> int:
    """Every LinkedTxn must name an existing transaction of an allowed type; returns the lines' total."""
    total = 0
    for line in body["Line"]:
        for link in line.get("LinkedTxn", []):
            kind = str(link.get("TxnType", ""))
            if kind not in allowed or store.get(kind, str(link.get("TxnId", ""))) is None:
                raise ValueError(f"linked transaction {link} does not exist")
        total += to_cents(line.get("Amount", 0))
    return total


def _create_payment(store: RealmStore, body: dict[str, Any], today: date) -> None:
    customer = _party(store, body, "CustomerRef", "Customer", required=True)
    _txn_defaults(body, today, customer)
    applied = _check_links(store, body, ("Invoice",))
    body.setdefault("TotalAmt", to_money(applied))
    body.setdefault("UnappliedAmt", to_money(to_cents(body["TotalAmt"]) - applied))
    body.setdefault("ProcessPayment", False)


def _create_expense(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _txn_defaults(body, today)
    body.setdefault("TotalAmt", to_money(_line_total(body)))


def _create_bill(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _party(store, body, "VendorRef", "Vendor", required=True)
    _create_expense(store, body, today)
    body.setdefault("DueDate", (date.fromisoformat(body["TxnDate"]) + timedelta(days=30)).isoformat())
    body.setdefault("Balance", body["TotalAmt"])
    body.setdefault("LinkedTxn", [])


def _create_vendor_credit(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _party(store, body, "VendorRef", "Vendor", required=True)
    _create_expense(store, body, today)
    body.setdefault("Balance", body["TotalAmt"])
    body.setdefault("LinkedTxn", [])


def _create_bill_payment(store: RealmStore, body: dict[str, Any], today: date) -> None:
    vendor = _party(store, body, "VendorRef", "Vendor", required=True)
    _txn_defaults(body, today, vendor)
    applied = _check_links(store, body, ("Bill",))
    for line in body["Line"]:
        for link in line.get("LinkedTxn", []):
            if to_cents(line.get("Amount", 0)) > to_cents(store.require("Bill", str(link["TxnId"])).get("Balance")):
                raise ValueError(f"the payment is more than bill {link['TxnId']} has open")
    body.setdefault("PayType", "Check")
    if body["PayType"] == "Check":
        body.setdefault("CheckPayment", {"BankAccountRef": _account_ref(store, "Checking"), "PrintStatus": "NotSet"})
    else:
        body.setdefault("CreditCardPayment", {"CCAccountRef": _account_ref(store, "Visa")})
    body.setdefault("TotalAmt", to_money(applied))


def _create_deposit(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _txn_defaults(body, today)
    for line in body["Line"]:
        if not line.get("LinkedTxn") and not (line.get("DepositLineDetail") or {}).get("AccountRef"):
            raise ValueError("a deposit line needs LinkedTxn or DepositLineDetail.AccountRef")
    total = _check_links(store, body, ("Payment", "SalesReceipt"))
    body.setdefault("DepositToAccountRef", _account_ref(store, "Checking"))
    body.setdefault("TotalAmt", to_money(total))


def _create_journal_entry(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _txn_defaults(body, today)
    sides = {"Debit": 0, "Credit": 0}
    for line in body["Line"]:
        posting = (line.get("JournalEntryLineDetail") or {}).get("PostingType")
        if line.get("DetailType") != "JournalEntryLineDetail" or posting not in sides:
            raise ValueError("journal entry lines need JournalEntryLineDetail with PostingType Debit or Credit")
        sides[posting] += to_cents(line.get("Amount", 0))
    if len(body["Line"]) < 2 or sides["Debit"] != sides["Credit"]:
        raise ValueError(f"a journal entry must balance: debits {to_money(sides['Debit'])}, "
                         f"credits {to_money(sides['Credit'])}")
    body.setdefault("Adjustment", False)
    body.setdefault("TotalAmt", to_money(sides["Debit"]))


def _currency_defaults(store: RealmStore, entity: str, body: dict[str, Any]) -> None:
    """The company has multicurrency on: ExchangeRate 1 at home, else the day's rate and home amounts."""
    code = str(body["CurrencyRef"].get("value", HOME))
    if code == HOME:
        if "ExchangeRate" not in body:
            insert_after(body, "CurrencyRef", "ExchangeRate", 1)
        return
    if "ExchangeRate" not in body:
        rate = store.exchange_rate(code, str(body["TxnDate"]))
        if rate is None:
            raise ValueError(f"no exchange rate for {code} on {body['TxnDate']}")
        insert_after(body, "CurrencyRef", "ExchangeRate", rate)
    rate = float(body["ExchangeRate"])
    if entity in HOME_TOTAL_ENTITIES and "TotalAmt" in body and "HomeTotalAmt" not in body:
        insert_after(body, "TotalAmt", "HomeTotalAmt", home_amount(body["TotalAmt"], rate))
    if entity in HOME_BALANCE_ENTITIES and "Balance" in body and "HomeBalance" not in body:
        insert_after(body, "Balance", "HomeBalance", home_amount(body["Balance"], rate))


CREATORS: dict[str, Callable[[RealmStore, dict[str, Any], date], None]] = {
    "Invoice": _create_invoice, "SalesReceipt": _create_sales_receipt, "Payment": _create_payment,
    "Estimate": _create_estimate, "CreditMemo": _create_credit_memo, "RefundReceipt": _create_refund_receipt,
    "Bill": _create_bill, "BillPayment": _create_bill_payment, "VendorCredit": _create_vendor_credit,
    "Purchase": _create_expense, "Deposit": _create_deposit, "JournalEntry": _create_journal_entry}


def transaction_defaults(store: RealmStore, entity: str, body: dict[str, Any], today: date) -> None:
    """Fill what QBO fills for a new transaction, or raise ValueError for what it would refuse."""
    creator = CREATORS.get(entity)
    if creator is None:
        return
    creator(store, body, today)
    _number_lines(entity, body)
    _currency_defaults(store, entity, body)
