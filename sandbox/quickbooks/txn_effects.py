"""Side effects QBO applies around a transaction: balances that move and links kept in both directions."""

from __future__ import annotations

from typing import Any

from .money import to_cents, to_money
from .store import RealmStore

# How a bill lists a payment of it, by the payment's PayType (recorded bills show BillPaymentCheck).
BILL_LINK_TYPE = {"Check": "BillPaymentCheck", "CreditCard": "BillPaymentCreditCard"}


def ref_value(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value.get("value") if isinstance(value, dict) else None


def bump(record: dict[str, Any], stamp: str) -> None:
    if "SyncToken" in record:
        record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)
    record.setdefault("MetaData", {})["LastUpdatedTime"] = stamp


def add_cents(record: dict[str, Any], key: str, delta: int) -> None:
    record[key] = to_money(to_cents(record.get(key, 0)) + delta)


def move_balance(record: dict[str, Any], delta: int) -> None:
    """Move a transaction's open Balance, keeping HomeBalance and a credit memo's RemainingCredit in step."""
    add_cents(record, "Balance", delta)
    if "RemainingCredit" in record:
        record["RemainingCredit"] = record["Balance"]
    if "HomeBalance" in record:
        rate = float(record.get("ExchangeRate", 1))
        record["HomeBalance"] = to_money(round(to_cents(record["Balance"]) * rate))


def move_customer_balance(store: RealmStore, customer_id: str | None, delta: int, stamp: str) -> None:
    # QBO moves the balance and LastUpdatedTime of the customer but leaves its SyncToken alone.
    customer = store.get("Customer", customer_id) if customer_id else None
    if customer is None or delta == 0:
        return
    add_cents(customer, "Balance", delta)
    add_cents(customer, "BalanceWithJobs", delta)
    customer["MetaData"]["LastUpdatedTime"] = stamp
    parent = store.get("Customer", customer.get("ParentRef", {}).get("value", "")) if customer.get("Job") else None
    if parent is not None:
        add_cents(parent, "BalanceWithJobs", delta)
        parent["MetaData"]["LastUpdatedTime"] = stamp


def move_vendor_balance(store: RealmStore, vendor_id: str | None, delta: int, stamp: str) -> None:
    vendor = store.get("Vendor", vendor_id) if vendor_id else None
    if vendor is not None and delta:
        add_cents(vendor, "Balance", delta)
        vendor["MetaData"]["LastUpdatedTime"] = stamp


def _linked(line: dict[str, Any], txn_type: str) -> list[str]:
    return [str(t.get("TxnId", "")) for t in line.get("LinkedTxn", []) if t.get("TxnType") == txn_type]


def after_create(store: RealmStore, entity: str, record: dict[str, Any], stamp: str) -> None:
    customer_id, vendor_id = ref_value(record, "CustomerRef"), ref_value(record, "VendorRef")
    if entity == "Invoice":
        move_customer_balance(store, customer_id, to_cents(record["Balance"]), stamp)
        for link in record.get("LinkedTxn", []):
            estimate = store.get("Estimate", str(link.get("TxnId", ""))) if link.get("TxnType") == "Estimate" else None
            if estimate is not None:
                # Converting closes the estimate without a new SyncToken, as the recorded ones show.
                estimate["TxnStatus"] = "Closed"
                estimate.setdefault("LinkedTxn", []).append({"TxnId": record["Id"], "TxnType": "Invoice"})
                estimate["MetaData"]["LastUpdatedTime"] = stamp
    elif entity == "Payment":
        for line in record["Line"]:
            for invoice_id in _linked(line, "Invoice"):
                invoice = store.require("Invoice", invoice_id)
                move_balance(invoice, -to_cents(line.get("Amount", 0)))
                invoice.setdefault("LinkedTxn", []).append({"TxnId": record["Id"], "TxnType": "Payment"})
                bump(invoice, stamp)
        move_customer_balance(store, customer_id, -to_cents(record["TotalAmt"]), stamp)
    elif entity == "CreditMemo":
        move_customer_balance(store, customer_id, -to_cents(record["Balance"]), stamp)
    elif entity == "Bill":
        move_vendor_balance(store, vendor_id, to_cents(record["Balance"]), stamp)
    elif entity == "VendorCredit":
        move_vendor_balance(store, vendor_id, -to_cents(record["Balance"]), stamp)
    elif entity == "BillPayment":
        link_type = BILL_LINK_TYPE.get(str(record.get("PayType")), "BillPaymentCheck")
        for line in record["Line"]:
            for bill_id in _linked(line, "Bill"):
                bill = store.require("Bill", bill_id)
                move_balance(bill, -to_cents(line.get("Amount", 0)))
                bill.setdefault("LinkedTxn", []).append({"TxnId": record["Id"], "TxnType": link_type})
                bump(bill, stamp)
        move_vendor_balance(store, vendor_id, -to_cents(record["TotalAmt"]), stamp)


