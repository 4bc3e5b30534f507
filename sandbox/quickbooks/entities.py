"""Catalog of the QBO entities the simulator serves and how each behaves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EntityKind:
    name: str
    # Name-list entities carry `Active` and queries hide inactive rows unless asked for them.
    is_list: bool = False
    # QBO draws Ids from shared counters: all name entities share one, all transactions another.
    id_sequence: str = ""
    voidable: bool = False
    # Hard delete exists only for transactions; deleting a list entity makes it inactive.
    deletable: bool = False
    # CDC covers every entity but a few (api-facts: TimeActivity, TaxAgency, TaxCode, TaxRate).
    in_cdc: bool = True

    @property
    def resource(self) -> str:
        """The lowercase URL segment (`/v3/company/{realm}/invoice/{id}`)."""
        return self.name.lower()

    @property
    def sequence(self) -> str:
        return self.id_sequence or self.name

    @property
    def is_transaction(self) -> bool:
        return self.id_sequence == "txn"


def _txn(name: str, *, voidable: bool = False) -> EntityKind:
    return EntityKind(name, id_sequence="txn", voidable=voidable, deletable=True)


_KINDS = [
    EntityKind("Customer", is_list=True, id_sequence="name"),
    EntityKind("Vendor", is_list=True, id_sequence="name"),
    EntityKind("Employee", is_list=True, id_sequence="name"),
    EntityKind("Item", is_list=True),
    EntityKind("Account", is_list=True),
    EntityKind("Class", is_list=True),
    EntityKind("Department", is_list=True),
    EntityKind("Term", is_list=True),
    EntityKind("PaymentMethod", is_list=True),
    EntityKind("TaxCode", is_list=True, in_cdc=False),
    EntityKind("TaxRate", is_list=True, in_cdc=False),
    _txn("Invoice", voidable=True),
    _txn("Payment", voidable=True),
    _txn("SalesReceipt", voidable=True),
    _txn("Estimate"),
    _txn("CreditMemo", voidable=True),
    _txn("RefundReceipt", voidable=True),
    _txn("Bill"),
    _txn("BillPayment", voidable=True),
    _txn("VendorCredit"),
    _txn("Purchase"),
    _txn("Deposit"),
    _txn("JournalEntry"),
    # Keyed by currency and date, with no Id (see record_key); neither a list nor deletable.
    EntityKind("ExchangeRate"),
    EntityKind("CompanyInfo"),
    EntityKind("Preferences"),
]

ENTITIES: dict[str, EntityKind] = {kind.name: kind for kind in _KINDS}
TRANSACTIONS: tuple[str, ...] = tuple(kind.name for kind in _KINDS if kind.is_transaction)
_BY_RESOURCE = {kind.resource: kind for kind in _KINDS}
_BY_LOWER = {kind.name.lower(): kind for kind in _KINDS}


def by_name(name: str) -> EntityKind | None:
    """Exact, case-sensitive lookup: QBO's query language treats entity names as case sensitive."""
    return ENTITIES.get(name)


def by_resource(segment: str) -> EntityKind | None:
    return _BY_RESOURCE.get(segment.lower())


def by_name_ignoring_case(name: str) -> EntityKind | None:
    """CDC's `entities=` parameter is matched without regard to case (the recorded call sends `estimate`)."""
    return _BY_LOWER.get(name.strip().lower())


def record_key(entity: str, record: Mapping[str, Any]) -> str:
    """How the store finds a record. QBO's ExchangeRate has no Id: a currency and a date identify it."""
    if entity == "ExchangeRate":
        return exchange_rate_key(str(record.get("SourceCurrencyCode", "")), str(record.get("AsOfDate", "")))
    return str(record["Id"])


def exchange_rate_key(source_currency: str, as_of: str) -> str:
    return f"{source_currency.upper()}:{as_of}"
