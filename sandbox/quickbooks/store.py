"""One company's live records: what queries read, mutations change and reports can total."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import zone
from .entities import ENTITIES, TRANSACTIONS, EntityKind, exchange_rate_key, record_key
from .keyset import KeysetIndex, build

if TYPE_CHECKING:
    from .demo_company import DemoCompany

# Sales forms share QBO's custom transaction numbers; estimates are numbered on their own.
SALES_FORMS = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")


@dataclass(frozen=True)
class Deleted:
    entity: str
    id: str
    deleted_at: str


class RealmStore:
    def __init__(self, company: DemoCompany) -> None:
        self.realm_id = company.realm_id
        self.tz_name = company.timezone
        self.tz = zone(company.timezone)
        # A private deep copy: the DemoCompany stays pristine for other simulators and comparisons.
        records: dict[str, list[dict[str, Any]]] = json.loads(json.dumps(company.records))
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ENTITIES}
        for entity, rows in records.items():
            self.tables.setdefault(entity, {}).update({record_key(entity, row): row for row in rows})
        self.deleted: list[Deleted] = [Deleted(t.entity, t.id, t.deleted_at) for t in company.deleted]
        self._next_ids: dict[str, int] = {}
        for kind in ENTITIES.values():
            used = [int(i) for i in self.tables[kind.name] if i.isdigit()]
            used += [int(d.id) for d in self.deleted if d.entity == kind.name and d.id.isdigit()]
            self._next_ids[kind.sequence] = max([self._next_ids.get(kind.sequence, 1), *(u + 1 for u in used)])
        # Moved on by every write (SimulatorState stamps each one): the keyset indexes built before it are stale.
        self.version = 0
        self._keysets: dict[str, KeysetIndex] = {}

    def changed(self) -> None:
        """Say that records changed (a write may touch several entities: a payment moves invoices and balances)."""
        self.version += 1

    def keyset(self, kind: EntityKind) -> KeysetIndex:
        """The entity's rows in keyset order (keyset.py), rebuilt when anything changed since it was built."""
        table = self.tables[kind.name]
        index = self._keysets.get(kind.name)
        if index is None or index.version != self.version or index.size != len(table):
            index = self._keysets[kind.name] = build(kind, table.values(), self.tz_name, self.version)
        return index

    def rows(self, entity: str) -> list[dict[str, Any]]:
        return list(self.tables[entity].values())

    def transactions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every live transaction as (entity, record), e.g. for a report that totals the books."""
        for entity in TRANSACTIONS:
            for record in self.tables[entity].values():
                yield entity, record

    def get(self, entity: str, ident: str) -> dict[str, Any] | None:
        return self.tables.get(entity, {}).get(ident)

    def require(self, entity: str, ident: str) -> dict[str, Any]:
        record = self.get(entity, ident)
        if record is None:
            raise KeyError(f"{entity} {ident} not found in realm {self.realm_id}")
        return record

    def next_id(self, kind: EntityKind) -> str:
        value = self._next_ids[kind.sequence]
        self._next_ids[kind.sequence] = value + 1
        return str(value)

    def next_doc_number(self, entities: tuple[str, ...] = SALES_FORMS) -> str:
        numbers = [int(r["DocNumber"]) for e in entities for r in self.tables[e].values()
                   if str(r.get("DocNumber", "")).isdigit()]
        return str(max(numbers, default=1000) + 1)

    def account_named(self, name: str) -> dict[str, Any] | None:
        return next((a for a in self.tables["Account"].values() if a.get("Name") == name), None)

    def exchange_rate(self, currency: str, day: str) -> float | None:
        """The rate QBO would use on `day`: that day's row, else the latest one before it."""
        exact = self.get("ExchangeRate", exchange_rate_key(currency, day))
        if exact is not None:
            return float(exact["Rate"])
        earlier = [r for r in self.tables["ExchangeRate"].values()
                   if r.get("SourceCurrencyCode") == currency and str(r.get("AsOfDate", "")) <= day]
        return float(max(earlier, key=lambda r: str(r["AsOfDate"]))["Rate"]) if earlier else None
