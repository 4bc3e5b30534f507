"""QuickBooks reports for reconciliation: request windows and parameters, and the report tree flattened.

A QBO report is a Header / Columns / Rows tree (rows nest as sections with Header, Rows and Summary).
`flatten_report` turns any report into one row per (report row, column), generic over the columns, so
the Profit and Loss by month, the Balance Sheet and the General Ledger all come out the same way.
Everything here is pure: no I/O.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.db.fields import Field, Fields
from shared.db.loader import ChildTable, Column, TableSpec

MAX_WINDOW_MONTHS = 6  # QBO asks clients to keep each report request to about six months
REPORTS = ("ProfitAndLoss", "BalanceSheet")
METHODS = ("Accrual", "Cash")
ROW_KINDS = ("Header", "Data", "Summary")
# Header fields that narrow a report; two reports differing in them are different facts.
_FILTERS = ("Customer", "Vendor", "Employee", "Item", "Class", "Department")
# Columns whose cells are numbers: "Money" (P&L, Balance Sheet), "Rate", and the GL's *_amount / *_bal.
_NUMERIC = re.compile(r"^(money|rate)$|amount|(^|_)bal($|_)", re.IGNORECASE)

REPORT_ROW_COLUMNS = (
    Column("position", "integer"),
    Column("column_index", "integer"),
    Column("report", "text"),
    Column("basis", "text"),
    Column("period_start", "date"),
    Column("period_end", "date"),
    Column("column_key", "text"),
    Column("column_title", "text"),
    Column("section_path", "text"),
    Column("row_kind", "text"),
    Column("row_group", "text"),
    Column("label", "text"),
    Column("account_id", "text"),
    Column("account_name", "text"),
    Column("value", "numeric"),
    Column("text", "text"),
)


def report_rows(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The qbo_report_row values of one report, in REPORT_ROW_COLUMNS order."""
    return [
        (r["position"], r["column_index"], r["report"], r["basis"], r["period_start"], r["period_end"],
         r["column_key"], r["column_title"], r["section_text"], r["row_kind"], r["row_group"], r["label"],
         r["account_id"], r["account_name"], r["value"], r["text"])
        for r in flatten_report(doc)
    ]


# A report record (report_record) read into qbo_report's typed columns.
REPORT_FIELDS = Fields(
    Field("report", "text", lambda record: record["report"]),
    Field("basis", "text", lambda record: record["basis"]),
    Field("window_start", "date", lambda record: date.fromisoformat(record["window_start"])),
    Field("window_end", "date", lambda record: date.fromisoformat(record["window_end"])),
    Field("report_filter", "text", lambda record: report_filter(record["doc"])),
)

REPORT_TABLE = TableSpec(
    table="qbo_report",
    columns=REPORT_FIELDS.columns,
    children=(ChildTable("qbo_report_row", "report_id", REPORT_ROW_COLUMNS, report_rows),),
    # A report has no version of its own, only the time it was run: it is rewritten (rows replaced) when its
    # content changes, so an unchanged report fetched again leaves the tables as they were.
    version=(),
)


