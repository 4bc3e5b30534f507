"""A pandas oracle: every QuickBooks metric bucket computed from the simulator's records (the source of
truth), independently of the SQL, for comparison with metric_points.

Same definitions as plugins/quickbooks/metrics.py, written the plain way: filter records, compute a date and
an amount per record, group by bucket.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

CENT = Decimal("0.01")
NONE = "(none)"


def _d(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def home(record: dict[str, Any]) -> Decimal:
    if record.get("HomeTotalAmt") is not None:
        return _d(record["HomeTotalAmt"])
    total, rate = _d(record.get("TotalAmt")), _d(record.get("ExchangeRate"))
    if total is not None and rate is not None:
        return (total * rate).quantize(CENT, ROUND_HALF_UP)
    return total


def voided(record: dict[str, Any]) -> bool:
    note = str(record.get("PrivateNote") or "")
    total = record.get("TotalAmt")
    return "Voided" in note and (total is None or Decimal(str(total)) == 0)


def _live(records: dict[str, list[dict[str, Any]]], entity: str) -> list[dict[str, Any]]:
    return [r for r in records.get(entity, []) if not voided(r)]


def _currency(record: dict[str, Any]) -> str:
    return str((record.get("CurrencyRef") or {}).get("value") or NONE)


def bucket(grain: str, day: date, fiscal: int) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if grain == "year":
        return date(day.year, 1, 1)
    shifted = day.month - fiscal  # months since the fiscal year's start month
    year = day.year if shifted >= 0 else day.year - 1
    if grain == "fiscal_year":
        return date(year, fiscal, 1)
    months = shifted % 12 // 3 * 3 + fiscal - 1
    return date(year + months // 12, months % 12 + 1, 1)


GRAINS = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")


def _rows(records: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per metric: rows of (day, value, label, currency, key)."""
    inv = _live(records, "Invoice")
    sr = _live(records, "SalesReceipt")
    cm = _live(records, "CreditMemo")
    rr = _live(records, "RefundReceipt")
    pay = _live(records, "Payment")
    bills = _live(records, "Bill")
    bp = _live(records, "BillPayment")
    pur = _live(records, "Purchase")

    def rows(items: list[dict[str, Any]], label: str, sign: int = 1, value=home) -> list[dict[str, Any]]:
        return [{"day": date.fromisoformat(r["TxnDate"]), "value": sign * value(r), "source": label,
                 "currency": _currency(r)} for r in items]

    def purchase_value(r: dict[str, Any]) -> Decimal:
        return -home(r) if r.get("Credit") is True else home(r)

    def not_card(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [r for r in items if r.get(key) != "CreditCard"]

    customers = [c for c in records.get("Customer", []) if not c.get("Job")]
    return {
        "qbo.revenue_invoiced": rows(inv, "invoice"),
        "qbo.sales_receipts": rows(sr, "sales_receipt"),
        "qbo.credits_and_refunds": rows(cm, "credit_memo") + rows(rr, "refund_receipt"),
        "qbo.net_revenue": rows(inv, "invoice") + rows(sr, "sales_receipt") + rows(cm, "credit_memo", -1)
        + rows(rr, "refund_receipt", -1),
        "qbo.payments_received": rows(pay, "payment"),
        "qbo.expenses": rows(pur, "purchase", value=purchase_value) + rows(bills, "bill"),
        "qbo.net_cash_flow": rows(pay, "payment") + rows(sr, "sales_receipt") + rows(rr, "refund_receipt", -1)
        + rows(not_card(pur, "PaymentType"), "purchase", -1, purchase_value)
        + rows(not_card(bp, "PayType"), "bill_payment", -1),
        "qbo.new_customers": [{"day": date.fromisoformat(c["MetaData"]["CreateTime"][:10]), "value": Decimal(1)}
                              for c in customers],
        "qbo.invoice_count": rows(inv, "invoice"),
        "qbo.average_invoice_value": rows(inv, "invoice"),
        "qbo.active_customers": [{"day": date.fromisoformat(r["TxnDate"]), "value": r["CustomerRef"]["value"],
                                  "source": label}
                                 for items, label in ((inv, "invoice"), (sr, "sales_receipt"))
                                 for r in items if r.get("CustomerRef")],
        "qbo.open_receivables": rows(inv, "invoice") + rows(pay, "payment", -1) + rows(cm, "credit_memo", -1),
        "qbo.overdue_receivables": _overdue_events(inv, pay),
    }


def _overdue_events(invoices: list[dict[str, Any]], payments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {r["Id"]: r for r in invoices}
    events = []
    for inv in invoices:
        due = date.fromisoformat(inv.get("DueDate") or inv["TxnDate"])
        events.append({"day": due + timedelta(days=1), "value": home(inv)})
    for pay in payments:
        paid = date.fromisoformat(pay["TxnDate"])
        for line in pay.get("Line") or []:
            linked = (line.get("LinkedTxn") or [{}])[0]
            inv = by_id.get(linked.get("TxnId")) if linked.get("TxnType") == "Invoice" else None
            if inv is None:
                continue
            due = date.fromisoformat(inv.get("DueDate") or inv["TxnDate"])
            rate = _d(inv.get("ExchangeRate")) or Decimal(1)
            amount = (_d(line["Amount"]) * rate).quantize(CENT, ROUND_HALF_UP)
            events.append({"day": max(paid, due + timedelta(days=1)), "value": -amount})
    return events


DIMENSIONS = {
    "qbo.revenue_invoiced": ("currency",), "qbo.sales_receipts": ("currency",),
    "qbo.credits_and_refunds": ("currency", "source"), "qbo.net_revenue": ("source",),
    "qbo.payments_received": ("currency",), "qbo.expenses": ("source",), "qbo.net_cash_flow": ("source",),
    "qbo.invoice_count": ("currency",), "qbo.average_invoice_value": ("currency",),
    "qbo.active_customers": ("source",),
}
KIND = {"qbo.new_customers": "count", "qbo.invoice_count": "count", "qbo.average_invoice_value": "avg",
        "qbo.active_customers": "distinct", "qbo.open_receivables": "balance", "qbo.overdue_receivables": "balance"}


def _flow(name: str, frame: pd.DataFrame, fiscal: int) -> list[tuple]:
    out = []
    kind = KIND.get(name, "sum")
    for grain in GRAINS:
        frame = frame.assign(bucket=[bucket(grain, d, fiscal) for d in frame["day"]])
        for dimension in ("", *DIMENSIONS.get(name, ())):
            keys = ["bucket"] if not dimension else ["bucket", dimension]
            for key, group in frame.groupby(keys, sort=False):
                member = "" if not dimension else key[1]  # groupby on a list of keys gives tuples
                values = list(group["value"])
                if kind == "sum":
                    value = sum(values, Decimal(0))
                elif kind == "count":
                    value = Decimal(len(values))
                elif kind == "avg":
                    value = (sum(values, Decimal(0)) / len(values)).quantize(CENT, ROUND_HALF_UP)
                else:
                    value = Decimal(len(set(values)))
                out.append((name, grain, key[0], dimension, member, value, len(values)))
    return out


def _balance(name: str, frame: pd.DataFrame, fiscal: int) -> list[tuple]:
    if frame.empty:
        return []
    daily = frame.groupby("day")["value"].agg(lambda v: sum(v, Decimal(0)))
    events = frame.groupby("day")["value"].size()
    first, last = min(daily.index), max(daily.index)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    running, balances = Decimal(0), {}
    for day in days:
        running += daily.get(day, Decimal(0))
        balances[day] = running
    out = []
    for grain in GRAINS:
        buckets: dict[date, list[date]] = {}
        for day in days:
            buckets.setdefault(bucket(grain, day, fiscal), []).append(day)
        for start, members in buckets.items():
            out.append((name, grain, start, "", "", balances[members[-1]], int(sum(events.get(d, 0) for d in members))))
    return out


def expected_points(records: dict[str, list[dict[str, Any]]], fiscal: int = 1) -> set[tuple]:
    """{(metric, grain, bucket, dimension, member, value, count)} for every bucket with data."""
    points: set[tuple] = set()
    for name, rows in _rows(records).items():
        frame = pd.DataFrame(rows, columns=["day", "value", "source", "currency"]) if rows else pd.DataFrame(
            columns=["day", "value", "source", "currency"])
        if frame.empty:
            continue
        computed = _balance(name, frame, fiscal) if KIND.get(name) == "balance" else _flow(name, frame, fiscal)
        points.update(computed)
    return points


# -- monday.com (plugins/monday/metrics.py), from monday_item rows ------------------------------------------------
MONDAY_DIMENSIONS = ("board", "group", "person")
DAY_SECONDS = Decimal(86400)


def _local_day(moment: Any, tz: str) -> date:
    return pd.Timestamp(moment).tz_convert(tz).date()


def _median(values: list[Decimal]) -> Decimal:
    """percentile_cont(0.5) in double precision, then numeric (15 significant digits) rounded to cents."""
    ordered = sorted(float(v) for v in values)
    position = 0.5 * (len(ordered) - 1)
    floor = int(position)
    low, high = ordered[floor], ordered[min(floor + 1, len(ordered) - 1)]
    value = low + (high - low) * (position - floor)
    return Decimal(f"{value:.15g}").quantize(CENT, ROUND_HALF_UP)


def _monday_flow(name: str, rows: list[dict[str, Any]], kind: str) -> list[tuple]:
    out = []
    for grain in GRAINS:
        for dimension in ("", *MONDAY_DIMENSIONS):
            groups: dict[tuple[date, str], list[Decimal]] = {}
            for row in rows:
                key = (bucket(grain, row["day"], 1), row[dimension] if dimension else "")
                groups.setdefault(key, []).append(row["value"])
            for (start, member), values in groups.items():
                if kind == "count":
                    value = Decimal(len(values))
                elif kind == "avg":
                    value = (sum(values, Decimal(0)) / len(values)).quantize(CENT, ROUND_HALF_UP)
                else:
                    value = _median(values)
                out.append((name, grain, start, dimension, member, value, len(values)))
    return out


def monday_expected_points(items: list[dict[str, Any]], tz: str = "UTC") -> set[tuple]:
    """Every monday metric bucket from monday_item rows (dicts of its columns), bucketed by local date in `tz`.

    Counted: top-level items (no parent) that are neither tombstoned nor in state 'deleted'; done means is_done
    with a done_at. Open items also leave out archived items."""
    live = [i for i in items if i["deleted_at"] is None and i["state"] != "deleted" and i["parent_item_id"] is None
            and i["created_at"] is not None]

    def dims(item: dict[str, Any]) -> dict[str, str]:
        return {"board": item["board_id"] or NONE, "group": f"{item['board_id'] or ''}:{item['group_id'] or ''}",
                "person": item["creator_id"] or NONE}

    done = [i for i in live if i["is_done"] and i["done_at"] is not None]
    created = [{"day": _local_day(i["created_at"], tz), "value": Decimal(1), **dims(i)} for i in live]
    completed = [{"day": _local_day(i["done_at"], tz), "value": Decimal(1), **dims(i)} for i in done]
    cycle = [{"day": _local_day(i["done_at"], tz), **dims(i),
              "value": Decimal((i["done_at"] - i["created_at"]).total_seconds()) / DAY_SECONDS} for i in done]
    points: set[tuple] = set()
    points.update(_monday_flow("monday.items_created", created, "count"))
    points.update(_monday_flow("monday.items_completed", completed, "count"))
    points.update(_monday_flow("monday.cycle_time", cycle, "avg"))
    points.update(_monday_flow("monday.cycle_time_median", cycle, "median"))
    events = [{"day": _local_day(i["created_at"], tz), "value": Decimal(1)} for i in live if i["state"] != "archived"]
    events += [{"day": _local_day(i["done_at"], tz), "value": Decimal(-1)} for i in done if i["state"] != "archived"]
    if events:
        points.update(_balance("monday.open_items", pd.DataFrame(events), 1))
    return points
