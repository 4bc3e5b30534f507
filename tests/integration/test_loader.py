"""The loader against real PostgreSQL: dedupe, version guard, tombstones, counts, types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from plugins.quickbooks.streams import INVOICE
from shared.db.loader import RawRecord, upsert_records

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def invoice(id_: str, minute: int, total: str, sync_token: int = 0, deleted: bool = False) -> RawRecord:
    updated = T0 + dt.timedelta(minutes=minute)
    payload = {"Id": id_, "TotalAmt": float(total), "SyncToken": str(sync_token), "Note": 'back\\slash "q" ☃'}
    typed = (sync_token, f"D{id_}", dt.date(2026, 1, 1), None, "7", Decimal(total), Decimal(total), "USD", None, None)
    if deleted:
        typed = (None,) * len(INVOICE.table.columns)
        payload = {"Id": id_, "status": "Deleted"}
    return RawRecord(id=id_, updated_at=updated, payload=payload, typed=typed, created_at=T0, deleted=deleted)


@pytest.fixture
def conn(pg_dsn: str):
    with psycopg.connect(pg_dsn) as c:
        c.execute("DELETE FROM qbo_invoice WHERE connection_id = 'loader-test'")
        c.commit()
        yield c
        c.rollback()
        c.execute("DELETE FROM qbo_invoice WHERE connection_id = 'loader-test'")
        c.commit()


def load(conn, records, batch_rows=5000):
    with conn.transaction():
        return upsert_records(conn, INVOICE.table, "loader-test", "run-1", records, batch_rows=batch_rows)


def rows(conn):
    return conn.execute(
        "SELECT id, total_amt, sync_token, deleted_at IS NOT NULL, payload->>'Note' FROM qbo_invoice "
        "WHERE connection_id = 'loader-test' ORDER BY id"
    ).fetchall()


def test_insert_then_reload_same_versions_changes_nothing(conn):
    first = load(conn, [invoice("1", 0, "10.05"), invoice("2", 1, "20.10")])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = load(conn, [invoice("1", 0, "10.05"), invoice("2", 1, "20.10")])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert rows(conn) == [("1", Decimal("10.05"), 0, False, 'back\\slash "q" ☃'),
                          ("2", Decimal("20.10"), 0, False, 'back\\slash "q" ☃')]


def test_older_version_never_overwrites_newer(conn):
    load(conn, [invoice("1", 5, "50.00", sync_token=2)])
    result = load(conn, [invoice("1", 1, "10.00", sync_token=1)])
    assert result.updated == 0 and result.unchanged == 1
    assert rows(conn)[0][1] == Decimal("50.00")


def test_duplicates_within_and_across_batches_keep_the_newest(conn):
    records = [invoice("1", 1, "1.00", 1), invoice("1", 3, "3.00", 3), invoice("1", 2, "2.00", 2)]
    load(conn, records, batch_rows=2)
    assert rows(conn)[0][1:3] == (Decimal("3.00"), 3)


def test_same_timestamp_newer_sync_token_wins(conn):
    load(conn, [invoice("1", 1, "1.00", 1)])
    result = load(conn, [invoice("1", 1, "9.00", 2)])
    assert result.updated == 1
    assert rows(conn)[0][1] == Decimal("9.00")


def test_tombstone_keeps_last_payload_and_counts_as_deleted(conn):
    load(conn, [invoice("1", 1, "12.34")])
    result = load(conn, [invoice("1", 9, "0", deleted=True)])
    assert result.deleted == 1
    assert rows(conn) == [("1", Decimal("12.34"), 0, True, 'back\\slash "q" ☃')]
    # A late, older update does not resurrect the deleted record.
    late = load(conn, [invoice("1", 5, "99.00", 4)])
    assert late.updated == 0
    assert rows(conn)[0][3] is True


def test_naive_timestamp_is_rejected_and_nothing_is_written(conn):
    bad = RawRecord(id="9", updated_at=dt.datetime(2026, 1, 1), payload={}, typed=(None,) * 10)
    with pytest.raises(ValueError, match="naive"):
        load(conn, [invoice("8", 0, "1.00"), bad])
    assert rows(conn) == []
