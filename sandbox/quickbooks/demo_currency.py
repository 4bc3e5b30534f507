"""Multicurrency in the demo company: a few customers billed in EUR, CAD or GBP, daily rates, ExchangeRate rows.

QBO records a rate as home-currency units per foreign unit, and in a multicurrency company every
transaction carries `ExchangeRate` (1 in the home currency, as the recorded multicurrency bills show),
foreign ones also `HomeTotalAmt` / `HomeBalance` where Finance.xsd declares them.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from .demo_context import USD, Draft, GenContext, insert_after
from .money import to_cents, to_money

HOME = "USD"
# code -> (name as QBO spells it, a starting rate in USD)
FOREIGN = {"EUR": ("Euro", 1.08), "CAD": ("Canadian Dollar", 0.73), "GBP": ("British Pound Sterling", 1.27)}
# Entities whose Finance.xsd type declares HomeTotalAmt; HomeBalance is declared wherever Balance is.
HOME_TOTAL_ENTITIES = frozenset({"Invoice", "SalesReceipt", "Estimate", "CreditMemo", "RefundReceipt", "Deposit",
                         "JournalEntry"})
HOME_BALANCE_ENTITIES = frozenset({"Invoice", "SalesReceipt", "Estimate", "CreditMemo", "RefundReceipt", "Bill"})


def currency_ref(code: str | None) -> dict[str, str]:
    if code is None or code == HOME:
        return dict(USD)
    return {"value": code, "name": FOREIGN[code][0]}


def home_amount(amount: Any, rate: float) -> int | float:
    return to_money(round(to_cents(amount) * rate))


class Rates:
    """Daily rates per foreign currency: a seeded, mean-reverting random walk, so they drift like real ones."""

    def __init__(self, ctx: GenContext) -> None:
        self.first = ctx.local_day(ctx.history_start) - timedelta(days=40)
        days = (ctx.local_day(ctx.as_of) - self.first).days + 1
        self._series: dict[str, list[float]] = {}
        for code, (_, base) in FOREIGN.items():
            value, series = base, []
            for _ in range(days):
                value += 0.03 * (base - value) + ctx.rng.gauss(0, 0.004) * base
                series.append(round(value, 6))
            self._series[code] = series
        # (currency, day) pairs some transaction used: each becomes an ExchangeRate row.
        self.used: set[tuple[str, date]] = set()

    def lookup(self, code: str, day: date) -> float:
        series = self._series[code]
        return series[min(max((day - self.first).days, 0), len(series) - 1)]

    def rate(self, code: str, day: date) -> float:
        self.used.add((code, day))
        return self.lookup(code, day)


def choose_foreign_customers(ctx: GenContext, customers: list[Draft], count: int) -> None:
    """Bill a few long-standing business customers in a foreign currency (never jobs or parents of jobs,
    whose currency QBO ties to the parent's)."""
    parents = {id(c.extra["parent"]) for c in customers if c.extra.get("parent") is not None}
    candidates = [c for c in customers if c.extra.get("business") and not c.record["Job"] and id(c) not in parents]
    # The earliest ones, so that they have a history of invoices and payments.
    candidates = sorted(candidates, key=lambda d: d.created)[:max(count, len(candidates) // 3)]
    codes = list(FOREIGN)
    for index, customer in enumerate(ctx.rng.sample(candidates, min(count, len(candidates)))):
        code = codes[index % len(codes)]
        customer.extra["currency"] = code
        customer.record["CurrencyRef"] = currency_ref(code)


def apply_currency(by_entity: dict[str, list[Draft]], rates: Rates) -> None:
    """Fill ExchangeRate (and the home-currency amounts of foreign transactions) from each TxnDate's rate."""
    for entity, drafts in by_entity.items():
        for draft in drafts:
            record = draft.record
            code = draft.extra.get("currency")
            if code is None:
                insert_after(record, "CurrencyRef", "ExchangeRate", 1)
                continue
            rate = rates.rate(code, date.fromisoformat(record["TxnDate"]))
            insert_after(record, "CurrencyRef", "ExchangeRate", rate)
            if entity in HOME_TOTAL_ENTITIES:
                insert_after(record, "TotalAmt", "HomeTotalAmt", home_amount(record["TotalAmt"], rate))
            if entity in HOME_BALANCE_ENTITIES and "Balance" in record:
                insert_after(record, "Balance", "HomeBalance", home_amount(record["Balance"], rate))


def exchange_rate_drafts(ctx: GenContext, rates: Rates) -> list[Draft]:
    """One row per currency for the first of every month, and for every day a transaction used a rate."""
    first, last = ctx.local_day(ctx.history_start), ctx.local_day(ctx.as_of)
    wanted = set(rates.used)
    month = date(first.year, first.month, 1)
    while month <= last:
        wanted.update((code, month) for code in FOREIGN)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    drafts = []
    for code, day in sorted(wanted, key=lambda pair: (pair[1], pair[0])):
        # QBO refreshes its rates at the start of the day.
        moment = min(ctx.local_moment(day, time(0, 5)), ctx.as_of - timedelta(minutes=1))
        record = {"SyncToken": "0", "AsOfDate": day.isoformat(), "SourceCurrencyCode": code,
                  "Rate": rates.lookup(code, day), "TargetCurrencyCode": HOME, "MetaData": {}}
        drafts.append(Draft("ExchangeRate", record, moment, moment, only_last_updated=True))
    return drafts

