"""The Rows tree of the simulated Profit and Loss and Balance Sheet, in the shape QBO sends.

Shape from vcr/reports/profit_and_loss.yml: sections {Header?, Rows?, Summary, type: "Section", group},
data rows {ColData: [{value, id}, ...], type: "Data"}; the first ColData is the label (an account
carries its id), the others are amounts as text with two decimals. A data row's zero amount is blank,
a summary's is "0.00"; a report with no data at all leaves every amount blank and says NoReportData.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from .ledger import Account, Ledger

Row = dict[str, Any]
Values = list[int]

# P&L sections: (group, header, summary label, account types). Income and Expenses always show.
_INCOME = ("Income", "Income", "Total Income", ("Income",))
_COGS = ("COGS", "Cost of Goods Sold", "Total Cost of Goods Sold", ("Cost of Goods Sold",))
_EXPENSES = ("Expenses", "Expenses", "Total Expenses", ("Expense",))
_OTHER_INCOME = ("OtherIncome", "Other Income", "Total Other Income", ("Other Income",))
_OTHER_EXPENSES = ("OtherExpenses", "Other Expenses", "Total Other Expenses", ("Other Expense",))
PL_TYPES = frozenset(t for s in (_INCOME, _COGS, _EXPENSES, _OTHER_INCOME, _OTHER_EXPENSES) for t in s[3])
_CREDIT_NORMAL = frozenset({"Income", "Other Income", "Accounts Payable", "Credit Card", "Other Current Liability",
                            "Long Term Liability", "Equity"})


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _amounts(values: Values, *, blank_zero: bool, no_data: bool) -> list[dict[str, str]]:
    return [{"value": "" if no_data or (blank_zero and v == 0) else money(v)} for v in values]


def data_row(label: str, values: Values, account_id: str | None = None, *, no_data: bool = False) -> Row:
    first: dict[str, str] = {"value": label}
    if account_id is not None:
        first["id"] = account_id
    return {"ColData": [first, *_amounts(values, blank_zero=True, no_data=no_data)], "type": "Data"}


def summary_row(label: str, group: str, values: Values, *, no_data: bool) -> Row:
    return {"Summary": {"ColData": [{"value": label}, *_amounts(values, blank_zero=False, no_data=no_data)]},
            "type": "Section", "group": group}


def section_row(header: str, group: str, summary: str, rows: list[Row], totals: Values, *, no_data: bool) -> Row:
    out: Row = {"Header": {"ColData": [{"value": header}, *({"value": ""} for _ in totals)]}}
    if rows:
        out["Rows"] = {"Row": rows}
    out.update(summary_row(summary, group, totals, no_data=no_data))
    return out


def _add(a: Values, b: Values, sign: int = 1) -> Values:
    return [x + sign * y for x, y in zip(a, b, strict=True)]


def _natural(account: Account, cents: int) -> int:
    # Reports show credit-normal accounts (income, liabilities, equity) as positive balances.
    return -cents if account.type in _CREDIT_NORMAL else cents


def _sorted(ledger: Ledger, values: dict[str, Values], types: tuple[str, ...]) -> list[tuple[Account, Values]]:
    chosen = [(ledger.accounts[k], v) for k, v in values.items() if ledger.accounts[k].type in types and any(v)]
    return sorted(chosen, key=lambda pair: (pair[0].name.lower(), pair[0].key))


# -- Profit and Loss ---------------------------------------------------------------------------------
def activity(ledger: Ledger, periods: list[Period], with_total: bool) -> dict[str, Values]:
    """Each P&L account's amount per period (periods are contiguous and ascending), plus a total."""
    starts = [p.start for p in periods]
    width = len(periods) + (1 if with_total else 0)
    out: dict[str, Values] = defaultdict(lambda: [0] * width)
    for posting in ledger.postings:
        account = ledger.accounts[posting.account]
        if account.type not in PL_TYPES or not periods[0].start <= posting.day <= periods[-1].end:
            continue
        values = out[posting.account]
        values[bisect_right(starts, posting.day) - 1] += _natural(account, posting.cents)
        if with_total:
            values[-1] += _natural(account, posting.cents)
    return dict(out)


def profit_and_loss_rows(ledger: Ledger, values: dict[str, Values], width: int) -> tuple[list[Row], bool]:
    """The P&L rows and whether the report has no data."""
    no_data = not any(any(v) for v in values.values())
    totals: dict[str, Values] = {}
    rows: list[Row] = []

    def section(spec: tuple[str, str, str, tuple[str, ...]], always: bool) -> None:
        group, header, summary, types = spec
        accounts = _sorted(ledger, values, types)
        total = [0] * width
        for _, v in accounts:
            total = _add(total, v)
        totals[group] = total
        if always or accounts:
            data = [data_row(a.name, v, a.id, no_data=no_data) for a, v in accounts]
            rows.append(section_row(header, group, summary, data, total, no_data=no_data))

    section(_INCOME, True)
    section(_COGS, False)
    gross = _add(totals["Income"], totals["COGS"], -1)
    rows.append(summary_row("Gross Profit", "GrossProfit", gross, no_data=no_data))
    section(_EXPENSES, True)
    operating = _add(gross, totals["Expenses"], -1)
    rows.append(summary_row("Net Operating Income", "NetOperatingIncome", operating, no_data=no_data))
    before = len(rows)
    section(_OTHER_INCOME, False)
    section(_OTHER_EXPENSES, False)
    other = _add(totals["OtherIncome"], totals["OtherExpenses"], -1)
    if len(rows) > before:
        rows.append(summary_row("Net Other Income", "NetOtherIncome", other, no_data=no_data))
    rows.append(summary_row("Net Income", "NetIncome", _add(operating, other), no_data=no_data))
    return rows, no_data


