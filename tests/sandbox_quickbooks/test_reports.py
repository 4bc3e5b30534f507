"""The simulator's Profit and Loss and Balance Sheet: computed from the records, shaped like QBO's, gated like /v3."""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from plugins.quickbooks.reports import flatten_report
from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits, create_app

from . import reference
from .conftest import REALM, START, TOKEN, Api

Money = dict[str | None, Decimal]  # by account id (None: an account the chart lacks)


async def _report(api: Api, name: str, **params: str) -> dict[str, Any]:
    status, body = await api.get(f"reports/{name}", params)
    assert status == 200, body
    return body


def _month(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=monthrange(day.year, day.month)[1])


def _in(record: dict[str, Any], start: date, end: date) -> bool:
    return start <= date.fromisoformat(record["TxnDate"]) <= end and record.get("PrivateNote") != "Voided"


def _rate(record: dict[str, Any]) -> Decimal:
    return Decimal(str(record.get("ExchangeRate", 1)))


def _home_total(record: dict[str, Any]) -> Decimal:
    """A transaction's total in USD, as QBO gives it (HomeTotalAmt on a foreign-currency transaction)."""
    return Decimal(str(record.get("HomeTotalAmt", record["TotalAmt"])))


class _ByAccount:
    """Line amounts in USD by account, and how many foreign lines each holds: converting a foreign
    transaction rounds to the cent once per line, so those accounts may differ by a cent per such line."""

    def __init__(self) -> None:
        self.amounts: dict[str | None, Decimal] = defaultdict(Decimal)
        self.foreign: dict[str | None, int] = defaultdict(int)

    def add(self, record: dict[str, Any], account: str | None, value: Any, sign: int) -> None:
        self.amounts[account] += sign * Decimal(str(value)) * _rate(record)
        if _rate(record) != 1:
            self.foreign[account] += 1

    def matches(self, reported: Money) -> bool:
        accounts = {a for a, v in self.amounts.items() if v} | set(reported)
        cent = Decimal("0.01")
        return all(abs(reported.get(a, Decimal(0)) - self.amounts.get(a, Decimal(0))) <= cent * self.foreign[a]
                   for a in accounts)


def _income_by_account(state: SimulatorState, start: date, end: date) -> _ByAccount:
    """Sales lines by account, straight from the records: each item line under its item's income account,
    discounts under their discount account; credit memos and refund receipts take income back."""
    items = {item["Id"]: item for item in state.records(REALM, "Item")}
    out = _ByAccount()
    for entity, sign in (("Invoice", 1), ("SalesReceipt", 1), ("CreditMemo", -1), ("RefundReceipt", -1)):
        for record in state.records(REALM, entity):
            if not _in(record, start, end):
                continue
            for line in record["Line"]:
                if line["DetailType"] == "SalesItemLineDetail":
                    item = items[line["SalesItemLineDetail"]["ItemRef"]["value"]]
                    out.add(record, item["IncomeAccountRef"]["value"], line["Amount"], sign)
                elif line["DetailType"] == "DiscountLineDetail":
                    out.add(record, line["DiscountLineDetail"]["DiscountAccountRef"]["value"], line["Amount"], -sign)
    return out


Cost = tuple[str | None, Any, int]  # (account id, amount, +1 debit / -1 credit)


