"""QuickBooks streams: one entity each, with its raw table and typed columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.db.loader import Column, TableSpec


def parse_ts(value: str | None) -> dt.datetime | None:
    """QuickBooks timestamps carry their offset ("2015-07-24T10:48:22-07:00")."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"QuickBooks timestamp {value!r} has no offset")
    return parsed


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _money(value: Any) -> Decimal | None:
    # str() first: a JSON float's shortest repr is the decimal text QuickBooks sent.
    return None if value is None else Decimal(str(value))


def _ref(record: dict[str, Any], key: str) -> str | None:
    ref = record.get(key)
    return ref.get("value") if isinstance(ref, dict) else None


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


@dataclass(frozen=True)
class Stream:
    """An entity read through the query endpoint."""

    entity: str
    table: TableSpec
    typed: Callable[[dict[str, Any]], tuple[Any, ...]]
    # List entities hide inactive rows unless asked for them.
    has_active_flag: bool = False


_VERSION = ("updated_at", "sync_token")

CUSTOMER = Stream(
    entity="Customer",
    has_active_flag=True,
    table=TableSpec(
        "qbo_customer",
        (
            Column("sync_token", "integer"),
            Column("display_name", "text"),
            Column("company_name", "text"),
            Column("active", "boolean"),
            Column("balance", "numeric"),
            Column("currency", "text"),
            Column("email", "text"),
        ),
        version=_VERSION,
    ),
    typed=lambda r: (
        _int(r.get("SyncToken")),
        r.get("DisplayName"),
        r.get("CompanyName"),
        r.get("Active"),
        _money(r.get("Balance")),
        _ref(r, "CurrencyRef"),
        (r.get("PrimaryEmailAddr") or {}).get("Address"),
    ),
)

INVOICE = Stream(
    entity="Invoice",
    table=TableSpec(
        "qbo_invoice",
        (
            Column("sync_token", "integer"),
            Column("doc_number", "text"),
            Column("txn_date", "date"),
            Column("due_date", "date"),
            Column("customer_id", "text"),
            Column("total_amt", "numeric"),
            Column("balance", "numeric"),
            Column("currency", "text"),
            Column("exchange_rate", "numeric"),
            Column("home_total_amt", "numeric"),
        ),
        version=_VERSION,
    ),
    typed=lambda r: (
        _int(r.get("SyncToken")),
        r.get("DocNumber"),
        _date(r.get("TxnDate")),
        _date(r.get("DueDate")),
        _ref(r, "CustomerRef"),
        _money(r.get("TotalAmt")),
        _money(r.get("Balance")),
        _ref(r, "CurrencyRef"),
        _money(r.get("ExchangeRate")),
        _money(r.get("HomeTotalAmt")),
    ),
)

PAYMENT = Stream(
    entity="Payment",
    table=TableSpec(
        "qbo_payment",
        (
            Column("sync_token", "integer"),
            Column("txn_date", "date"),
            Column("customer_id", "text"),
            Column("total_amt", "numeric"),
            Column("unapplied_amt", "numeric"),
            Column("currency", "text"),
            Column("exchange_rate", "numeric"),
        ),
        version=_VERSION,
    ),
    typed=lambda r: (
        _int(r.get("SyncToken")),
        _date(r.get("TxnDate")),
        _ref(r, "CustomerRef"),
        _money(r.get("TotalAmt")),
        _money(r.get("UnappliedAmt")),
        _ref(r, "CurrencyRef"),
        _money(r.get("ExchangeRate")),
    ),
)

STREAMS: dict[str, Stream] = {s.entity: s for s in (CUSTOMER, INVOICE, PAYMENT)}
