"""The tickets table (migrations/0001_helpdesk_tickets.sql): each typed column declared once, with its name, its
PostgreSQL type and how it is read from a ticket, in the table's column order."""

from __future__ import annotations

from typing import Any

from shared.core.convert import as_instant, as_money, as_text
from shared.db.fields import Field, Fields
from shared.db.loader import RawRecord, TableSpec
from tests.third_source.paging import parse_ts

TABLE = "helpdesk_ticket"

FIELDS: Fields[dict[str, Any]] = Fields(
    Field("title", "text", lambda t: as_text(t.get("title"))),
    Field("status", "text", lambda t: as_text(t.get("status"))),
    Field("amount", "numeric", lambda t: as_money(t.get("amount"))),
)
TICKETS = TableSpec(TABLE, FIELDS.columns)


def to_raw(ticket: dict[str, Any]) -> RawRecord:
    """A ticket as the loader takes it; a tombstone ({"id", "deleted": true, "updated_at"}) keeps the row's last
    typed values (the loader leaves them in place)."""
    if not isinstance(ticket, dict) or ticket.get("id") in (None, ""):
        raise ValueError("a ticket without an id")
    updated = parse_ts(ticket.get("updated_at"))
    if ticket.get("deleted"):
        return RawRecord(id=str(ticket["id"]), updated_at=updated, payload=ticket, typed=FIELDS.nulls(),
                         columns=FIELDS.names, deleted=True)
    return RawRecord(id=str(ticket["id"]), updated_at=updated, created_at=as_instant(ticket.get("created_at")),
                     payload=ticket, typed=FIELDS.read(ticket), columns=FIELDS.names)
