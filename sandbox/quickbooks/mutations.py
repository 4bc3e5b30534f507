"""Changes to a company's records with QBO's side effects (balances, links, voids, deletes)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from .demo_context import USD
from .entities import ENTITIES, EntityKind, exchange_rate_key
from .store import Deleted, RealmStore
from .txn_creators import transaction_defaults
from .txn_effects import after_create, bump, reverse_effects

_PROTECTED = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse"})
_NAME_ENTITIES = ("Customer", "Vendor", "Employee")
# Amounts a void zeroes (QBO keeps the Id, the lines and the references).
_VOIDED_AMOUNTS = ("TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "RemainingCredit")


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
    for key in _VOIDED_AMOUNTS:
        if key in record:
            record[key] = 0
    if "TxnTaxDetail" in record:
        record["TxnTaxDetail"]["TotalTax"] = 0
    record["PrivateNote"] = "Voided"


def _refuse_protected(fields: dict[str, Any]) -> None:
    bad = _PROTECTED.intersection(fields)
    if bad:
        raise ValueError(f"cannot set {sorted(bad)}: the service owns them")


def update(store: RealmStore, entity: str, ident: str, fields: dict[str, Any], stamp: str) -> dict[str, Any]:
    """Sparse update: the given top-level fields replace the stored ones."""
    kind_of(entity)
    record = store.require(entity, ident)
    _refuse_protected(fields)
    for key, value in fields.items():
        record[key] = copy.deepcopy(value)
    bump(record, stamp)
    return copy.deepcopy(record)


def create(store: RealmStore, entity: str, fields: dict[str, Any], stamp: str, today: date) -> str:
    """Create a record with QBO's defaults and side effects; returns its Id (an ExchangeRate's key)."""
    kind = kind_of(entity)
    _refuse_protected(fields)
    body = copy.deepcopy(fields)
    if entity == "ExchangeRate":
        return _set_exchange_rate(store, body, stamp)
    if kind.is_list:
        _list_defaults(store, kind, body)
    transaction_defaults(store, entity, body, today)
    ident = store.next_id(kind)
    record = {"domain": "QBO", "sparse": False, "Id": ident, "SyncToken": "0",
              "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}, **body}
    store.tables[entity][ident] = record
    after_create(store, entity, record, stamp)
    return ident


def _set_exchange_rate(store: RealmStore, body: dict[str, Any], stamp: str) -> str:
    """QBO sets a rate per currency and day: a second one for the same day replaces the first."""
    source, as_of, rate = body.get("SourceCurrencyCode"), body.get("AsOfDate"), body.get("Rate")
    if not source or not as_of or not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
        raise ValueError("an ExchangeRate needs SourceCurrencyCode, AsOfDate and a positive Rate")
    if str(source).upper() == USD["value"]:
        raise ValueError("no exchange rate can be set for the home currency")
    key = exchange_rate_key(str(source), str(as_of))
    existing = store.get("ExchangeRate", key)
    if existing is not None:
        existing["Rate"] = rate
        bump(existing, stamp)
        return key
    store.tables["ExchangeRate"][key] = {"SyncToken": "0", "AsOfDate": str(as_of),
                                         "SourceCurrencyCode": str(source).upper(), "Rate": rate,
                                         "TargetCurrencyCode": str(body.get("TargetCurrencyCode") or USD["value"]),
                                         "MetaData": {"LastUpdatedTime": stamp}}
    return key


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
    elif "Name" in body and kind.name not in ("TaxCode", "TaxRate"):
        body.setdefault("FullyQualifiedName", body["Name"])


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
        bump(record, stamp)
        return
    if not kind.deletable:
        raise ValueError(f"{entity} cannot be deleted")
    reverse_effects(store, entity, record, stamp, deleting=True)
    del store.tables[entity][ident]
    store.deleted.append(Deleted(entity, ident, stamp))


def void(store: RealmStore, entity: str, ident: str, stamp: str) -> dict[str, Any]:
    kind = kind_of(entity)
    if not kind.voidable:
        raise ValueError(f"{entity} cannot be voided")
    record = store.require(entity, ident)
    reverse_effects(store, entity, record, stamp, deleting=False)
    if entity in ("Payment", "BillPayment"):
        # A voided payment keeps no applications: its lines go and its amounts become 0.
        record["Line"] = []
        record["TotalAmt"] = 0
        if "UnappliedAmt" in record:
            record["UnappliedAmt"] = 0
        record["PrivateNote"] = "Voided"
    else:
        apply_void(record)
    bump(record, stamp)
    return copy.deepcopy(record)
