"""Backdated changes restated incrementally (no rebuild), compared value by value with a full rebuild of the same
rows and with the pandas oracle: a payment moved back two years, an invoice deleted, a customer's first invoice
backdated, a payment re-applied to another invoice. The parts kept beside the points (metric_balance_parts,
metric_distinct_parts) must also equal a rebuild's, or the next refresh would restate from a wrong base."""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from typing import Any

import psycopg
import pytest

from plugins.registry import metric_catalogs
from sandbox.quickbooks.datagen import generate_company
from shared.metrics import rebuild, refresh_dirty
from tests.metrics.conftest import points
from tests.metrics.loading import delete_records, load_records, register
from tests.metrics.oracle import expected_points

CATALOGS = metric_catalogs()
MOMENT = "2026-11-02T10:00:00-08:00"


@pytest.fixture(scope="module")
def company():
    return generate_company("9130350000000091", seed=13, records=1500, years=2)


def _parts(conn: psycopg.Connection, cid: str) -> Counter:
    """What the refresh keeps beside the points: the keyed balances' parts per (metric, day, keys) and the
    distinct counts' parts per (metric, day, dimension members, value)."""
    balances = conn.execute("""SELECT 'balance', metric, day, key1, key2, sum(delta), sum(events)
                               FROM metric_balance_parts WHERE connection_id = %s GROUP BY 2, 3, 4, 5""", (cid,))
    distinct = conn.execute("""SELECT 'distinct', metric, day, dims, value, sum(records), 0 FROM metric_distinct_parts
                               WHERE connection_id = %s GROUP BY 2, 3, 4, 5""", (cid,))
    return Counter({tuple(map(str, row[:5])): row[5:] for row in (*balances, *distinct)})


def _loaded(conn: psycopg.Connection, cid: str, records: dict) -> None:
    register(conn, cid)
    load_records(conn, cid, records)
    assert refresh_dirty(conn, cid, CATALOGS).rebuilt == 13
    # The rebuild joins the overdue receivables' rows by hashing: its planner setting ends with that statement, not
    # with the load's transaction.
    assert conn.execute("SHOW enable_nestloop").fetchone()[0] == "on"
    conn.commit()


def _refreshed_equal_to_rebuild_and_oracle(conn: psycopg.Connection, cid: str, records: dict) -> None:
    result = refresh_dirty(conn, cid, CATALOGS)
    assert result.rebuilt == 0 and result.refreshed > 0
    incremental, parts = points(conn, cid), _parts(conn, cid)
    assert {kind for kind, *_ in parts} == {"balance", "distinct"}
    with conn.transaction(force_rollback=True):  # the next refresh goes on from the incremental state
        rebuild(conn, cid, CATALOGS)
        assert points(conn, cid) == incremental
        assert _parts(conn, cid) == parts
    assert incremental == expected_points(records, 1)


def _touch(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    record.update(fields)
    record["SyncToken"] = str(int(record["SyncToken"]) + 1)
    record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": MOMENT}
    return record


def _back(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=days)).isoformat()


def _applied(records: dict) -> list[tuple[dict, dict]]:
    """(payment, invoice) pairs where the payment's first line pays the invoice."""
    invoices = {i["Id"]: i for i in records["Invoice"]}
    pairs = []
    for payment in records["Payment"]:
        for line in payment.get("Line") or []:
            linked = (line.get("LinkedTxn") or [{}])[0]
            if linked.get("TxnType") == "Invoice" and linked.get("TxnId") in invoices:
                pairs.append((payment, invoices[linked["TxnId"]]))
                break
    return pairs


def test_a_payment_moved_back_two_years(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        _loaded(conn, cid, records)
        payment, _ = max(_applied(records), key=lambda pair: pair[0]["TxnDate"])
        load_records(conn, cid, {"Payment": [_touch(payment, TxnDate=_back(payment["TxnDate"], 730))]})
        _refreshed_equal_to_rebuild_and_oracle(conn, cid, records)


def test_an_invoice_with_payments_applied_deleted(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        _loaded(conn, cid, records)
        _, invoice = min(_applied(records), key=lambda pair: pair[1]["TxnDate"])
        delete_records(conn, cid, "Invoice", [invoice["Id"]], MOMENT)
        records["Invoice"] = [i for i in records["Invoice"] if i["Id"] != invoice["Id"]]
        _refreshed_equal_to_rebuild_and_oracle(conn, cid, records)


def test_a_customers_first_invoice_backdated_before_all_their_activity(pg_dsn, cid, company):
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        _loaded(conn, cid, records)
        busiest = Counter(i["CustomerRef"]["value"] for i in records["Invoice"]).most_common(1)[0][0]
        first = min((i for i in records["Invoice"] if i["CustomerRef"]["value"] == busiest),
                    key=lambda i: i["TxnDate"])
        fields = {"TxnDate": _back(first["TxnDate"], 400)}
        if first.get("DueDate"):
            fields["DueDate"] = _back(first["DueDate"], 400)
        load_records(conn, cid, {"Invoice": [_touch(first, **fields)]})
        _refreshed_equal_to_rebuild_and_oracle(conn, cid, records)


def test_a_payment_re_applied_to_another_invoice_then_backdated_in_a_later_load(pg_dsn, cid, company):
    """Two refreshes in a row: the second restates from the parts the first one left."""
    records = copy.deepcopy(company.records)
    with psycopg.connect(pg_dsn) as conn:
        _loaded(conn, cid, records)
        pairs = _applied(records)
        payment, invoice = pairs[len(pairs) // 2]
        other = next(i for _, i in reversed(pairs) if i["Id"] != invoice["Id"])
        line = copy.deepcopy(payment["Line"][0])
        line["LinkedTxn"] = [{"TxnId": other["Id"], "TxnType": "Invoice"}]
        load_records(conn, cid, {"Payment": [_touch(payment, Line=[line])]})
        _refreshed_equal_to_rebuild_and_oracle(conn, cid, records)
        conn.commit()
        load_records(conn, cid, {"Payment": [_touch(payment, TxnDate=_back(payment["TxnDate"], 500))]})
        _refreshed_equal_to_rebuild_and_oracle(conn, cid, records)
