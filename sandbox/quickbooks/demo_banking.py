"""Bank deposits of received money and the bookkeeper's journal entries."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .demo_base import TxnBase, line
from .demo_context import Draft, base_fields
from .demo_lists import EXPENSE_ACCOUNTS, ref
from .money import to_money

MONTHLY_DEPRECIATION = 45_000  # cents: the truck, written off over about seven years
TRUCK_VALUE = 3_800_000


def build_deposits(builder: TxnBase, sources: list[Draft], count: int) -> list[Draft]:
    """`count` bank deposits that take what reached Undeposited Funds in arrival order, a batch each.

    The last days' receipts wait for the next deposit, and foreign-currency payments stay undeposited:
    the checking account is in USD and QBO deposits a currency only into an account of that currency.
    Fewer deposits only when fewer receipts are waiting than `count`."""
    ctx, rng = builder.ctx, builder.ctx.rng
    cutoff = ctx.as_of - timedelta(days=3)
    waiting = sorted((d for d in sources
                      if d.extra.get("currency") is None and d.extra["total"] > 0 and d.created < cutoff),
                     key=lambda d: d.created)
    count = min(count, len(waiting))
    deposits: list[Draft] = []
    previous = ctx.history_start
    for k in range(count):
        batch = waiting[len(waiting) * k // count:len(waiting) * (k + 1) // count]
        # Taken to the bank within a few days of the batch's last receipt, never before the last deposit.
        moment = max(ctx.after(batch[-1].created, within=timedelta(days=3)), previous + timedelta(minutes=1))
        moment = min(moment, ctx.as_of - timedelta(seconds=1))
        previous = moment
        others: list[tuple[str, int, Draft]] = []
        if rng.random() < 0.1:
            others.append(("Interest", rng.randint(50, 2500), builder.accounts["Interest Earned"]))
        if rng.random() < 0.03:
            others.append(("Owner contribution", rng.randint(10, 50) * 10_000, builder.accounts["Owner's Equity"]))
        total = sum(d.extra["total"] for d in batch) + sum(cents for _, cents, _ in others)
        record: dict[str, Any] = {"DepositToAccountRef": ref(builder.accounts["Checking"]),
                                  "TotalAmt": to_money(total), **base_fields(),
                                  "TxnDate": ctx.local_day(moment).isoformat(),
                                  "CurrencyRef": builder.currency_ref(None), "Line": []}
        deposit = Draft("Deposit", record, moment, moment, extra={"items": batch, "others": others, "total": total})
        for item in batch:
            item.extra["deposit"] = deposit
        deposits.append(deposit)
    return deposits


def link_deposits(deposits: list[Draft]) -> None:
    """Deposit lines name the payments and receipts they bank (QBO writes TxnLineId 0 for those)."""
    for deposit in deposits:
        lines: list[dict[str, Any]] = []
        for number, item in enumerate(deposit.extra["items"], 1):
            lines.append({"Id": str(number), "LineNum": number, "Amount": to_money(item.extra["total"]),
                          "LinkedTxn": [{"TxnId": item.id, "TxnType": item.entity, "TxnLineId": "0"}]})
        for description, cents, account in deposit.extra["others"]:
            number = len(lines) + 1
            lines.append(line(number, description, cents, "DepositLineDetail", {"AccountRef": ref(account)}))
        deposit.record["Line"] = lines


def _month_ends(first: date, last: date) -> list[date]:
    ends = []
    month = date(first.year, first.month, 1)
    while True:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end >= last:
            return ends
        if end >= first:
            ends.append(end)
        month = following


def build_journal_entries(builder: TxnBase, count: int) -> list[Draft]:
    """The truck brought in by the owner, its monthly depreciation, accruals, reclassifications and
    owner contributions: every entry balanced, debits first."""
    ctx, rng = builder.ctx, builder.ctx.rng
    accounts = builder.accounts
    first, last = ctx.local_day(ctx.history_start), ctx.local_day(ctx.as_of)
    entries: list[Draft] = []
    if count <= 0:
        return entries
    entries.append(_entry(builder, first + timedelta(days=1), "Truck contributed by the owner",
                          [("Truck", accounts["Truck"], TRUCK_VALUE, "Debit"),
                           ("Owner contribution", accounts["Owner's Equity"], TRUCK_VALUE, "Credit")]))
    ends = _month_ends(first, last)
    for end in ends[len(ends) - min(len(ends), (count - 1) // 2):]:
        entries.append(_entry(builder, end, "Monthly depreciation",
                              [("Truck depreciation", accounts["Depreciation"], MONTHLY_DEPRECIATION, "Debit"),
                               ("Truck depreciation", accounts["Accumulated Depreciation"], MONTHLY_DEPRECIATION,
                                "Credit")]))
    expenses = [accounts[name] for name in EXPENSE_ACCOUNTS]
    while len(entries) < count:
        day = builder.txn_day()
        kind = rng.choice(("accrual", "accrual", "reclass", "split", "owner"))
        cents = rng.randint(50, 3000) * 100
        if kind == "accrual":
            account = rng.choice(expenses)
            postings = [(f"Accrued {account.record['Name'].lower()}", account, cents, "Debit"),
                        ("Accrual", accounts["Accrued Liabilities"], cents, "Credit")]
        elif kind == "reclass":
            source, target = rng.sample(expenses, 2)
            postings = [("Reclassify", target, cents, "Debit"), ("Reclassify", source, cents, "Credit")]
        elif kind == "split":
            source, one, two = rng.sample(expenses, 3)
            part = rng.randint(1, cents // 100 - 1) * 100
            postings = [("Allocate", one, part, "Debit"), ("Allocate", two, cents - part, "Debit"),
                        ("Allocate", source, cents, "Credit")]
        else:
            postings = [("Owner contribution", accounts["Checking"], cents * 5, "Debit"),
                        ("Owner contribution", accounts["Owner's Equity"], cents * 5, "Credit")]
        entries.append(_entry(builder, day, None, postings))
    return entries


def _entry(builder: TxnBase, day: date, memo: str | None,
           postings: list[tuple[str, Draft, int, str]]) -> Draft:
    ctx, rng = builder.ctx, builder.ctx.rng
    # Month-end entries are booked in the first days of the next month.
    created = ctx.at_business_hours(day + timedelta(days=rng.randint(0, 4)))
    classed = rng.random() < 0.3 and builder.classes
    lines = []
    for index, (description, account, cents, posting) in enumerate(postings):
        detail: dict[str, Any] = {"PostingType": posting, "AccountRef": ref(account)}
        if classed and account.record["Classification"] in ("Expense", "Revenue"):
            detail["ClassRef"] = ref(builder.classes[sorted(builder.classes)[index % len(builder.classes)]])
        entry = line(index, description, cents, "JournalEntryLineDetail", detail)
        # Journal entry lines are numbered from 0 and carry no LineNum in QBO's samples.
        del entry["LineNum"]
        lines.append(entry)
    debits = sum(cents for _, _, cents, posting in postings if posting == "Debit")
    record: dict[str, Any] = {"Adjustment": False, **base_fields(), "TxnDate": day.isoformat(),
                              "CurrencyRef": builder.currency_ref(None)}
    if memo:
        record["PrivateNote"] = memo
    record.update({"Line": lines, "TotalAmt": to_money(debits)})
    return Draft("JournalEntry", record, created, created,
                 extra={"postings": [(account, cents, posting) for _, account, cents, posting in postings]})