def _expensed(record: dict[str, Any], items: dict[str, Any], types: dict[str, str]) -> list[Cost]:
    """The record's lines that reach the P&L's costs."""
    out: list[Cost] = []
    for line in record["Line"]:
        if line["DetailType"] == "AccountBasedExpenseLineDetail":
            out.append((line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"], line["Amount"], 1))
        elif line["DetailType"] == "ItemBasedExpenseLineDetail":
            # Buying stock adds to the inventory asset, not to costs; other items have an expense account
            # (the demo's non-inventory items have none: they go to "Uncategorized Expense").
            item = items[line["ItemBasedExpenseLineDetail"]["ItemRef"]["value"]]
            if item["Type"] != "Inventory":
                out.append((item.get("ExpenseAccountRef", {}).get("value"), line["Amount"], 1))
        elif line["DetailType"] == "JournalEntryLineDetail":
            detail = line["JournalEntryLineDetail"]
            if types[detail["AccountRef"]["value"]] in ("Expense", "Cost of Goods Sold"):
                out.append((detail["AccountRef"]["value"], line["Amount"],
                            1 if detail["PostingType"] == "Debit" else -1))
    return out


def _expenses_by_account(state: SimulatorState, start: date, end: date, entities: tuple[str, ...]) -> _ByAccount:
    """Cost lines by account: bills, purchases, vendor credits (back) and journal entries to expenses."""
    items = {item["Id"]: item for item in state.records(REALM, "Item")}
    types = {a["Id"]: a["AccountType"] for a in state.records(REALM, "Account")}
    out = _ByAccount()
    for entity in entities:
        for record in state.records(REALM, entity):
            if _in(record, start, end):
                for account, value, sign in _expensed(record, items, types):
                    out.add(record, account, value, -sign if entity == "VendorCredit" else sign)
    return out


def _data(doc: dict[str, Any], column: str, *groups: str) -> Money:
    """Data rows of some sections in one column, by account id, as the plugin flattens them."""
    return {r["account_id"]: r["value"] for r in flatten_report(doc)
            if r["row_kind"] == "Data" and r["row_group"] in groups and r["column_key"] == column and r["value"]}


def _summary(doc: dict[str, Any], group: str) -> dict[str, Decimal]:
    return {r["column_key"]: r["value"] or Decimal(0) for r in flatten_report(doc)
            if r["row_kind"] == "Summary" and r["row_group"] == group}


def _title(day: date) -> str:
    return day.strftime("%b %Y")


def _sales_total(state: SimulatorState, start: date, end: date) -> Decimal:
    """Income of a period in USD: invoices and sales receipts less credit memos and refunds (no tax is charged)."""
    return sum((sign * _home_total(r) for entity, sign in (("Invoice", 1), ("SalesReceipt", 1), ("CreditMemo", -1),
                                                           ("RefundReceipt", -1))
                for r in state.records(REALM, entity) if _in(r, start, end)), Decimal(0))


def _voided_invoice_month(state: SimulatorState) -> date:
    voided = [r for r in state.records(REALM, "Invoice") if r.get("PrivateNote") == "Voided"]
    assert voided, "the demo company should void some invoices"
    return date.fromisoformat(voided[0]["TxnDate"])


_EXPENSES = ("Bill", "Purchase", "VendorCredit", "JournalEntry")


# -- Profit and Loss -------------------------------------------------------------------------------
async def test_accrual_month_income_is_that_months_sales_forms_by_account(api: Api, state: SimulatorState) -> None:
    start, end = _month(_voided_invoice_month(state))  # a month with a voided invoice, which must not count
    doc = await _report(api, "ProfitAndLoss", start_date=start.isoformat(), end_date=end.isoformat(),
                        accounting_method="Accrual", summarize_column_by="Month")
    expected = _income_by_account(state, start, end)
    assert len(expected.amounts) >= 2
    assert expected.matches(_data(doc, _title(start), "Income"))
    assert _summary(doc, "Income")[_title(start)] == _sales_total(state, start, end)


async def test_accrual_month_expenses_are_that_months_bills_purchases_credits_and_journals_by_account(
        api: Api, state: SimulatorState) -> None:
    start, end = date(2026, 2, 1), date(2026, 4, 30)
    doc = await _report(api, "ProfitAndLoss", start_date=start.isoformat(), end_date=end.isoformat(),
                        summarize_column_by="Month")
    for month in (date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)):
        first, last = _month(month)
        assert _expenses_by_account(state, first, last, _EXPENSES).matches(
            _data(doc, _title(month), "Expenses", "COGS"))
    assert _expenses_by_account(state, start, end, _EXPENSES).matches(_data(doc, "total", "Expenses", "COGS"))
    income, expenses, net = _summary(doc, "Income"), _summary(doc, "Expenses"), _summary(doc, "NetIncome")
    cogs, other_income, other_expenses = (_summary(doc, g) for g in ("COGS", "OtherIncome", "OtherExpenses"))
    for key in net:
        assert net[key] == (income[key] - cogs.get(key, 0) - expenses[key] + other_income.get(key, 0)
                            - other_expenses.get(key, 0))


async def test_cash_month_counts_receipts_and_applied_payments_not_invoices_or_bills(
        api: Api, state: SimulatorState) -> None:
    start, end = date(2026, 6, 1), date(2026, 6, 30)
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    cash = await _report(api, "ProfitAndLoss", accounting_method="Cash", **params)
    accrual = await _report(api, "ProfitAndLoss", accounting_method="Accrual", **params)

    def applied(entity: str, settled: str) -> Decimal:
        cent = Decimal("0.01")
        return sum(((Decimal(str(line["Amount"])) * _rate(p)).quantize(cent) for p in state.records(REALM, entity)
                    if _in(p, start, end) for line in p["Line"] if line["LinkedTxn"][0]["TxnType"] == settled),
                   Decimal(0))

    received = sum((sign * _home_total(r) for entity, sign in (("SalesReceipt", 1), ("CreditMemo", -1),
                                                               ("RefundReceipt", -1))
                    for r in state.records(REALM, entity) if _in(r, start, end)), Decimal(0))
    assert _summary(cash, "Income")["total"] == received + applied("Payment", "Invoice")
    assert _summary(cash, "Income")["total"] != _summary(accrual, "Income")["total"]
    spent = sum(_expenses_by_account(state, start, end, ("Purchase", "VendorCredit", "JournalEntry")).amounts.values(),
                Decimal(0))
    # A bill paid counts in the proportion of its lines that are costs (stock bought is an asset).
    items = {item["Id"]: item for item in state.records(REALM, "Item")}
    bills = {b["Id"]: b for b in state.records(REALM, "Bill")}
    paid_lines = [(Decimal(str(line["Amount"])), bills[line["LinkedTxn"][0]["TxnId"]])
                  for p in state.records(REALM, "BillPayment") if _in(p, start, end) for line in p["Line"]]
    for paid, bill in paid_lines:
        costs = sum((Decimal(str(value)) for _, value, _ in _expensed(bill, items, {})), Decimal(0))
        spent += paid * costs / Decimal(str(bill["TotalAmt"]))
    cash_costs = _summary(cash, "Expenses")["total"] + _summary(cash, "COGS").get("total", Decimal(0))
    assert abs(cash_costs - spent) <= Decimal("0.01") * len(paid_lines)
    assert cash["Header"]["ReportBasis"] == "Cash" and accrual["Header"]["ReportBasis"] == "Accrual"


async def test_cash_basis_spreads_a_partial_payment_over_the_invoices_income_accounts(
        api: Api, state: SimulatorState) -> None:
    items = {i["Name"]: i for i in state.records(REALM, "Item")}
    customer = state.records(REALM, "Customer")[0]["Id"]

    def line(item: str, amount: float) -> dict[str, Any]:
        ref = {"value": items[item]["Id"], "name": item}
        return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": ref}}

    invoice = state.create(REALM, "Invoice", {"CustomerRef": {"value": customer}, "TxnDate": "2027-01-05",
                                              "Line": [line("Design", 300.0), line("Gardening", 100.0)]})
    state.create(REALM, "Payment", {"CustomerRef": {"value": customer}, "TxnDate": "2027-02-10", "TotalAmt": 250.0,
                                    "Line": [{"Amount": 200.0, "LinkedTxn": [{"TxnId": invoice,
                                                                               "TxnType": "Invoice"}]}]})
    design, services = items["Design"]["IncomeAccountRef"]["value"], items["Gardening"]["IncomeAccountRef"]["value"]
    params = {"start_date": "2027-01-01", "end_date": "2027-02-28", "summarize_column_by": "Month"}
    accrual = await _report(api, "ProfitAndLoss", accounting_method="Accrual", **params)
    cash = await _report(api, "ProfitAndLoss", accounting_method="Cash", **params)
    assert _data(accrual, "Jan 2027", "Income") == {design: Decimal("300.00"), services: Decimal("100.00")}
    assert _data(accrual, "Feb 2027", "Income") == {}
    assert _data(cash, "Jan 2027", "Income") == {}
    # 200 of 400 paid: half of each line; the 50 not applied is the customer's credit, not income.
    assert _data(cash, "Feb 2027", "Income") == {design: Decimal("150.00"), services: Decimal("50.00")}


async def test_voiding_an_invoice_takes_it_out_of_the_next_report(api: Api, state: SimulatorState) -> None:
    paid = next(r for r in state.records(REALM, "Invoice")
                if r["LinkedTxn"] and r["Balance"] == 0 and r["TxnDate"] >= "2026-01-01")
    start, end = _month(date.fromisoformat(paid["TxnDate"]))
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    before = _summary(await _report(api, "ProfitAndLoss", **params), "Income")["total"]
    state.void(REALM, "Invoice", paid["Id"])
    after_doc = await _report(api, "ProfitAndLoss", **params)
    assert before - _summary(after_doc, "Income")["total"] == _home_total(paid)
    assert _income_by_account(state, start, end).matches(_data(after_doc, "total", "Income"))


async def test_a_deleted_invoice_is_gone_from_the_report(api: Api, state: SimulatorState) -> None:
    invoice = next(r for r in state.records(REALM, "Invoice") if r["TotalAmt"] and r["TxnDate"] >= "2026-01-01")
    start, end = _month(date.fromisoformat(invoice["TxnDate"]))
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    before = _summary(await _report(api, "ProfitAndLoss", **params), "Income")["total"]
    state.delete(REALM, "Invoice", invoice["Id"])
    after = _summary(await _report(api, "ProfitAndLoss", **params), "Income")["total"]
    assert before - after == _home_total(invoice)


# -- Balance Sheet ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["Accrual", "Cash"])
async def test_balance_sheet_balances_in_every_month_column(api: Api, state: SimulatorState, method: str) -> None:
    # Two years at once: six months per request is the client's rule, the simulator answers any range.
    doc = await _report(api, "BalanceSheet", start_date="2024-10-01", end_date="2026-11-30",
                        accounting_method=method, summarize_column_by="Month")
    assets, both = _summary(doc, "TotalAssets"), _summary(doc, "TotalLiabilitiesAndEquity")
    assert len(assets) == 26 and "total" not in assets  # a balance sheet has no total across months
    assert assets == both
    assert len(set(assets.values())) > 1


def _usd(record: dict[str, Any], key: str) -> Decimal:
    """An amount of a record in USD cents rounded as QBO converts it (round(amount x rate) to the cent)."""
    home = {"Balance": "HomeBalance", "TotalAmt": "HomeTotalAmt"}.get(key)
    if home in record:
        return Decimal(str(record[home]))
    return Decimal(round(round(float(record.get(key) or 0) * 100) * float(record.get("ExchangeRate", 1)))) / 100


async def test_balance_sheet_reconciles_with_the_records_open_balances(api: Api, state: SimulatorState) -> None:
    doc = await _report(api, "BalanceSheet", start_date="2026-01-01", end_date="2026-11-30")
    rows = {r["account_name"]: r["value"] for r in flatten_report(doc) if r["row_kind"] == "Data"}

    def total(entity: str, key: str) -> Decimal:
        return sum((_usd(r, key) for r in state.records(REALM, entity)), Decimal(0))

    # A/R: open invoices less unapplied payments and open credit memos, each at its own rate.
    assert rows["Accounts Receivable (A/R)"] == (total("Invoice", "Balance") - total("Payment", "UnappliedAmt")
                                                 - total("CreditMemo", "Balance"))
    assert rows["Accounts Payable (A/P)"] == total("Bill", "Balance") - total("VendorCredit", "Balance")
    deposited = sum((Decimal(str(line["Amount"])) for d in state.records(REALM, "Deposit") for line in d["Line"]
                     if line.get("LinkedTxn")), Decimal(0))
    assert rows["Undeposited Funds"] == total("Payment", "TotalAmt") + total("SalesReceipt", "TotalAmt") - deposited
    # The demo company's own account balances say the same.
    for account in state.records(REALM, "Account"):
        if account["Name"] in ("Accounts Receivable (A/R)", "Accounts Payable (A/P)", "Undeposited Funds",
                               "Checking", "Visa", "Truck", "Accumulated Depreciation", "Accrued Liabilities"):
            assert rows.get(account["Name"], Decimal(0)) == Decimal(str(account["CurrentBalance"])), account["Name"]


async def test_balance_sheet_still_balances_after_a_paid_invoice_is_voided(api: Api, state: SimulatorState) -> None:
    paid = next(r for r in state.records(REALM, "Invoice") if r["LinkedTxn"] and r["Balance"] == 0)
    state.void(REALM, "Invoice", paid["Id"])
    for method in ("Accrual", "Cash"):
        doc = await _report(api, "BalanceSheet", start_date="2026-01-01", end_date="2026-11-30",
                            accounting_method=method, summarize_column_by="Month")
        assert _summary(doc, "TotalAssets") == _summary(doc, "TotalLiabilitiesAndEquity")


# -- shape -----------------------------------------------------------------------------------------
async def test_an_empty_period_looks_exactly_like_the_recorded_report(api: Api) -> None:
    recorded = reference.cassette_bodies("reports/profit_and_loss.yml")[0]
    doc = await _report(api, "ProfitAndLoss", start_date="2015-01-01", end_date="2015-07-31")
    assert doc["Rows"] == recorded["Rows"]
    # The recording is filtered by a customer and summarised by customers; the rest of it is the same.
    assert list(doc["Header"]) == [k for k in recorded["Header"] if k != "Customer"]
    assert [o["Name"] for o in doc["Header"]["Option"]] == [o["Name"] for o in recorded["Header"]["Option"]]
    assert doc["Header"]["Option"][1]["Value"] == "true"
    recorded_columns = recorded["Columns"]["Column"]
    assert doc["Columns"]["Column"][0] == recorded_columns[0]
    assert {**doc["Columns"]["Column"][1], "ColTitle": "TOTAL"} == recorded_columns[1]


async def test_month_columns_carry_their_dates_and_partial_months_say_so(api: Api) -> None:
    doc = await _report(api, "ProfitAndLoss", start_date="2026-01-15", end_date="2026-03-10",
                        summarize_column_by="Month")
    columns = doc["Columns"]["Column"]
    assert [c["ColTitle"] for c in columns] == ["", "Jan 15-31, 2026", "Feb 2026", "Mar 1-10, 2026", "Total"]
    assert columns[2]["MetaData"] == [{"Name": "StartDate", "Value": "2026-02-01"},
                                      {"Name": "EndDate", "Value": "2026-02-28"},
                                      {"Name": "ColKey", "Value": "Feb 2026"}]
    amounts = [c["value"] for row in doc["Rows"]["Row"] if row.get("group") == "Income"
               for data in row["Rows"]["Row"] for c in data["ColData"][1:] if c["value"]]
    assert amounts and all(a.count(".") == 1 and len(a.split(".")[1]) == 2 for a in amounts)


async def test_without_dates_the_report_covers_this_fiscal_year_to_date(api: Api) -> None:
    doc = await _report(api, "BalanceSheet")
    header = doc["Header"]
    assert (header["DateMacro"], header["StartPeriod"], header["EndPeriod"]) == (
        "this fiscal year-to-date", "2026-01-01", "2026-11-01")
    assert header["ReportBasis"] == "Accrual" and header["SummarizeColumnsBy"] == "Total"


@pytest.mark.parametrize(("path", "params", "element"), [
    ("reports/ProfitAndLoss", {"accounting_method": "Modified"}, "accounting_method"),
    ("reports/ProfitAndLoss", {"summarize_column_by": "Customers"}, "summarize_column_by"),
    ("reports/ProfitAndLoss", {"start_date": "2026-02-01"}, "end_date"),
    ("reports/BalanceSheet", {"start_date": "2026-03-01", "end_date": "2026-02-01"}, "start_date"),
    ("reports/BalanceSheet", {"start_date": "2026-13-01", "end_date": "2026-02-01"}, "start_date"),
])
async def test_parameters_it_cannot_serve_are_a_validation_fault(api: Api, path: str, params: dict[str, str],
                                                                 element: str) -> None:
    status, body = await api.get(path, params)
    assert status == 400
    assert body["Fault"]["type"] == "ValidationFault" and body["Fault"]["Error"][0]["element"] == element


async def test_an_unknown_report_is_an_unsupported_operation(api: Api) -> None:
    status, body = await api.get("reports/CashFlow")
    assert status == 400 and body["Fault"]["Error"][0]["Message"] == "Unsupported Operation"


# -- the gate --------------------------------------------------------------------------------------
async def test_reports_need_a_token_a_known_realm_and_a_minor_version(api: Api) -> None:
    assert (await api.get("reports/ProfitAndLoss", token=None))[0] == 401
    assert (await api.get("reports/ProfitAndLoss", token="stolen"))[0] == 401
    assert (await api.get("reports/ProfitAndLoss", realm="123"))[0] == 403
    status, body = await api.get("reports/ProfitAndLoss", minorversion=None)
    assert status == 400 and body["Fault"]["Error"][0]["element"] == "minorversion"


async def test_reports_are_metered_and_can_be_faulted(api: Api, state: SimulatorState) -> None:
    state.faults.inject("500", path_contains="/reports/")
    assert (await api.get("reports/BalanceSheet"))[0] == 500
    assert (await api.get("reports/BalanceSheet"))[0] == 200
    assert state.stats(REALM)["by_endpoint"] == {"reports": 2}


@pytest.fixture
async def throttled(company: DemoCompany) -> AsyncIterator[Api]:
    state = SimulatorState(companies=[company], clock=SimClock(start=START, frozen=True), access_tokens={TOKEN},
                           limits=ThrottleLimits(per_second=2, per_minute=None))
    async with TestClient(TestServer(create_app(state))) as client:
        yield Api(client)


async def test_reports_share_the_realms_request_limit(throttled: Api) -> None:
    statuses = [(await throttled.get("reports/ProfitAndLoss"))[0] for _ in range(2)]
    statuses.append((await throttled.query("SELECT COUNT(*) FROM Item"))[0])
    assert statuses == [200, 200, 429]
