"""A company's books as double-entry postings, derived from its live records: what the reports add up.

Each transaction posts balanced debits and credits (debit positive, integer cents of the home currency),
so a report built from the postings reconciles with the records and a balance sheet always balances.
Which transaction posts what, and when, on each basis: ledger_rules.py (build_ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from .money import to_cents

if TYPE_CHECKING:
    from .store import RealmStore

Basis = Literal["Accrual", "Cash"]
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
Entries = list[tuple[str, int]]  # (account key, cents in the transaction's currency)


@dataclass(frozen=True)
class Account:
    key: str  # the Account Id, or "~Name" for an account the chart lacks (no Account record, so no Id)
    id: str | None
    name: str
    type: str  # QBO's AccountType ("Bank", "Income", ...)


@dataclass(frozen=True)
class Posting:
    day: date
    account: str  # Account.key
    cents: int  # debit positive, credit negative


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` cents in proportion to `weights` so that the parts add up exactly (largest remainder)."""
    total = sum(weights)
    if total < 0:
        return [-share for share in allocate(-amount, [-w for w in weights])]
    if total == 0:
        raise ValueError("weights must not add up to zero")
    shares = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    # Floors never exceed the exact shares, so 0..len-1 cents are left: hand them out by remainder.
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[: amount - sum(shares)]:
        shares[index] += 1
    return shares


def rate_of(record: dict[str, Any]) -> float:
    """Home-currency units per unit of the transaction's currency (1 in the home currency)."""
    try:
        return float(record.get("ExchangeRate") or 1)
    except (TypeError, ValueError):
        return 1.0


def to_home(entries: Entries, rate: float) -> list[int]:
    """Entries in home cents; a foreign total is converted once and spread back, so the sides agree."""
    cents = [c for _, c in entries]
    if rate == 1:
        return cents
    total = sum(cents)
    if total == 0:
        return [round(c * rate) for c in cents]
    return allocate(round(total * rate), cents)


@dataclass
class Ledger:
    basis: Basis
    accounts: dict[str, Account]
    fiscal_start_month: int = 1
    postings: list[Posting] = field(default_factory=list)

    def post(self, day: date, account: str, cents: int) -> None:
        if cents:
            self.postings.append(Posting(day, account, cents))

    def split(self, day: date, entries: Entries, counter: str, rate: float, sign: int) -> int:
        """Post entries with `sign` (1 debit, -1 credit) and their sum opposite on `counter`; returns the home sum."""
        homes = to_home(entries, rate)
        for (account, _), cents in zip(entries, homes, strict=True):
            self.post(day, account, sign * cents)
        self.post(day, counter, -sign * sum(homes))
        return sum(homes)


class Chart:
    """The company's accounts, resolved from references, with stand-ins where the chart lacks one."""

    def __init__(self, store: RealmStore) -> None:
        self.store = store
        self.accounts = {str(row["Id"]): Account(str(row["Id"]), str(row["Id"]), str(row.get("Name", "")),
                                                 str(row.get("AccountType", "")))
                         for row in rows(store, "Account")}

    def synthetic(self, name: str, kind: str) -> str:
        key = f"~{name}"
        self.accounts.setdefault(key, Account(key, None, name, kind))
        return key

    def find(self, *, kind: str | None = None, subtypes: tuple[str, ...] = (), name: str | None = None) -> str | None:
        """The first account matching every given criterion (type, one of the subtypes, name)."""
        for row in rows(self.store, "Account"):
            if kind is not None and row.get("AccountType") != kind:
                continue
            if subtypes and row.get("AccountSubType") not in subtypes:
                continue
            if name is None or row.get("Name") == name:
                return str(row["Id"])
        return None

    def ref(self, ref: Any, fallback: str) -> str:
        value = ref.get("value") if isinstance(ref, dict) else None
        return str(value) if value is not None and str(value) in self.accounts else fallback

    def item_account(self, detail: dict[str, Any], key: str, fallback: str) -> str:
        item = self.store.get("Item", str((detail.get("ItemRef") or {}).get("value", "")))
        return self.ref((item or {}).get(key), fallback)


def rows(store: RealmStore, entity: str) -> list[dict[str, Any]]:
    """An entity's records; an entity this simulator version does not hold has none."""
    return list(store.tables.get(entity, {}).values())


def txn_date(record: dict[str, Any]) -> date:
    return date.fromisoformat(str(record["TxnDate"])[:10])


def amount(value: Any) -> int:
    return to_cents(value)


def fiscal_start_month(store: RealmStore) -> int:
    info = store.get("CompanyInfo", "1") or {}
    month = str(info.get("FiscalYearStartMonth", "January"))
    return MONTHS.index(month) + 1 if month in MONTHS else 1

