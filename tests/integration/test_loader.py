"""The loader against real PostgreSQL: dedupe, version guard, tombstones, counts, types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from psycopg.types.json import Jsonb

from plugins.quickbooks import PLUGIN
from plugins.quickbooks.streams import STREAMS
from shared.db.fields import Field, Fields
from shared.db.loader import Column, RawRecord, TableSpec, UnwritableRecords, check_typed, upsert_records

INVOICE = STREAMS["Invoice"]
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def invoice(id_: str, minute: int, total: str, sync_token: int = 0, deleted: bool = False,
            lines: int = 1) -> RawRecord:
    updated = (T0 + dt.timedelta(minutes=minute)).isoformat()
    if deleted:
        return PLUGIN.to_raw("Invoice", {"Id": id_, "status": "Deleted", "MetaData": {"LastUpdatedTime": updated}})
    payload = {
        "Id": id_, "SyncToken": str(sync_token), "DocNumber": f"D{id_}", "TxnDate": "2026-01-01",
        "CustomerRef": {"value": "7"}, "CurrencyRef": {"value": "USD"}, "TotalAmt": float(total),
        "Balance": float(total), "Note": 'back\\slash "q" ☃',
        "Line": [{"Id": str(n), "LineNum": n, "Amount": float(total), "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": float(total)}}
                 for n in range(1, lines + 1)] + [{"Amount": float(total), "DetailType": "SubTotalLineDetail",
                                                    "SubTotalLineDetail": {}}],
        "MetaData": {"CreateTime": T0.isoformat(), "LastUpdatedTime": updated},
    }
    return PLUGIN.to_raw("Invoice", payload)


@pytest.fixture
def conn(pg_dsn: str):
    with psycopg.connect(pg_dsn) as c:
        for table in ("qbo_invoice", "qbo_txn_line"):
            c.execute(f"DELETE FROM {table} WHERE connection_id = 'loader-test'")
        c.commit()
        yield c
        c.rollback()
        for table in ("qbo_invoice", "qbo_txn_line"):
            c.execute(f"DELETE FROM {table} WHERE connection_id = 'loader-test'")
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


def test_a_reload_writes_only_what_is_newer_than_stored_and_leaves_the_rest_untouched(conn):
    # One batch mixing every case the pre-check sorts: the same version, an older one, a newer one, a tombstone
    # and a record not stored yet; and one id twice, older then newer than what is stored.
    load(conn, [invoice("1", 1, "1.00", 1), invoice("2", 5, "2.00", 5), invoice("3", 1, "3.00", 1),
                invoice("4", 1, "4.00", 1), invoice("6", 3, "6.00", 3)])
    conn.execute("UPDATE qbo_invoice SET run_id = 'run-0' WHERE connection_id = 'loader-test'")
    conn.commit()
    result = load(conn, [invoice("1", 1, "1.00", 1), invoice("2", 4, "9.00", 4), invoice("3", 2, "3.50", 2),
                         invoice("4", 9, "0", deleted=True), invoice("5", 1, "5.00", 1),
                         invoice("6", 2, "9.00", 2), invoice("6", 4, "6.50", 4)])
    assert (result.staged, result.inserted, result.updated, result.deleted, result.unchanged) == (7, 1, 2, 1, 3)
    assert rows(conn) == [("1", Decimal("1.00"), 1, False, 'back\\slash "q" ☃'),
                          ("2", Decimal("2.00"), 5, False, 'back\\slash "q" ☃'),
                          ("3", Decimal("3.50"), 2, False, 'back\\slash "q" ☃'),
                          ("4", Decimal("4.00"), 1, True, 'back\\slash "q" ☃'),
                          ("5", Decimal("5.00"), 1, False, 'back\\slash "q" ☃'),
                          ("6", Decimal("6.50"), 4, False, 'back\\slash "q" ☃')]
    written = conn.execute("SELECT id FROM qbo_invoice WHERE connection_id = 'loader-test' AND run_id = 'run-1' "
                           "ORDER BY id").fetchall()
    assert [rid for (rid,) in written] == ["3", "4", "5", "6"]  # the unchanged and older ones kept their run
    lines = conn.execute("SELECT txn_id, amount FROM qbo_txn_line WHERE connection_id = 'loader-test' "
                         "AND line_id = '1' ORDER BY txn_id").fetchall()
    assert lines == [("1", Decimal("1.00")), ("2", Decimal("2.00")), ("3", Decimal("3.50")), ("4", Decimal("4.00")),
                     ("5", Decimal("5.00")), ("6", Decimal("6.50"))]


def test_a_batch_whose_looked_up_sample_is_not_stored_still_keeps_the_newer_stored_rows(conn):
    # Only a few ids are looked up before all of them: here every other one is stored, newer, and the others
    # are new, so the lookup may find none of the stored; the upsert's guard still keeps what is newer.
    load(conn, [invoice(f"{n:02d}", 5, "50.00", 5) for n in range(1, 20, 2)])
    result = load(conn, [invoice(f"{n:02d}", 1, "10.00", 1) for n in range(20)])
    assert (result.staged, result.inserted, result.updated, result.unchanged) == (20, 10, 0, 10)
    totals = dict(conn.execute("SELECT id, total_amt FROM qbo_invoice WHERE connection_id = 'loader-test'").fetchall())
    assert totals == {f"{n:02d}": Decimal("50.00") if n % 2 else Decimal("10.00") for n in range(20)}


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


def test_a_delete_reported_again_refines_the_tombstone_without_counting_another_delete(conn):
    # A sweep tombstones the row without knowing when it went; the change feed later reports the delete.
    load(conn, [invoice("1", 1, "12.34"), invoice("2", 1, "5.00")])
    swept = load(conn, [invoice("1", 7, "0", deleted=True)])
    assert swept.deleted == 1
    reported = load(conn, [invoice("1", 9, "0", deleted=True), invoice("2", 9, "0", deleted=True)])
    assert (reported.inserted, reported.updated, reported.deleted, reported.unchanged) == (0, 0, 1, 1)
    deleted_at = conn.execute("SELECT deleted_at FROM qbo_invoice WHERE connection_id = 'loader-test' AND id = '1'")
    assert deleted_at.fetchone()[0] == T0 + dt.timedelta(minutes=9)  # the reported time wins: it is newer
    assert rows(conn) == [("1", Decimal("12.34"), 0, True, 'back\\slash "q" ☃'),
                          ("2", Decimal("5.00"), 0, True, 'back\\slash "q" ☃')]


def test_naive_timestamp_is_rejected_and_nothing_is_written(conn):
    bad = RawRecord(id="9", updated_at=dt.datetime(2026, 1, 1), payload={}, typed=(None,) * len(INVOICE.fields))
    with pytest.raises(ValueError, match="naive"):
        load(conn, [invoice("8", 0, "1.00"), bad])
    assert rows(conn) == []


def test_typed_values_whose_columns_are_swapped_are_refused_loudly_and_nothing_is_written(conn):
    # doc_number and private_note are both text: without the names check they would load into each other.
    declared = list(INVOICE.fields)
    doc, note = (next(i for i, f in enumerate(declared) if f.column == name) for name in ("doc_number", "private_note"))
    declared[doc], declared[note] = declared[note], declared[doc]
    swapped = Fields(*declared)
    good = invoice("8", 0, "1.00")
    bad = RawRecord(id="9", updated_at=T0, payload=good.payload, typed=swapped.read(good.payload),
                    columns=swapped.names)
    with pytest.raises(ValueError, match=rf"qbo_invoice: record 9 .* differ first at position {doc + 1}"):
        load(conn, [good, bad])
    assert rows(conn) == []


def test_typed_values_without_their_column_names_are_refused(conn):
    bare = RawRecord(id="9", updated_at=T0, payload={}, typed=invoice("8", 0, "1.00").typed)
    with pytest.raises(ValueError, match="without their column names"):
        load(conn, [bare])
    assert rows(conn) == []


def lines(conn):
    return conn.execute(
        "SELECT txn_id, line_id, line_num, detail_type, amount, item_id FROM qbo_txn_line "
        "WHERE connection_id = 'loader-test' ORDER BY txn_id, line_id"
    ).fetchall()


def test_lines_are_replaced_with_a_new_version_and_kept_on_a_tombstone(conn):
    load(conn, [invoice("1", 0, "10.00", lines=3)])
    assert [(r[1], r[3]) for r in lines(conn)] == [
        ("1", "SalesItemLineDetail"), ("2", "SalesItemLineDetail"), ("3", "SalesItemLineDetail"),
        ("~4", "SubTotalLineDetail")]
    load(conn, [invoice("1", 5, "20.00", sync_token=1, lines=1)])
    assert lines(conn) == [("1", "1", 1, "SalesItemLineDetail", Decimal("20.0"), "1"),
                           ("1", "~2", None, "SubTotalLineDetail", Decimal("20.0"), None)]
    load(conn, [invoice("1", 2, "99.00", sync_token=0, lines=5)])  # an older version changes nothing
    assert len(lines(conn)) == 2
    load(conn, [invoice("1", 9, "0", deleted=True)])
    assert len(lines(conn)) == 2


def test_lines_follow_the_winning_duplicate_in_a_batch(conn):
    load(conn, [invoice("1", 3, "3.00", 3, lines=3), invoice("1", 1, "1.00", 1, lines=1)])
    assert [r[1] for r in lines(conn)] == ["1", "2", "3", "~4"]
    assert {r[4] for r in lines(conn)} == {Decimal("3.0")}


UNVERSIONED_FIELDS = Fields(Field("name", "text", lambda record: record["name"]))
UNVERSIONED = TableSpec("loader_unversioned", UNVERSIONED_FIELDS.columns, version=())


def observed(id_: str, minute: int, name: str) -> RawRecord:
    payload = {"id": id_, "name": name}
    return RawRecord(id=id_, updated_at=T0 + dt.timedelta(minutes=minute), payload=payload,
                     typed=UNVERSIONED_FIELDS.read(payload), columns=UNVERSIONED_FIELDS.names)


def test_records_without_a_source_version_are_rewritten_only_when_their_content_changes(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""CREATE TABLE IF NOT EXISTS loader_unversioned (
            connection_id text, id text, created_at timestamptz, updated_at timestamptz NOT NULL,
            deleted_at timestamptz, name text, payload jsonb NOT NULL, run_id text NOT NULL,
            loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (connection_id, id))""")
        with conn.transaction():
            first = upsert_records(conn, UNVERSIONED, "c", "r1", [observed("1", 0, "Sales")])
            same = upsert_records(conn, UNVERSIONED, "c", "r2", [observed("1", 5, "Sales")])
            renamed = upsert_records(conn, UNVERSIONED, "c", "r3", [observed("1", 9, "Sales EMEA")])
            replayed_old = upsert_records(conn, UNVERSIONED, "c", "r4", [observed("1", 1, "Sales")])
        assert (first.inserted, same.unchanged, renamed.updated, replayed_old.unchanged) == (1, 1, 1, 1)
        row = conn.execute("SELECT name, run_id, updated_at FROM loader_unversioned WHERE id = '1'").fetchone()
        assert row == ("Sales EMEA", "r3", T0 + dt.timedelta(minutes=9))
        conn.execute("DROP TABLE loader_unversioned")
        conn.commit()


