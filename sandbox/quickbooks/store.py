"""One company's live records: what queries read and mutations change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import zone
from .entities import ENTITIES, EntityKind

if TYPE_CHECKING:
    from .demo_company import DemoCompany


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
            self.tables.setdefault(entity, {}).update({row["Id"]: row for row in rows})
        self.deleted: list[Deleted] = [Deleted(t.entity, t.id, t.deleted_at) for t in company.deleted]
        self._next_ids: dict[str, int] = {}
        for kind in ENTITIES.values():
            used = [int(i) for i in self.tables[kind.name] if i.isdigit()]
            used += [int(d.id) for d in self.deleted if d.entity == kind.name and d.id.isdigit()]
            self._next_ids[kind.sequence] = max([self._next_ids.get(kind.sequence, 1), *(u + 1 for u in used)])

    def rows(self, entity: str) -> list[dict[str, Any]]:
        return list(self.tables[entity].values())

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

    def next_doc_number(self) -> str:
        # Invoices and sales receipts share QBO's custom transaction numbers.
        numbers = [int(r["DocNumber"]) for e in ("Invoice", "SalesReceipt") for r in self.tables[e].values()
                   if str(r.get("DocNumber", "")).isdigit()]
        return str(max(numbers, default=1000) + 1)
