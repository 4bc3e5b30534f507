"""GET /v3/company/{realm}/reports/{ProfitAndLoss|BalanceSheet}: computed from the company's own records.

Parameters: start_date, end_date (YYYY-MM-DD; both or neither, neither meaning this fiscal year to date),
accounting_method (Accrual, the default, or Cash), summarize_column_by (Total, the default, or Month).
ledger_rules.py says which record counts where and when on each basis. Like QBO, any range is
answered; keeping requests to about six months is the client's rule.

The body is the bare report (Header, Columns, Rows), as recorded in vcr/reports/profit_and_loss.yml.
A month column carries StartDate/EndDate/ColKey metadata; a partial month is titled like
"Jan 15-31, 2026" (reconstructed: no recording shows one).
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from . import fault_bodies
from .clock import format_timestamp
from .gate import STATE_KEY
from .ledger import Basis
from .ledger_rules import build_ledger
from .report_rows import Period, activity, balance_sheet_rows, profit_and_loss_rows
from .responses import reply

REPORTS = ("ProfitAndLoss", "BalanceSheet")
_METHODS: dict[str, Basis] = {"accrual": "Accrual", "cash": "Cash"}
_SUMMARIES = {"total": "Total", "month": "Month"}


class ReportParamError(ValueError):
    def __init__(self, element: str, detail: str) -> None:
        super().__init__(detail)
        self.element = element
        self.detail = detail


def month_periods(start: date, end: date) -> list[Period]:
    """Calendar months from start to end, the first and last cut to the range."""
    periods = []
    first = start
    while first <= end:
        last = min(end, first.replace(day=monthrange(first.year, first.month)[1]))
        periods.append(Period(first, last))
        first = last + timedelta(days=1)
    return periods


def month_title(period: Period) -> str:
    month = period.start.strftime("%b")
    whole = period.start.day == 1 and period.end.day == monthrange(period.end.year, period.end.month)[1]
    if whole:
        return f"{month} {period.start.year}"
    if period.start == period.end:
        return f"{month} {period.start.day}, {period.start.year}"
    return f"{month} {period.start.day}-{period.end.day}, {period.start.year}"


def _column(title: str, key: str, period: Period | None = None) -> dict[str, Any]:
    meta = []
    if period is not None:
        meta = [{"Name": "StartDate", "Value": period.start.isoformat()},
                {"Name": "EndDate", "Value": period.end.isoformat()}]
    return {"ColTitle": title, "ColType": "Money", "MetaData": [*meta, {"Name": "ColKey", "Value": key}]}


def _date(params: Any, name: str) -> date | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportParamError(name, f"{name} must be a date as YYYY-MM-DD, got {text!r}") from None


def _choice(params: Any, name: str, allowed: dict[str, Any], default: str) -> Any:
    text = params.get(name, default)
    value = allowed.get(text.lower())
    if value is None:
        raise ReportParamError(name, f"{name} {text!r} is not supported; use one of {sorted(set(allowed.values()))}")
    return value


def _fiscal_year_start(today: date, month: int) -> date:
    return date(today.year if today.month >= month else today.year - 1, month, 1)


def build_report(state: Any, realm: str, name: str, params: Any) -> dict[str, Any]:
    """The report document; raises ReportParamError for a parameter QBO would refuse."""
    basis: Basis = _choice(params, "accounting_method", _METHODS, "Accrual")
    summarize: str = _choice(params, "summarize_column_by", _SUMMARIES, "Total")
    start, end = _date(params, "start_date"), _date(params, "end_date")
    store = state.store(realm)
    ledger = build_ledger(store, basis)
    header: dict[str, Any] = {"Time": format_timestamp(state.clock.now(), store.tz), "ReportName": name}
    if start is None and end is None:
        today = state.clock.now().astimezone(store.tz).date()
        start, end = _fiscal_year_start(today, ledger.fiscal_start_month), today
        header["DateMacro"] = "this fiscal year-to-date"
    if start is None or end is None:
        raise ReportParamError("start_date" if start is None else "end_date", "give both start_date and end_date")
    if start > end:
        raise ReportParamError("start_date", f"start_date {start} is after end_date {end}")
    header.update({"ReportBasis": basis, "StartPeriod": start.isoformat(), "EndPeriod": end.isoformat(),
                   "SummarizeColumnsBy": summarize, "Currency": "USD"})
    whole = Period(start, end)
    months = month_periods(start, end) if summarize == "Month" else []
    columns = [{"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]}]
    columns += [_column(month_title(p), month_title(p), p) for p in months]
    if name == "ProfitAndLoss":
        columns.append(_column("Total", "total"))
        periods = months or [whole]
        values = activity(ledger, periods, with_total=bool(months))
        rows, no_data = profit_and_loss_rows(ledger, values, len(periods) + (1 if months else 0))
    else:
        # A balance sheet has no total across months: each column is the balance at its end date.
        if not months:
            columns.append(_column("Total", "total"))
        rows, no_data = balance_sheet_rows(ledger, months or [whole])
    header["Option"] = [{"Name": "AccountingStandard", "Value": "GAAP"},
                        {"Name": "NoReportData", "Value": "true" if no_data else "false"}]
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows}}


def handle_report(request: web.Request, realm: str, name: str) -> web.Response:
    """Serve one report; the gate has already checked auth, realm, limits and minor version."""
    state = request.app[STATE_KEY]
    now = state.time_text(realm)
    canonical = {r.lower(): r for r in REPORTS}.get(name.lower())
    if canonical is None:
        full = f"https://sandbox-quickbooks.api.intuit.com{request.path}"
        return reply(fault_bodies.unsupported_operation(now, request.path, full), status=400)
    try:
        return reply(build_report(state, realm, canonical, request.query))
    except ReportParamError as error:
        return reply(fault_bodies.fault(now, "Request has invalid or unsupported property", error.detail, "2010",
                                         element=error.element), status=400)
