"""Catalog of the QBO entities the simulator serves and how each behaves."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def resource(self) -> str:
        """The lowercase URL segment (`/v3/company/{realm}/invoice/{id}`)."""
        return self.name.lower()

    @property
    def sequence(self) -> str:
        return self.id_sequence or self.name


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
    EntityKind("Invoice", id_sequence="txn", voidable=True, deletable=True),
    EntityKind("Payment", id_sequence="txn", voidable=True, deletable=True),
    EntityKind("SalesReceipt", id_sequence="txn", voidable=True, deletable=True),
    EntityKind("Bill", id_sequence="txn", deletable=True),
    EntityKind("Purchase", id_sequence="txn", deletable=True),
    EntityKind("CompanyInfo"),
    EntityKind("Preferences"),
]

ENTITIES: dict[str, EntityKind] = {kind.name: kind for kind in _KINDS}
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
