"""QuickBooks streams: one entity each, with its raw table, typed columns and (for transactions) lines.

A newcomer finds an entity here: its kind decides how it is read (paged query, CDC, or whole), its
fields decide its typed columns. The tables themselves are in migrations/ beside this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins.quickbooks.fields import Field, Fields, f, is_voided, parse_ts, ref
from shared.db.loader import ChildTable, Column, TableSpec

__all__ = ["LINES", "STREAMS", "Stream", "parse_ts"]


def _line_id(position: int, line: dict[str, Any]) -> str:
    # Summary lines (SubTotalLine) carry no Id; their position is stable within a version.
    return str(line["Id"]) if line.get("Id") not in (None, "") else f"~{position}"


def _detail(line: dict[str, Any]) -> dict[str, Any]:
    detail_type = line.get("DetailType")
    detail = line.get(detail_type, {}) if isinstance(detail_type, str) else {}
    return detail if isinstance(detail, dict) else {}


_LINE_FIELDS = Fields(
    f("line_num", "integer", "LineNum"),
    f("detail_type", "text", "DetailType"),
    f("description", "text", "Description"),
    f("amount", "numeric", "Amount"),
)
# Read from the line's detail object (found once per line: a line has seven of these and millions are loaded).
_DETAIL_FIELDS = Fields(
    f("item_id", "text", ref("ItemRef")),
    f("account_id", "text", ref("AccountRef")),
    f("class_id", "text", ref("ClassRef")),
    f("qty", "numeric", "Qty"),
    f("unit_price", "numeric", "UnitPrice"),
    f("tax_code", "text", ref("TaxCodeRef")),
    f("posting_type", "text", "PostingType"),
)


def _line_rows(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for position, line in enumerate(payload.get("Line") or [], start=1):
        if not isinstance(line, dict):
            raise ValueError(f"Line #{position} is not an object")
        try:
            rows.append((_line_id(position, line), *_LINE_FIELDS.read(line), *_DETAIL_FIELDS.read(_detail(line)),
                         line))
        except ValueError as exc:
            raise ValueError(f"Line #{position}: {exc}") from exc
    return rows


def lines_of(entity: str) -> ChildTable:
    """Transaction lines, one row per (transaction, line), in one table for every transaction entity."""
    return ChildTable(
        table="qbo_txn_line",
        parent_column="txn_id",
        fixed=(("txn_type", entity),),
        columns=(Column("line_id", "text"), *_LINE_FIELDS.columns, *_DETAIL_FIELDS.columns, Column("payload", "jsonb")),
        rows=_line_rows,
    )


LINES = lines_of  # the table every transaction's lines go to


@dataclass(frozen=True)
class Stream:
    """An entity and how it is read.

    kind: "txn" (transactions: paged query, CDC, lines), "list" (name lists: Active flag, CDC),
    "single" (one record per company, read whole), "rate" (ExchangeRate: read whole, no CDC).
    """

    entity: str
    kind: str
    table: TableSpec
    fields: Fields[dict[str, Any]]
    cdc: bool = True

    @property
    def has_active_flag(self) -> bool:
        return self.kind == "list"

    def typed(self, record: dict[str, Any]) -> tuple[Any, ...]:
        return self.fields.read(record)


_VERSION = ("updated_at", "sync_token")

_TXN = (
    f("sync_token", "integer", "SyncToken"),
    f("doc_number", "text", "DocNumber"),
    f("txn_date", "date", "TxnDate"),
    f("currency", "text", ref("CurrencyRef")),
    f("exchange_rate", "numeric", "ExchangeRate"),
    f("total_amt", "numeric", "TotalAmt"),
    f("home_total_amt", "numeric", "HomeTotalAmt"),
    f("private_note", "text", "PrivateNote"),
    f("voided", "boolean", is_voided),
)
_LIST = (
    f("sync_token", "integer", "SyncToken"),
    f("active", "boolean", "Active"),
)
_NAMED = (*_LIST, f("name", "text", "Name"), f("fully_qualified_name", "text", "FullyQualifiedName"),
          f("parent_id", "text", ref("ParentRef")))
_PARTY = (*_LIST, f("display_name", "text", "DisplayName"), f("company_name", "text", "CompanyName"),
          f("email", "text", "PrimaryEmailAddr.Address"), f("balance", "numeric", "Balance"),
          f("currency", "text", ref("CurrencyRef")))

CUSTOMER_ID = f("customer_id", "text", ref("CustomerRef"))
VENDOR_ID = f("vendor_id", "text", ref("VendorRef"))
BALANCE = f("balance", "numeric", "Balance")
DUE_DATE = f("due_date", "date", "DueDate")
DEPOSIT_ACCOUNT = f("deposit_account_id", "text", ref("DepositToAccountRef"))


def _make(entity: str, kind: str, fields: tuple[Field, ...], table: str | None = None, *, cdc: bool = True,
          version: tuple[str, ...] = _VERSION) -> Stream:
    name = table or "qbo_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in entity).lstrip("_")
    declared = Fields(*fields)
    spec = TableSpec(name, declared.columns, version=version, children=(lines_of(entity),) if kind == "txn" else ())
    return Stream(entity, kind, spec, declared, cdc=cdc)


def _txn(entity: str, *extra: Field) -> Stream:
    return _make(entity, "txn", (*_TXN, *extra))


def _exchange_rate_id(record: dict[str, Any]) -> str:
    return f"{record.get('SourceCurrencyCode')}-{record.get('TargetCurrencyCode')}-{record.get('AsOfDate')}"


_STREAM_LIST: tuple[Stream, ...] = (
    # Transactions
    _txn("Invoice", CUSTOMER_ID, DUE_DATE, BALANCE),
    _txn("Payment", CUSTOMER_ID, f("unapplied_amt", "numeric", "UnappliedAmt"), DEPOSIT_ACCOUNT),
    _txn("SalesReceipt", CUSTOMER_ID, BALANCE, DEPOSIT_ACCOUNT),
    _txn("CreditMemo", CUSTOMER_ID, BALANCE, f("remaining_credit", "numeric", "RemainingCredit")),
    _txn("RefundReceipt", CUSTOMER_ID, DEPOSIT_ACCOUNT),
    _txn("Estimate", CUSTOMER_ID, f("txn_status", "text", "TxnStatus"), f("expiration_date", "date", "ExpirationDate")),
    _txn("Bill", VENDOR_ID, DUE_DATE, BALANCE, f("ap_account_id", "text", ref("APAccountRef"))),
    _txn("BillPayment", VENDOR_ID, f("pay_type", "text", "PayType")),
    _txn("Purchase", f("payment_type", "text", "PaymentType"), f("account_id", "text", ref("AccountRef")),
         f("entity_id", "text", ref("EntityRef")), f("entity_type", "text", "EntityRef.type")),
    _txn("VendorCredit", VENDOR_ID, BALANCE),
    _txn("Deposit", DEPOSIT_ACCOUNT),
    _txn("JournalEntry", f("adjustment", "boolean", "Adjustment")),
    # Name lists (inactive rows included)
    _make("Customer", "list", (*_PARTY, f("parent_id", "text", ref("ParentRef")), f("is_job", "boolean", "Job"))),
    _make("Vendor", "list", _PARTY),
    _make("Employee", "list", (*_LIST, f("display_name", "text", "DisplayName"),
                               f("hired_date", "date", "HiredDate"), f("released_date", "date", "ReleasedDate"))),
    _make("Item", "list", (*_NAMED, f("type", "text", "Type"), f("sku", "text", "Sku"),
                           f("unit_price", "numeric", "UnitPrice"), f("purchase_cost", "numeric", "PurchaseCost"),
                           f("income_account_id", "text", ref("IncomeAccountRef")),
                           f("expense_account_id", "text", ref("ExpenseAccountRef")))),
    _make("Account", "list", (*_NAMED, f("account_type", "text", "AccountType"),
                              f("account_sub_type", "text", "AccountSubType"),
                              f("classification", "text", "Classification"),
                              f("current_balance", "numeric", "CurrentBalance"),
                              f("currency", "text", ref("CurrencyRef")))),
    _make("Class", "list", _NAMED),
    _make("Department", "list", _NAMED),
    _make("Term", "list", (*_LIST, f("name", "text", "Name"), f("due_days", "integer", "DueDays"))),
    _make("PaymentMethod", "list", (*_LIST, f("name", "text", "Name"), f("type", "text", "Type"))),
    # CDC does not cover TaxCode and TaxRate: they are small, so every run reads them whole.
    _make("TaxCode", "list", (*_LIST, f("name", "text", "Name"), f("taxable", "boolean", "Taxable")), cdc=False),
    _make("TaxRate", "list", (*_LIST, f("name", "text", "Name"), f("rate_value", "numeric", "RateValue")), cdc=False),
    # One record per company
    _make("CompanyInfo", "single", cdc=False, fields=(
        f("sync_token", "integer", "SyncToken"), f("company_name", "text", "CompanyName"),
        f("legal_name", "text", "LegalName"), f("country", "text", "Country"),
        f("fiscal_year_start_month", "text", "FiscalYearStartMonth"))),
    _make("Preferences", "single", cdc=False, fields=(
        f("sync_token", "integer", "SyncToken"), f("home_currency", "text", ref("CurrencyPrefs.HomeCurrency")),
        f("multi_currency_enabled", "boolean", "CurrencyPrefs.MultiCurrencyEnabled"))),
    _make("ExchangeRate", "rate", (f("source_currency", "text", "SourceCurrencyCode"),
                                   f("target_currency", "text", "TargetCurrencyCode"),
                                   f("rate", "numeric", "Rate"), f("as_of_date", "date", "AsOfDate")),
          cdc=False, version=("updated_at",)),
)

STREAMS: dict[str, Stream] = {s.entity: s for s in _STREAM_LIST}

RECORD_ID: dict[str, Callable[[dict[str, Any]], str]] = {"ExchangeRate": _exchange_rate_id}
