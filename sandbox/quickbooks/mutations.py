"""Changes to a company's records with QBO's side effects (balances, links, voids, deletes)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from .demo_context import USD
from .entities import ENTITIES, EntityKind
from .money import to_cents, to_money
from .store import Deleted, RealmStore

_PROTECTED = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})
_NAME_ENTITIES = ("Customer", "Vendor", "Employee")


def kind_of(entity: str) -> EntityKind:
    kind = ENTITIES.get(entity)
    if kind is None:
        raise ValueError(f"unknown entity {entity!r}")
    return kind


def apply_void(record: dict[str, Any]) -> None:
    """Zero a transaction the way QBO voids it: it keeps its Id and lines, amounts become 0."""
    for line in record.get("Line", []):
        line["Amount"] = 0
        detail = line.get("SalesItemLineDetail")
        if detail is not None:
            for key in ("UnitPrice", "Qty"):
                if key in detail:
                    detail[key] = 0
    for key in ("TotalAmt", "Balance"):
        if key in record:
            record[key] = 0
    if "TxnTaxDetail" in record:
        record["TxnTaxDetail"]["TotalTax"] = 0
    record["PrivateNote"] = "Voided"


def _bump(record: dict[str, Any], stamp: str) -> None:
    record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)
    record["MetaData"]["LastUpdatedTime"] = stamp


def _add_cents(record: dict[str, Any], key: str, delta: int) -> None:
    record[key] = to_money(to_cents(record.get(key, 0)) + delta)


def _move_customer_balance(store: RealmStore, customer_id: str | None, delta: int, stamp: str) -> None:
    # QBO moves the balance and LastUpdatedTime of the customer but leaves its SyncToken alone.
    customer = store.get("Customer", customer_id) if customer_id else None
    if customer is None or delta == 0:
        return
    _add_cents(customer, "Balance", delta)
    _add_cents(customer, "BalanceWithJobs", delta)
    customer["MetaData"]["LastUpdatedTime"] = stamp
    parent = store.get("Customer", customer.get("ParentRef", {}).get("value", "")) if customer.get("Job") else None
    if parent is not None:
        _add_cents(parent, "BalanceWithJobs", delta)
        parent["MetaData"]["LastUpdatedTime"] = stamp


def _move_vendor_balance(store: RealmStore, vendor_id: str | None, delta: int, stamp: str) -> None:
    vendor = store.get("Vendor", vendor_id) if vendor_id else None
    if vendor is not None and delta:
        _add_cents(vendor, "Balance", delta)
        vendor["MetaData"]["LastUpdatedTime"] = stamp


def _ref_value(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value.get("value") if isinstance(value, dict) else None


def update(store: RealmStore, entity: str, ident: str, fields: dict[str, Any], stamp: str) -> dict[str, Any]:
    """Sparse update: the given top-level fields replace the stored ones."""
    kind_of(entity)
    record = store.require(entity, ident)
    bad = _PROTECTED.intersection(fields)
    if bad:
        raise ValueError(f"cannot set {sorted(bad)}: the service owns them")
    for key, value in fields.items():
        record[key] = copy.deepcopy(value)
    _bump(record, stamp)
    return copy.deepcopy(record)


def create(store: RealmStore, entity: str, fields: dict[str, Any], stamp: str, today: date) -> str:
    kind = kind_of(entity)
    bad = _PROTECTED.intersection(fields)
    if bad:
        raise ValueError(f"cannot set {sorted(bad)}: the service owns them")
    body = copy.deepcopy(fields)
    if kind.is_list:
        _list_defaults(store, kind, body)
    builder = _CREATORS.get(entity)
    if builder is not None:
        builder(store, body, today)
    ident = store.next_id(kind)
    record = {"domain": "QBO", "sparse": False, "Id": ident, "SyncToken": "0",
              "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}, **body}
    store.tables[entity][ident] = record
    _after_create(store, entity, record, stamp)
    return ident


def _list_defaults(store: RealmStore, kind: EntityKind, body: dict[str, Any]) -> None:
    body.setdefault("Active", True)
    if kind.name in _NAME_ENTITIES:
        display = body.get("DisplayName") or " ".join(
            str(body[k]) for k in ("GivenName", "FamilyName") if body.get(k)) or body.get("CompanyName")
        if not display:
            raise ValueError("a name entity needs DisplayName (or GivenName/FamilyName/CompanyName)")
        taken = {str(r.get("DisplayName", "")).lower() for e in _NAME_ENTITIES for r in store.tables[e].values()}
        if str(display).lower() in taken:
            raise ValueError("Duplicate Name Exists Error: the name supplied already exists")
        body["DisplayName"] = display
        body.setdefault("PrintOnCheckName", display)
        if kind.name == "Customer":
            body.setdefault("FullyQualifiedName", display)
            for key, value in (("Taxable", False), ("Job", False), ("BillWithParent", False), ("Balance", 0),
                               ("BalanceWithJobs", 0), ("PreferredDeliveryMethod", "Print")):
                body.setdefault(key, value)
        if kind.name == "Vendor":
            body.setdefault("Balance", 0)
            body.setdefault("Vendor1099", False)
        if kind.name != "Employee":
            body.setdefault("CurrencyRef", dict(USD))
    elif "Name" in body:
        body.setdefault("FullyQualifiedName", body["Name"])


def _line_total(body: dict[str, Any]) -> int:
    return sum(to_cents(line.get("Amount", 0)) for line in body.get("Line", [])
               if line.get("DetailType") != "SubTotalLineDetail")


def _txn_defaults(body: dict[str, Any], today: date) -> None:
    body.setdefault("TxnDate", today.isoformat())
    body.setdefault("CurrencyRef", dict(USD))
    body.setdefault("Line", [])


def _sales_defaults(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _txn_defaults(body, today)
    customer_id = _ref_value(body, "CustomerRef")
    customer = store.get("Customer", customer_id) if customer_id else None
    if customer_id and customer is None:
        raise ValueError(f"CustomerRef {customer_id} does not exist")
    if customer is not None:
        body["CustomerRef"] = {"value": customer["Id"], "name": customer["DisplayName"]}
    body.setdefault("DocNumber", store.next_doc_number())
    if not any(line.get("DetailType") == "SubTotalLineDetail" for line in body["Line"]):
        body["Line"].append({"Amount": to_money(_line_total(body)), "DetailType": "SubTotalLineDetail",
                             "SubTotalLineDetail": {}})
    body.setdefault("TxnTaxDetail", {"TotalTax": 0})
    body.setdefault("TotalAmt", to_money(_line_total(body)))
    body.setdefault("ApplyTaxAfterDiscount", False)
    body.setdefault("PrintStatus", "NotSet")
    body.setdefault("EmailStatus", "NotSet")


def _create_invoice(store: RealmStore, body: dict[str, Any], today: date) -> None:
    if not _ref_value(body, "CustomerRef"):
        raise ValueError("an Invoice needs CustomerRef")
    _sales_defaults(store, body, today)
    body.setdefault("LinkedTxn", [])
    body.setdefault("DueDate", (date.fromisoformat(body["TxnDate"]) + timedelta(days=30)).isoformat())
    body.setdefault("Balance", body["TotalAmt"])


def _create_sales_receipt(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _sales_defaults(store, body, today)
    body.setdefault("Balance", 0)


def _create_payment(store: RealmStore, body: dict[str, Any], today: date) -> None:
    customer_id = _ref_value(body, "CustomerRef")
    if not customer_id or store.get("Customer", customer_id) is None:
        raise ValueError("a Payment needs an existing CustomerRef")
    _txn_defaults(body, today)
    applied = 0
    for line in body["Line"]:
        for link in line.get("LinkedTxn", []):
            invoice = store.get("Invoice", link.get("TxnId", "")) if link.get("TxnType") == "Invoice" else None
            if invoice is None:
                raise ValueError(f"linked transaction {link} does not exist")
        applied += to_cents(line.get("Amount", 0))
    body.setdefault("TotalAmt", to_money(applied))
    body.setdefault("UnappliedAmt", to_money(to_cents(body["TotalAmt"]) - applied))
    body.setdefault("ProcessPayment", False)


def _create_expense(store: RealmStore, body: dict[str, Any], today: date) -> None:
    _txn_defaults(body, today)
    body.setdefault("TotalAmt", to_money(_line_total(body)))


def _create_bill(store: RealmStore, body: dict[str, Any], today: date) -> None:
    vendor_id = _ref_value(body, "VendorRef")
    if not vendor_id or store.get("Vendor", vendor_id) is None:
        raise ValueError("a Bill needs an existing VendorRef")
    _create_expense(store, body, today)
    body.setdefault("DueDate", (date.fromisoformat(body["TxnDate"]) + timedelta(days=30)).isoformat())
    body.setdefault("Balance", body["TotalAmt"])
    body.setdefault("LinkedTxn", [])


_CREATORS = {"Invoice": _create_invoice, "SalesReceipt": _create_sales_receipt, "Payment": _create_payment,
             "Bill": _create_bill, "Purchase": _create_expense}


def _after_create(store: RealmStore, entity: str, record: dict[str, Any], stamp: str) -> None:
    if entity == "Invoice":
        _move_customer_balance(store, _ref_value(record, "CustomerRef"), to_cents(record["Balance"]), stamp)
    elif entity == "Payment":
        for line in record["Line"]:
            for link in line.get("LinkedTxn", []):
                invoice = store.require("Invoice", link["TxnId"])
                _add_cents(invoice, "Balance", -to_cents(line.get("Amount", 0)))
                invoice.setdefault("LinkedTxn", []).append({"TxnId": record["Id"], "TxnType": "Payment"})
                _bump(invoice, stamp)
        _move_customer_balance(store, _ref_value(record, "CustomerRef"), -to_cents(record["TotalAmt"]), stamp)
    elif entity == "Bill":
        _move_vendor_balance(store, _ref_value(record, "VendorRef"), to_cents(record["Balance"]), stamp)


def _unlink_payments_from(store: RealmStore, invoice: dict[str, Any], stamp: str) -> int:
    """Detach payments from an invoice being voided or deleted; their money becomes unapplied credit."""
    released = 0
    for link in invoice.get("LinkedTxn", []):
        payment = store.get("Payment", link.get("TxnId", "")) if link.get("TxnType") == "Payment" else None
        if payment is None:
            continue
        kept = []
        for line in payment.get("Line", []):
            links = line.get("LinkedTxn", [])
            if any(t.get("TxnId") == invoice["Id"] and t.get("TxnType") == "Invoice" for t in links):
                amount = to_cents(line.get("Amount", 0))
                released += amount
                _add_cents(payment, "UnappliedAmt", amount)
            else:
                kept.append(line)
        payment["Line"] = kept
        _bump(payment, stamp)
    invoice["LinkedTxn"] = [t for t in invoice.get("LinkedTxn", []) if t.get("TxnType") != "Payment"]
    return released


def _release_invoices_from(store: RealmStore, payment: dict[str, Any], stamp: str) -> None:
    """Give a voided or deleted payment's amounts back to the invoices it paid."""
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", []):
            invoice = store.get("Invoice", link.get("TxnId", "")) if link.get("TxnType") == "Invoice" else None
            if invoice is None:
                continue
            _add_cents(invoice, "Balance", to_cents(line.get("Amount", 0)))
            invoice["LinkedTxn"] = [t for t in invoice.get("LinkedTxn", []) if t.get("TxnId") != payment["Id"]]
            _bump(invoice, stamp)


