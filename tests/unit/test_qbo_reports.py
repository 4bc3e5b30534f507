"""Report windows, query parameters and flattening, checked against the recorded QBO report traffic."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from plugins.quickbooks.reports import (
    flatten_report,
    report_generated_at,
    report_id,
    report_query,
    report_record,
    report_windows,
)
from tests.reference import cassette


def _recorded(name: str) -> dict[str, Any]:
    (interaction,) = cassette(f"quickbooks/vcr/reports/{name}")
    assert interaction.status == 200
    return json.loads(interaction.body)


@pytest.fixture(scope="module")
def pnl() -> dict[str, Any]:
    return _recorded("profit_and_loss.yml")


@pytest.fixture(scope="module")
def gl() -> dict[str, Any]:
    return _recorded("gl.yml")


def _monthly_pnl() -> dict[str, Any]:
    """A P&L by month in the shape QBO sends (two months and a Total), with a sub-account section."""
    def money(title: str, key: str, start: str | None = None, end: str | None = None) -> dict[str, Any]:
        meta = [{"Name": "StartDate", "Value": start}, {"Name": "EndDate", "Value": end}] if start else []
        return {"ColTitle": title, "ColType": "Money", "MetaData": [*meta, {"Name": "ColKey", "Value": key}]}

    def cells(label: str, *values: str, ident: str | None = None) -> list[dict[str, str]]:
        first = {"value": label, **({"id": ident} if ident else {})}
        return [first, *({"value": v} for v in values)]

    return {
        "Header": {"Time": "2026-03-02T09:15:00-08:00", "ReportName": "ProfitAndLoss", "ReportBasis": "Cash",
                   "StartPeriod": "2026-01-01", "EndPeriod": "2026-02-28", "SummarizeColumnsBy": "Month",
                   "Currency": "USD", "Option": [{"Name": "NoReportData", "Value": "false"}]},
        "Columns": {"Column": [
            {"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]},
            money("Jan 2026", "Jan 2026", "2026-01-01", "2026-01-31"),
            money("Feb 2026", "Feb 2026", "2026-02-01", "2026-02-28"),
            money("Total", "total")]},
        "Rows": {"Row": [
            {"Header": {"ColData": cells("Income", "", "", "")},
             "Rows": {"Row": [{"ColData": cells("Design income", "100.00", "", "100.00", ident="82"), "type": "Data"},
                              {"ColData": cells("Services", "20.50", "30.00", "50.50", ident="1"), "type": "Data"}]},
             "Summary": {"ColData": cells("Total Income", "120.50", "30.00", "150.50")},
             "type": "Section", "group": "Income"},
            {"Header": {"ColData": cells("Expenses", "", "", "")},
             "Rows": {"Row": [
                 {"Header": {"ColData": cells("Utilities", "", "", "", ident="77")},
                  "Rows": {"Row": [{"ColData": cells("Telephone", "-5.00", "7.25", "2.25", ident="78"),
                                    "type": "Data"}]},
                  "Summary": {"ColData": cells("Total Utilities", "-5.00", "7.25", "2.25")}, "type": "Section"}]},
             "Summary": {"ColData": cells("Total Expenses", "-5.00", "7.25", "2.25")},
             "type": "Section", "group": "Expenses"},
            {"Summary": {"ColData": cells("Net Income", "125.50", "22.75", "148.25")},
             "type": "Section", "group": "NetIncome"}]},
    }


# -- windows and parameters ------------------------------------------------------------------------
def test_windows_are_whole_calendar_months_of_at_most_six() -> None:
    assert report_windows(date(2025, 1, 15), date(2025, 12, 3)) == [
        (date(2025, 1, 1), date(2025, 6, 30)), (date(2025, 7, 1), date(2025, 12, 31))]
    assert report_windows(date(2024, 11, 10), date(2025, 2, 1)) == [(date(2024, 11, 1), date(2025, 2, 28))]
    assert report_windows(date(2025, 3, 31), date(2025, 3, 31)) == [(date(2025, 3, 1), date(2025, 3, 31))]


def test_windows_cover_every_day_once_whatever_the_window_length() -> None:
    start, end = date(2023, 5, 20), date(2026, 2, 2)
    for months in (1, 2, 5, 6, 12):
        windows = report_windows(start, end, months)
        assert windows[0][0] == date(2023, 5, 1) and windows[-1][1] == date(2026, 2, 28)
        for (_, last), (first, _) in pairwise(windows):
            assert (first - last).days == 1
        assert all((b.year - a.year) * 12 + b.month - a.month < months for a, b in windows)


def test_windows_refuse_a_backwards_range() -> None:
    with pytest.raises(ValueError):
        report_windows(date(2025, 2, 1), date(2025, 1, 1))


def test_query_asks_for_monthly_columns_on_the_chosen_basis() -> None:
    assert report_query("ProfitAndLoss", date(2025, 1, 1), date(2025, 6, 30), "Cash") == {
        "start_date": "2025-01-01", "end_date": "2025-06-30", "accounting_method": "Cash",
        "summarize_column_by": "Month", "minorversion": "75"}
    assert report_query("BalanceSheet", date(2025, 7, 1), date(2025, 7, 31), "Accrual",
                        minor_version=76)["minorversion"] == "76"


@pytest.mark.parametrize(("report", "start", "end", "method"), [
    ("ProfitAndLoss", date(2025, 1, 1), date(2025, 7, 1), "Accrual"),  # seven calendar months
    ("ProfitAndLoss", date(2025, 1, 1), date(2025, 2, 1), "accrual"),
    ("GeneralLedger", date(2025, 1, 1), date(2025, 2, 1), "Accrual"),
    ("BalanceSheet", date(2025, 2, 1), date(2025, 1, 1), "Cash"),
])
def test_query_refuses_long_windows_and_unknown_reports_or_methods(report: str, start: date, end: date,
                                                                   method: str) -> None:
    with pytest.raises(ValueError):
        report_query(report, start, end, method)


# -- the recorded Profit and Loss ------------------------------------------------------------------
def test_recorded_profit_and_loss_gives_one_row_per_report_row_in_its_money_column(pnl: dict[str, Any]) -> None:
    rows = flatten_report(pnl)
    # Five sections: Income and Expenses with Header and Summary, three summary-only: 7 report rows.
    assert [(r["row_kind"], r["section_path"], r["row_group"]) for r in rows] == [
        ("Header", ["Income"], "Income"),
        ("Summary", ["Income", "Total Income"], "Income"),
        ("Summary", ["Gross Profit"], "GrossProfit"),
        ("Header", ["Expenses"], "Expenses"),
        ("Summary", ["Expenses", "Total Expenses"], "Expenses"),
        ("Summary", ["Net Operating Income"], "NetOperatingIncome"),
        ("Summary", ["Net Income"], "NetIncome"),
    ]
    assert [r["position"] for r in rows] == list(range(1, 8))
    first = rows[0]
    assert first["report"] == "ProfitAndLoss" and first["basis"] == "Accrual"
    assert first["report_filter"] == "Customer=1"
    # The TOTAL column has no dates of its own: the header's period applies.
    assert (first["period_start"], first["period_end"]) == (date(2015, 1, 1), date(2015, 7, 31))
    assert (first["column_key"], first["column_title"], first["column_type"]) == ("total", "TOTAL", "Money")
    assert rows[1]["section_text"] == "Income > Total Income"
    assert all(r["value"] is None and r["text"] == "" for r in rows)  # NoReportData: every amount blank
    assert all(r["account_id"] is None for r in rows)


def test_monthly_report_takes_each_columns_period_from_its_metadata() -> None:
    rows = flatten_report(_monthly_pnl())
    design = [r for r in rows if r["label"] == "Design income"]
    assert [(r["column_key"], r["period_start"], r["period_end"], r["value"]) for r in design] == [
        ("Jan 2026", date(2026, 1, 1), date(2026, 1, 31), Decimal("100.00")),
        ("Feb 2026", date(2026, 2, 1), date(2026, 2, 28), None),  # blank amount
        ("total", date(2026, 1, 1), date(2026, 2, 28), Decimal("100.00")),
    ]
    assert design[0]["account_id"] == "82" and design[0]["section_path"] == ["Income", "Design income"]
    assert {r["basis"] for r in rows} == {"Cash"}


def test_sub_accounts_keep_their_parents_in_the_section_path() -> None:
    rows = flatten_report(_monthly_pnl())
    phone = next(r for r in rows if r["label"] == "Telephone")
    assert phone["section_text"] == "Expenses > Utilities > Telephone"
    assert (phone["account_id"], phone["account_name"], phone["row_group"]) == ("78", "Telephone", "Expenses")
    parent_total = next(r for r in rows if r["label"] == "Total Utilities")
    # A summary without an id of its own belongs to the account whose section it closes.
    assert (parent_total["account_id"], parent_total["account_name"]) == ("77", "Utilities")


def test_section_totals_equal_the_sum_of_their_data_rows_in_every_column() -> None:
    rows = flatten_report(_monthly_pnl())
    for column in ("Jan 2026", "Feb 2026", "total"):
        in_column = [r for r in rows if r["column_key"] == column]
        data = sum((r["value"] or Decimal(0)) for r in in_column if r["row_kind"] == "Data" and
                   r["row_group"] == "Income")
        total = next(r["value"] for r in in_column if r["label"] == "Total Income")
        assert data == total


# -- the recorded General Ledger -------------------------------------------------------------------
def test_recorded_general_ledger_keeps_all_of_its_columns(gl: dict[str, Any]) -> None:
    rows = flatten_report(gl)
    columns = [(r["column_key"], r["column_title"]) for r in rows if r["position"] == 1]
    assert columns == [("tx_date", "Date"), ("txn_type", "Transaction Type"), ("doc_num", "Num"), ("name", "Name"),
                       ("memo", "Memo/Description"), ("split_acc", "Split"), ("subt_nat_amount", "Amount"),
                       ("rbal_nat_amount", "Balance")]
    assert len(rows) == 8 * len({r["position"] for r in rows})
    assert {(r["period_start"], r["period_end"]) for r in rows} == {(date(2020, 9, 1), date(2020, 9, 29))}


def test_general_ledger_rows_belong_to_the_account_of_their_section(gl: dict[str, Any]) -> None:
    rows = flatten_report(gl)
    invoice = {r["column_key"]: r for r in rows
               if r["row_kind"] == "Data" and r["account_id"] == "84" and r["label"] == "2020-09-29"
               and any(x["value_id"] == "264" and x["position"] == r["position"] for x in rows)}
    assert invoice["txn_type"]["text"] == "Invoice" and invoice["txn_type"]["value_id"] == "264"
    assert invoice["doc_num"]["text"] == "1041" and invoice["doc_num"]["value"] is None  # a number, not money
    assert invoice["name"]["text"] == "Amy's Bird Sanctuary" and invoice["name"]["value_id"] == "1"
    assert invoice["subt_nat_amount"]["value"] == Decimal("100.00")
    assert invoice["rbal_nat_amount"]["value"] == Decimal("5104.02")
    assert invoice["tx_date"]["account_name"] == "Accounts Receivable (A/R)"
    assert invoice["tx_date"]["section_path"] == ["Accounts Receivable (A/R)", "2020-09-29"]


def test_general_ledger_beginning_balances_keep_sign_and_nesting(gl: dict[str, Any]) -> None:
    rows = flatten_report(gl)
    balances = {(r["account_name"], r["section_text"]): r["value"] for r in rows
                if r["label"] == "Beginning Balance" and r["column_key"] == "rbal_nat_amount"}
    assert balances[("Checking", "Checking > Beginning Balance")] == Decimal("976.00")
    assert balances[("Opening Balance Equity", "Opening Balance Equity > Beginning Balance")] == Decimal("-9337.50")
    # Truck has a sub-section without an id: its rows still belong to Truck (id 38).
    assert balances[("Truck", "Truck > Original Cost > Beginning Balance")] == Decimal("13495.00")
    assert next(r["account_id"] for r in rows if r["section_text"] == "Truck > Original Cost") == "38"


def test_general_ledger_section_totals_are_the_sum_of_their_transactions(gl: dict[str, Any]) -> None:
    rows = [r for r in flatten_report(gl) if r["column_key"] == "subt_nat_amount"]
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["row_kind"] == "Data" and row["value"] is not None:
            sums[row["account_id"]] += row["value"]
    totals = {r["account_name"]: r["value"] for r in rows if r["row_kind"] == "Summary" and r["value"] is not None}
    # The recording gives a total where an account had transactions in the period.
    assert totals == {"Accounts Receivable (A/R)": Decimal("200.00"), "Undeposited Funds": Decimal("337.50"),
                      "Design income": Decimal("337.50"), "Services": Decimal("200.00")}
    by_name = {r["account_name"]: r["account_id"] for r in rows}
    assert all(sums[by_name[name]] == total for name, total in totals.items())


# -- report records and their rows ---------------------------------------------------------------
def test_a_report_record_is_one_row_per_report_basis_and_window_with_its_rows_as_children() -> None:
    from plugins.quickbooks import PLUGIN

    doc = _monthly_pnl()
    record = report_record("ProfitAndLoss", "Cash", date(2026, 1, 1), date(2026, 2, 28), doc)
    raw = PLUGIN.to_raw("Report", record)
    assert raw.id == "ProfitAndLoss:Cash:2026-01-01:2026-02-28" == report_id(record)
    assert raw.updated_at == report_generated_at(doc) == datetime(2026, 3, 2, 17, 15, tzinfo=UTC)
    assert raw.typed == ("ProfitAndLoss", "Cash", date(2026, 1, 1), date(2026, 2, 28), "")
    (child,) = PLUGIN.table("Report").children
    rows = child.rows(raw.payload)
    assert len(rows) == len(flatten_report(doc))
    services = dict(zip((c.name for c in child.columns), next(
        r for r in rows if r[11] == "Services" and r[6] == "Feb 2026"), strict=True))
    assert services == {"position": 3, "column_index": services["column_index"], "report": "ProfitAndLoss",
                        "basis": "Cash", "period_start": date(2026, 2, 1), "period_end": date(2026, 2, 28),
                        "column_key": "Feb 2026", "column_title": "Feb 2026", "section_path": "Income > Services",
                        "row_kind": "Data", "row_group": "Income", "label": "Services", "account_id": "1",
                        "account_name": "Services", "value": Decimal("30.00"), "text": "30.00"}
    with pytest.raises(ValueError):
        bad = json.loads(json.dumps(doc))
        bad["Header"]["Time"] = "2026-03-02T09:15:00"
        PLUGIN.to_raw("Report", report_record("ProfitAndLoss", "Cash", date(2026, 1, 1), date(2026, 2, 28), bad))