def test_an_integer_its_column_cannot_hold_is_refused_not_stored_wrapped_around(conn):
    # psycopg's binary COPY stored 99999999999 into the integer sync_token as 1215752191, the version guard's column.
    load(conn, [invoice("1", 1, "10.00", sync_token=2**31 - 1)])
    with pytest.raises(ValueError, match=r"^qbo_invoice: record 2: column sync_token: 99999999999 is out of range "
                                         r"for type integer$"):
        load(conn, [invoice("2", 2, "20.00", sync_token=99999999999)])
    assert [(r[0], r[2]) for r in rows(conn)] == [("1", 2**31 - 1)]


def test_json_a_typed_column_made_from_the_record_holding_what_postgresql_cannot_store_is_refused(conn):
    # e.g. JSON a record held as text, parsed into a jsonb column: the record's own text holds only the escape.
    with_json = TableSpec("t", (Column("settings", "jsonb"), Column("n", "integer")))
    record = RawRecord("1", T0, {"Id": "1"}, typed=(Jsonb({"labels": ["a\x00b"]}), 1), columns=("settings", "n"))
    with pytest.raises(ValueError, match=r"^column settings: labels\[0\] holds U\+0000, which PostgreSQL cannot"):
        check_typed(with_json, record)
    check_typed(with_json, RawRecord("1", T0, {"Id": "1"}, typed=(Jsonb({"labels": ["a"]}), 1),
                                     columns=("settings", "n")))