def delete(store: RealmStore, entity: str, ident: str, stamp: str) -> None:
    """Hard delete for transactions (remembered for CDC); list entities are made inactive, as in QBO."""
    kind = kind_of(entity)
    record = store.require(entity, ident)
    if kind.is_list:
        name_key = "DisplayName" if "DisplayName" in record else "Name"
        record["Active"] = False
        for key in (name_key, "FullyQualifiedName"):
            if key in record and not str(record[key]).endswith(" (deleted)"):
                record[key] = f"{record[key]} (deleted)"
        _bump(record, stamp)
        return
    if not kind.deletable:
        raise ValueError(f"{entity} cannot be deleted")
    _reverse_effects(store, entity, record, stamp)
    del store.tables[entity][ident]
    store.deleted.append(Deleted(entity, ident, stamp))


def void(store: RealmStore, entity: str, ident: str, stamp: str) -> dict[str, Any]:
    kind = kind_of(entity)
    if not kind.voidable:
        raise ValueError(f"{entity} cannot be voided")
    record = store.require(entity, ident)
    _reverse_effects(store, entity, record, stamp)
    if entity == "Payment":
        record["Line"] = []
        record["TotalAmt"] = 0
        record["UnappliedAmt"] = 0
        record["PrivateNote"] = "Voided"
    else:
        apply_void(record)
    _bump(record, stamp)
    return copy.deepcopy(record)


def _reverse_effects(store: RealmStore, entity: str, record: dict[str, Any], stamp: str) -> None:
    customer_id = _ref_value(record, "CustomerRef")
    if entity == "Invoice":
        released = _unlink_payments_from(store, record, stamp)
        _move_customer_balance(store, customer_id, -(to_cents(record.get("Balance", 0)) + released), stamp)
    elif entity == "Payment":
        _release_invoices_from(store, record, stamp)
        _move_customer_balance(store, customer_id, to_cents(record.get("TotalAmt", 0)), stamp)
    elif entity == "Bill":
        _move_vendor_balance(store, _ref_value(record, "VendorRef"), -to_cents(record.get("Balance", 0)), stamp)