# -- requests ----------------------------------------------------------------------------------------
def _month_start(day: date, months_later: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return day.replace(day=monthrange(day.year, day.month)[1])


def _months_spanned(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def report_windows(start: date, end: date, months: int = MAX_WINDOW_MONTHS) -> list[tuple[date, date]]:
    """Windows of whole calendar months covering start..end, each at most `months` months long.

    The first window begins on the 1st of start's month and the last ends on the last day of end's month,
    so every month column is a whole month and keeps the same period (hence the same record ids) between
    runs; a month later than today simply has no activity yet.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if months < 1:
        raise ValueError("a window needs at least one month")
    windows = []
    first = _month_start(start)
    while first <= end:
        last = min(_month_end(_month_start(first, months - 1)), _month_end(end))
        windows.append((first, last))
        first = _month_start(first, months)
    return windows


def report_query(report: str, start: date, end: date, method: str, *, minor_version: int = 75) -> dict[str, str]:
    """Query parameters of one report request, monthly columns; refuses a window over six months."""
    if report not in REPORTS:
        raise ValueError(f"unsupported report {report!r}; use one of {REPORTS}")
    if method not in METHODS:
        raise ValueError(f"accounting method must be one of {METHODS}, got {method!r}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if _months_spanned(start, end) > MAX_WINDOW_MONTHS:
        raise ValueError(f"{start}..{end} spans more than {MAX_WINDOW_MONTHS} months; split it with report_windows")
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "accounting_method": method,
            "summarize_column_by": "Month", "minorversion": str(minor_version)}


# -- flattening --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Col:
    index: int
    key: str | None  # ColKey metadata, when the report gives one
    title: str
    type: str
    start: date | None
    end: date | None


def _meta(column: dict[str, Any]) -> dict[str, str]:
    return {str(m.get("Name")): str(m.get("Value")) for m in column.get("MetaData") or [] if isinstance(m, dict)}


def _as_date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10]) if text not in (None, "") else None
    except ValueError:
        return None


def _leaf_columns(columns: list[dict[str, Any]], start: date | None, end: date | None,
                  prefix: str = "") -> list[dict[str, Any]]:
    """Columns as ColData lays them out: nested sub-columns replace their parent, inheriting its period."""
    leaves = []
    for column in columns:
        meta = _meta(column)
        own_start, own_end = _as_date(meta.get("StartDate")) or start, _as_date(meta.get("EndDate")) or end
        title = f"{prefix}{column.get('ColTitle', '')}"
        children = (column.get("Columns") or {}).get("Column") or []
        if children:
            leaves += _leaf_columns(children, own_start, own_end, prefix=f"{title} / " if title else "")
        else:
            leaves.append({"key": meta.get("ColKey"), "title": title, "type": str(column.get("ColType", "")),
                           "start": own_start, "end": own_end})
    return leaves


def _columns(doc: dict[str, Any]) -> list[_Col]:
    header = doc.get("Header") or {}
    start, end = _as_date(header.get("StartPeriod")), _as_date(header.get("EndPeriod"))
    leaves = _leaf_columns((doc.get("Columns") or {}).get("Column") or [], start, end)
    return [_Col(i, c["key"], c["title"], c["type"], c["start"], c["end"]) for i, c in enumerate(leaves)]


def _number(text: str | None, column: _Col) -> Decimal | None:
    if text is None or text.strip() == "" or not _NUMERIC.search(column.type):
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None  # the raw text stays in the row's `text`


def _filters(header: dict[str, Any]) -> str:
    return ";".join(f"{name}={header[name]}" for name in _FILTERS if header.get(name) not in (None, ""))


class _Flattener:
    def __init__(self, doc: dict[str, Any]) -> None:
        header = doc.get("Header") or {}
        self.common = {"report": header.get("ReportName"), "basis": header.get("ReportBasis"),
                       "report_filter": _filters(header), "report_start": _as_date(header.get("StartPeriod")),
                       "report_end": _as_date(header.get("EndPeriod"))}
        columns = _columns(doc)
        # The first column of an account report is the row label itself (ColType "Account"): it is carried
        # by label/account on every row, not repeated as a column of its own.
        self.columns = [c for c in columns if not (c.index == 0 and c.type.lower() == "account")]
        self.out: list[dict[str, Any]] = []
        self.position = 0

    def walk(self, rows: Any, path: list[str], group: str | None, account: tuple[str | None, str | None]) -> None:
        for row in (rows or {}).get("Row") or []:
            if not isinstance(row, dict):
                continue
            own_group = row.get("group") or group
            if "ColData" in row:
                self.emit("Data", row["ColData"], path, own_group, account)
                continue
            header = (row.get("Header") or {}).get("ColData")
            inner_path, inner_account = path, account
            if header:
                inner_path = [*path, _label(header)] if _label(header) else path
                inner_account = _account(header) or account
                self.emit("Header", header, path, own_group, inner_account)
            self.walk(row.get("Rows"), inner_path, own_group, inner_account)
            summary = (row.get("Summary") or {}).get("ColData")
            if summary:
                self.emit("Summary", summary, inner_path, own_group, inner_account)

    def emit(self, kind: str, cells: list[Any], path: list[str], group: str | None,
             inherited: tuple[str | None, str | None]) -> None:
        self.position += 1
        label = _label(cells)
        account_id, account_name = _account(cells) or inherited
        section_path = [*path, label] if label else list(path)
        for column in self.columns:
            cell = cells[column.index] if column.index < len(cells) and isinstance(cells[column.index], dict) else {}
            text = None if cell.get("value") is None else str(cell["value"])
            self.out.append({
                **self.common, "period_start": column.start, "period_end": column.end,
                "column_index": column.index, "column_key": column.key or column.type or None,
                "column_ref": column.key or f"{column.type}#{column.index}", "column_title": column.title,
                "column_type": column.type, "section_path": section_path, "section_text": " > ".join(section_path),
                "row_kind": kind, "row_group": group, "label": label, "account_id": account_id,
                "account_name": account_name, "value": _number(text, column), "text": text,
                "value_id": cell.get("id") or None, "position": self.position,
            })


def _label(cells: list[Any]) -> str | None:
    first = cells[0] if cells and isinstance(cells[0], dict) else {}
    value = first.get("value")
    return str(value) if value not in (None, "") else None


def _account(cells: list[Any]) -> tuple[str, str | None] | None:
    """(id, name) when the row's first cell names an account (carries an id)."""
    first = cells[0] if cells and isinstance(cells[0], dict) else {}
    if first.get("id") in (None, ""):
        return None
    return str(first["id"]), _label(cells)


def flatten_report(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (report row, column), in document order.

    Each row: report, basis, report_filter, report_start/report_end (the request), period_start/period_end
    (the column's StartDate/EndDate metadata, else the header's StartPeriod/EndPeriod), column_index,
    column_key (ColKey, else ColType), column_ref (ColKey, else ColType#index: the column's identity),
    column_title, column_type, section_path (enclosing section headers plus the row's own label) and
    section_text (" > "-joined), row_kind (Header / Data / Summary), row_group (the row's group attribute,
    else its section's), label (first cell), account_id/account_name (the first cell when it carries an
    id, else the nearest enclosing section header that does: the GL's account), value (Decimal for numeric
    columns, None when blank or not a number), text (the cell as sent), value_id (the cell's id, e.g. the
    GL's transaction id), position (1-based ordinal of the report row, the same for all its columns).
    """
    flattener = _Flattener(doc)
    flattener.walk(doc.get("Rows"), [], None, (None, None))
    return flattener.out


def report_generated_at(doc: dict[str, Any]) -> datetime:
    """When QBO ran the report (Header.Time, with its offset)."""
    text = (doc.get("Header") or {}).get("Time")
    if not text:
        raise ValueError("report without Header.Time")
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"report Header.Time {text!r} has no offset")
    return moment


def report_record(report: str, basis: str, start: date, end: date, doc: dict[str, Any]) -> dict[str, Any]:
    """What the landing zone keeps for one fetched report: the request and the whole answer."""
    return {"report": report, "basis": basis, "window_start": start.isoformat(), "window_end": end.isoformat(),
            "doc": doc}


def report_id(record: dict[str, Any]) -> str:
    """Stable across runs: the same report, basis and window is the same record (a newer run replaces it)."""
    return f"{record['report']}:{record['basis']}:{record['window_start']}:{record['window_end']}"


def report_filter(doc: dict[str, Any]) -> str:
    """The filters a report was narrowed by (e.g. "Customer=1"); empty for a whole-company report."""
    return _filters(doc.get("Header") or {})


def without_run_time(doc: dict[str, Any]) -> dict[str, Any]:
    """The report as stored: everything but Header.Time, which changes on every run (the blob keeps it)."""
    header = {k: v for k, v in (doc.get("Header") or {}).items() if k != "Time"}
    return {**doc, "Header": header}