def test_a_record_whose_lines_cannot_be_made_is_named_after_its_chunk_or_handed_over_before_it(conn):
    bad = invoice("2", 2, "20.00")
    bad = RawRecord(bad.id, bad.updated_at, {**bad.payload, "Line": [{"Amount": "ten"}]}, bad.typed,
                    bad.created_at, columns=bad.columns)
    records = [invoice("1", 1, "10.00"), bad, invoice("3", 3, "30.00")]
    with pytest.raises(UnwritableRecords, match=r"^qbo_invoice: record 2: qbo_txn_line: Line #1: field amount: "
                                                r"expected a number, got 'ten'$") as raised:
        load(conn, records)
    assert [record.id for record, _ in raised.value.failures] == ["2"]
    assert rows(conn) == []  # the transaction held what was written before the failure: rolled back
    handed: list[tuple[str, str]] = []
    with conn.transaction():
        counts = upsert_records(conn, INVOICE.table, "loader-test", "run-1", records,
                                unreadable=lambda record, exc: handed.append((record.id, str(exc))))
    assert handed == [("2", "qbo_txn_line: Line #1: field amount: expected a number, got 'ten'")]
    assert (counts.staged, counts.inserted) == (2, 2) and [r[0] for r in rows(conn)] == ["1", "3"]
    lines = conn.execute("SELECT txn_id FROM qbo_txn_line WHERE connection_id = 'loader-test' ORDER BY txn_id")
    assert [r[0] for r in lines] == ["1", "1", "3", "3"]  # each: its item line and its subtotal line