def _detach_payments(store: RealmStore, target: dict[str, Any], target_type: str, payment_entity: str,
                     link_types: tuple[str, ...], stamp: str) -> int:
    """Drop the lines of payments that paid `target` (an invoice or bill being voided or deleted);
    their money stays with the payment as credit. Returns the cents released."""
    released = 0
    for link in target.get("LinkedTxn", []):
        if link.get("TxnType") not in link_types:
            continue
        payment = store.get(payment_entity, str(link.get("TxnId", "")))
        if payment is None:
            continue
        kept = []
        for line in payment.get("Line", []):
            if target["Id"] in _linked(line, target_type):
                amount = to_cents(line.get("Amount", 0))
                released += amount
                if "UnappliedAmt" in payment:
                    add_cents(payment, "UnappliedAmt", amount)
            else:
                kept.append(line)
        payment["Line"] = kept
        bump(payment, stamp)
    target["LinkedTxn"] = [t for t in target.get("LinkedTxn", []) if t.get("TxnType") not in link_types]
    return released


def _release_targets(store: RealmStore, payment: dict[str, Any], target_entity: str, stamp: str) -> None:
    """Give a voided or deleted payment's amounts back to the invoices or bills it paid."""
    for line in payment.get("Line", []):
        for target_id in _linked(line, target_entity):
            target = store.get(target_entity, target_id)
            if target is None:
                continue
            move_balance(target, to_cents(line.get("Amount", 0)))
            target["LinkedTxn"] = [t for t in target.get("LinkedTxn", []) if t.get("TxnId") != payment["Id"]]
            bump(target, stamp)


def _reopen_estimates(store: RealmStore, invoice: dict[str, Any], stamp: str) -> None:
    for link in invoice.get("LinkedTxn", []):
        estimate = store.get("Estimate", str(link.get("TxnId", ""))) if link.get("TxnType") == "Estimate" else None
        if estimate is None:
            continue
        estimate["LinkedTxn"] = [t for t in estimate.get("LinkedTxn", []) if t.get("TxnId") != invoice["Id"]]
        estimate["TxnStatus"] = "Pending"
        bump(estimate, stamp)


def _unlink_estimate(store: RealmStore, estimate: dict[str, Any], stamp: str) -> None:
    for link in estimate.get("LinkedTxn", []):
        invoice = store.get("Invoice", str(link.get("TxnId", ""))) if link.get("TxnType") == "Invoice" else None
        if invoice is not None:
            invoice["LinkedTxn"] = [t for t in invoice.get("LinkedTxn", []) if t.get("TxnId") != estimate["Id"]]
            bump(invoice, stamp)


def reverse_effects(store: RealmStore, entity: str, record: dict[str, Any], stamp: str, *, deleting: bool) -> None:
    """Undo what the transaction did to balances and links, before it is voided or deleted."""
    customer_id, vendor_id = ref_value(record, "CustomerRef"), ref_value(record, "VendorRef")
    if entity == "Invoice":
        released = _detach_payments(store, record, "Invoice", "Payment", ("Payment",), stamp)
        move_customer_balance(store, customer_id, -(to_cents(record.get("Balance", 0)) + released), stamp)
        if deleting:
            _reopen_estimates(store, record, stamp)
    elif entity == "Payment":
        _release_targets(store, record, "Invoice", stamp)
        move_customer_balance(store, customer_id, to_cents(record.get("TotalAmt", 0)), stamp)
    elif entity == "CreditMemo":
        move_customer_balance(store, customer_id, to_cents(record.get("Balance", 0)), stamp)
    elif entity == "Bill":
        released = _detach_payments(store, record, "Bill", "BillPayment", tuple(BILL_LINK_TYPE.values()), stamp)
        move_vendor_balance(store, vendor_id, -(to_cents(record.get("Balance", 0)) + released), stamp)
    elif entity == "BillPayment":
        _release_targets(store, record, "Bill", stamp)
        move_vendor_balance(store, vendor_id, to_cents(record.get("TotalAmt", 0)), stamp)
    elif entity == "VendorCredit":
        move_vendor_balance(store, vendor_id, to_cents(record.get("Balance", 0)), stamp)
    elif entity == "Estimate" and deleting:
        _unlink_estimate(store, record, stamp)
