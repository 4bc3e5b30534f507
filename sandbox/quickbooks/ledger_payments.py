"""Money applied to invoices and bills, in the books: payments and bill payments on either basis.

Accrual: a payment line takes its amount off the invoice (or gives back a credit memo's credit) at the
rate of that invoice, in home cents, so A/R stays the sum of open balances at their own rates; the
payment's unapplied amount is credit at the payment's rate; what the rates leave over is a realized
exchange gain or loss. Bill payments mirror this on A/P.

Cash: each line applied to an invoice (a bill) recognises its amount at the payment's rate as income
(expense), spread over the invoice's (bill's) entries in proportion; the rest stays in A/R (A/P).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from .ledger import Entries, Ledger, allocate, amount, rate_of, rows, txn_date

if TYPE_CHECKING:
    from .store import RealmStore

_Key = tuple[str, int]  # (payment Id, line index)


def _link(line: dict[str, Any]) -> dict[str, Any]:
    # A payment line settles one transaction: its first link.
    links = line.get("LinkedTxn") or [{}]
    return links[0] if isinstance(links[0], dict) else {}


class Applications:
    """Every application of a payment entity's lines, to know a settled transaction's balance before each."""

    def __init__(self, store: RealmStore, payment_entity: str, settled: tuple[str, ...]) -> None:
        self.store = store
        self.settled = settled
        by_target: dict[tuple[str, str], list[tuple[date, int, str, int, int]]] = defaultdict(list)
        for payment in rows(store, payment_entity):
            pid = str(payment.get("Id"))
            for index, line in enumerate(payment.get("Line") or []):
                link = _link(line)
                if link.get("TxnType") in settled:
                    order = (txn_date(payment), len(pid), pid, index, amount(line.get("Amount")))
                    by_target[(str(link["TxnType"]), str(link.get("TxnId")))].append(order)
        self.open_before: dict[_Key, int] = {}
        for (entity, ident), applied in by_target.items():
            target = store.get(entity, ident)
            open_cents = amount((target or {}).get("TotalAmt"))
            for _, _, pid, index, cents in sorted(applied):
                self.open_before[(pid, index)] = open_cents
                open_cents -= cents

    def target(self, line: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        link = _link(line)
        entity = link.get("TxnType")
        record = self.store.get(str(entity), str(link.get("TxnId"))) if entity in self.settled else None
        return (str(entity), record) if record is not None else None

    def relief(self, payment: dict[str, Any], index: int, target: dict[str, Any]) -> int:
        """Home cents this application takes off the target's balance, at the target's own rate."""
        cents = amount(payment["Line"][index].get("Amount"))
        before = self.open_before.get((str(payment.get("Id")), index), cents)
        rate = rate_of(target)
        return round(before * rate) - round((before - cents) * rate)


class PaymentRules:
    """Posts Payment and BillPayment records; `sign` is +1 for receivables (A/R), -1 for payables (A/P)."""

    def __init__(self, ledger: Ledger, applications: Applications, control: str, exchange: str,
                 entries_of: Callable[[dict[str, Any]], Entries], sign: int) -> None:
        self.ledger = ledger
        self.applications = applications
        self.control = control  # A/R or A/P
        self.exchange = exchange
        self.entries_of = entries_of
        self.sign = sign
        self.primary = applications.settled[0]  # Invoice / Bill; the others are credits given back

    def accrual(self, record: dict[str, Any], cash_account: str) -> None:
        day, rate, total = txn_date(record), rate_of(record), amount(record.get("TotalAmt"))
        postings = [(cash_account, self.sign * round(total * rate))]
        applied = 0
        for index, line in enumerate(record.get("Line") or []):
            found = self.applications.target(line)
            if found is None:
                continue
            entity, target = found
            direction = 1 if entity == self.primary else -1
            postings.append((self.control, -self.sign * direction * self.applications.relief(record, index, target)))
            applied += direction * amount(line.get("Amount"))
        postings.append((self.control, -self.sign * round((total - applied) * rate)))
        for account, cents in postings:
            self.ledger.post(day, account, cents)
        self.ledger.post(day, self.exchange, -sum(cents for _, cents in postings))

    def cash(self, record: dict[str, Any], cash_account: str) -> None:
        day, rate = txn_date(record), rate_of(record)
        total = round(amount(record.get("TotalAmt")) * rate)
        self.ledger.post(day, cash_account, self.sign * total)
        recognised = 0
        for line in record.get("Line") or []:
            found = self.applications.target(line)
            if found is None or found[0] != self.primary:
                continue
            entries = self.entries_of(found[1])
            applied = round(amount(line.get("Amount")) * rate)
            if not applied or sum(c for _, c in entries) == 0:
                continue
            for (account, _), share in zip(entries, allocate(applied, [c for _, c in entries]), strict=True):
                self.ledger.post(day, account, -self.sign * share)
            recognised += applied
        # What is not recognised stays with the customer or vendor: a credit, or a prepayment.
        self.ledger.post(day, self.control, self.sign * (recognised - total))