# -- Balance Sheet -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Node:
    header: str
    group: str
    summary: str
    types: tuple[str, ...] = ()
    children: tuple[_Node, ...] = ()
    always: bool = False


_ASSETS = _Node("ASSETS", "TotalAssets", "TOTAL ASSETS", always=True, children=(
    _Node("Current Assets", "CurrentAssets", "Total Current Assets", children=(
        _Node("Bank Accounts", "BankAccounts", "Total Bank Accounts", ("Bank",)),
        _Node("Accounts Receivable", "AR", "Total Accounts Receivable", ("Accounts Receivable",)),
        _Node("Other Current Assets", "OtherCurrentAssets", "Total Other Current Assets", ("Other Current Asset",)),
    )),
    _Node("Fixed Assets", "FixedAssets", "Total Fixed Assets", ("Fixed Asset",)),
    _Node("Other Assets", "OtherAssets", "Total Other Assets", ("Other Asset",)),
))
_LIABILITIES = _Node("Liabilities", "Liabilities", "Total Liabilities", always=True, children=(
    _Node("Current Liabilities", "CurrentLiabilities", "Total Current Liabilities", children=(
        _Node("Accounts Payable", "AP", "Total Accounts Payable", ("Accounts Payable",)),
        _Node("Credit Cards", "CreditCards", "Total Credit Cards", ("Credit Card",)),
        _Node("Other Current Liabilities", "OtherCurrentLiabilities", "Total Other Current Liabilities",
              ("Other Current Liability",)),
    )),
    _Node("Long-Term Liabilities", "LongTermLiabilities", "Total Long-Term Liabilities", ("Long Term Liability",)),
))


def _fiscal_start(day: date, month: int) -> date:
    year = day.year if day.month >= month else day.year - 1
    return date(year, month, 1)


def balances(ledger: Ledger, periods: list[Period]) -> tuple[dict[str, Values], Values, Values]:
    """Balance-sheet accounts at each period's end, and retained earnings and net income there."""
    width = len(periods)
    out: dict[str, Values] = defaultdict(lambda: [0] * width)
    retained, net = [0] * width, [0] * width
    fiscal = [_fiscal_start(p.end, ledger.fiscal_start_month) for p in periods]
    for posting in ledger.postings:
        account = ledger.accounts[posting.account]
        for index, period in enumerate(periods):
            if posting.day > period.end:
                continue
            if account.type in PL_TYPES:
                # Profit is equity: earlier fiscal years' as retained earnings, this year's as net income.
                target = net if posting.day >= fiscal[index] else retained
                target[index] -= posting.cents
            else:
                out[posting.account][index] += _natural(account, posting.cents)
    return dict(out), retained, net


def _node_rows(ledger: Ledger, node: _Node, values: dict[str, Values], width: int,
               no_data: bool) -> tuple[Row | None, Values]:
    rows: list[Row] = []
    total = [0] * width
    for account, v in _sorted(ledger, values, node.types):
        rows.append(data_row(account.name, v, account.id, no_data=no_data))
        total = _add(total, v)
    for child in node.children:
        row, child_total = _node_rows(ledger, child, values, width, no_data)
        if row is not None:
            rows.append(row)
            total = _add(total, child_total)
    if not rows and not node.always:
        return None, total
    return section_row(node.header, node.group, node.summary, rows, total, no_data=no_data), total


def balance_sheet_rows(ledger: Ledger, periods: list[Period]) -> tuple[list[Row], bool]:
    """The Balance Sheet rows and whether the report has no data."""
    width = len(periods)
    values, retained, net = balances(ledger, periods)
    no_data = not any(any(v) for v in values.values()) and not any(retained) and not any(net)
    assets, _ = _node_rows(ledger, _ASSETS, values, width, no_data)
    liabilities, liability_total = _node_rows(ledger, _LIABILITIES, values, width, no_data)
    equity_rows = [data_row(a.name, v, a.id, no_data=no_data) for a, v in _sorted(ledger, values, ("Equity",))]
    equity_total = [0] * width
    for _, v in _sorted(ledger, values, ("Equity",)):
        equity_total = _add(equity_total, v)
    if any(retained):
        equity_rows.append(data_row("Retained Earnings", retained, no_data=no_data))
    equity_rows.append(data_row("Net Income", net, no_data=no_data))
    equity_total = _add(_add(equity_total, retained), net)
    equity = section_row("Equity", "Equity", "Total Equity", equity_rows, equity_total, no_data=no_data)
    both = section_row("LIABILITIES AND EQUITY", "TotalLiabilitiesAndEquity", "TOTAL LIABILITIES AND EQUITY",
                       [r for r in (liabilities, equity) if r is not None], _add(liability_total, equity_total),
                       no_data=no_data)
    return [r for r in (assets, both) if r is not None], no_data
