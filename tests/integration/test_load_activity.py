"""load_pages against real Azurite and PostgreSQL: once per page, one transaction, clear errors on bad input."""

from __future__ import annotations

import logging
import threading
import uuid

import psycopg
import pytest

from activities.load import load_pages
from activities.planning import plan_streams
from activities.runs import begin_sync
from plugins.registry import metric_catalogs
from shared.blob.landing import LandingZone, PageCorrupt, PageNotFound, page_ref
from shared.core.config import load_settings
from shared.db import runs
from shared.db.connections import Connection, upsert_connection
from shared.metrics import rebuild
from shared.metrics.refresh import REFUSED
from tests.metrics.conftest import points

CONNECTION = "qbo-load"


def invoice(id_: str, second: int, total: float = 10.0) -> dict:
    return {"Id": id_, "SyncToken": "0", "TxnDate": "2026-02-03", "TotalAmt": total, "Balance": total,
            "CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "USD"},
            "MetaData": {"CreateTime": "2026-02-03T10:00:00-08:00",
                         "LastUpdatedTime": f"2026-02-03T10:00:{second:02d}-08:00"}}


@pytest.fixture
def run(pg_dsn, landing_container):
    with psycopg.connect(pg_dsn) as conn:
        # The run plans Invoice alone: a stream's end refreshes only once no other stream of its run is running.
        upsert_connection(conn, Connection(CONNECTION, "quickbooks", "Load test",
                                           {"realm_id": "1", "streams": ["Invoice"], "reports": False}))
        conn.commit()
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    begin_sync({"run_id": run_id, "scope": CONNECTION, "mode": "full", "instance_id": "test"})
    plan_streams({"run_id": run_id, "connection_id": CONNECTION, "mode": "full"})
    yield run_id
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM qbo_invoice WHERE connection_id = %s", (CONNECTION,))
        conn.execute("DELETE FROM stream_state WHERE connection_id = %s", (CONNECTION,))
        conn.commit()


def land(run_id: str, sequence: int, records: list[dict]) -> dict:
    settings = load_settings()
    ref = page_ref(CONNECTION, "Invoice", run_id, sequence)
    count = LandingZone(settings.storage, settings.landing_container).put_page(ref, records)
    last = records[-1]["MetaData"]["LastUpdatedTime"] if records and "MetaData" in records[-1] else None
    return {"ref": ref, "records": count, "watermark": {"ts": last, "seen": [records[-1]["Id"]]} if last else None}


def request(run_id: str, pages: list[dict]) -> dict:
    return {"run_id": run_id, "connection_id": CONNECTION, "stream": "Invoice", "pages": pages}


def state(pg_dsn: str, run_id: str):
    with psycopg.connect(pg_dsn) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM qbo_invoice WHERE connection_id = %s ORDER BY id", (CONNECTION,))]
        watermark = conn.execute("SELECT watermark FROM stream_state WHERE connection_id = %s AND stream = 'Invoice'",
                                 (CONNECTION,)).fetchone()
        counts = conn.execute("SELECT pages, fetched, inserted FROM sync_run_streams WHERE run_id = %s "
                              "AND stream = 'Invoice'", (run_id,)).fetchone()
    return ids, watermark[0] if watermark else None, counts


def test_a_retried_load_skips_pages_already_committed(run, pg_dsn):
    page = land(run, 0, [invoice("1", 1), invoice("2", 2)])
    assert load_pages(request(run, [page]))["inserted"] == 2
    again = load_pages(request(run, [page]))
    assert again["pages"] == 0 and again["fetched"] == 0
    ids, watermark, counts = state(pg_dsn, run)
    assert ids == ["1", "2"] and counts == (1, 2, 2)
    assert watermark == {"ts": "2026-02-03T10:00:02-08:00", "seen": ["2"]}


def test_a_bad_record_is_quarantined_with_its_reason_while_the_rest_of_the_page_loads(run, pg_dsn):
    broken = invoice("3", 4)
    del broken["MetaData"]
    page = land(run, 0, [invoice("2", 3), broken, invoice("4", 5)])
    loaded = load_pages(request(run, [page]))
    assert (loaded["inserted"], loaded["quarantined"], loaded["fetched"]) == (2, 1, 3)
    ids, watermark, counts = state(pg_dsn, run)
    assert ids == ["2", "4"] and counts == (1, 3, 2)
    assert watermark["ts"] == "2026-02-03T10:00:05-08:00"
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT record_id, position, reason, payload->>'Id' FROM quarantine WHERE run_id = %s",
                            (run,)).fetchall()
    assert rows == [("3", 2, "ValueError: Invoice 3 has no MetaData.LastUpdatedTime, so it cannot be versioned; "
                             "kept in quarantine instead of loaded", "3")]


@pytest.mark.parametrize("line, reason", [
    ({"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": "ten"},
     "qbo_txn_line: Line #2: field amount: expected a number, got 'ten'"),
    ("a line that is not an object", "qbo_txn_line: Line #2 is not an object"),
    ({"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": 1, "LineNum": [2]},
     "qbo_txn_line: Line #2: field line_num:"),
    ({"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": 1, "LineNum": 2**31},
     "qbo_txn_line: column line_num: 2147483648 is out of range for type integer"),
])
def test_a_record_whose_lines_cannot_be_read_is_quarantined_and_the_rest_of_the_page_loads_with_its_lines(
        run, pg_dsn, line, reason):
    # Found when the page is read: before, the lines were read only as they were written, after the record's own
    # upsert, and an unreadable one failed every attempt of the load, stopping the stream.
    def with_lines(record: dict, *lines) -> dict:
        return {**record, "Line": [{"Id": "9", "DetailType": "SalesItemLineDetail", "Amount": 5.25,
                                    "SalesItemLineDetail": {"ItemRef": {"value": "7"}, "Qty": 3}}, *lines]}

    page = land(run, 0, [with_lines(invoice("2", 3)), with_lines(invoice("3", 4), line), with_lines(invoice("4", 5))])
    loaded = load_pages(request(run, [page]))
    assert (loaded["inserted"], loaded["quarantined"], loaded["fetched"]) == (2, 1, 3)
    with psycopg.connect(pg_dsn) as conn:
        (record_id, position, said), = conn.execute(
            "SELECT record_id, position, reason FROM quarantine WHERE run_id = %s", (run,)).fetchall()
        lines = conn.execute("SELECT txn_id, line_id, amount, item_id, qty, payload->>'Amount' FROM qbo_txn_line "
                             "WHERE connection_id = %s ORDER BY txn_id", (CONNECTION,)).fetchall()
        conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))
    assert (record_id, position) == ("3", 2) and said.startswith(f"ValueError: {reason}")
    assert [tuple(map(str, row)) for row in lines] == [("2", "9", "5.25", "7", "3", "5.25"),
                                                       ("4", "9", "5.25", "7", "3", "5.25")]


def test_lines_are_read_only_for_records_the_load_writes_and_a_tombstone_keeps_its_lines(run, pg_dsn):
    # Making every read record's lines slowed a re-sync, where most records are unchanged (docs/SCALING.md).
    good = {"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": 4.5}
    bad = {"Id": "2", "DetailType": "SalesItemLineDetail", "Amount": "ten"}
    first = land(run, 0, [{**invoice("2", 2), "Line": [good]}, {**invoice("3", 3), "Line": [good]}])
    assert load_pages(request(run, [first]))["inserted"] == 2
    # The same version of 2 with an unreadable line is unchanged: not written, not read, not quarantined. 3 is
    # deleted, its tombstone carrying an unreadable line: a tombstone's lines are not replaced, so not read.
    tombstone = {"Id": "3", "status": "Deleted", "Line": [bad],
                 "MetaData": {"LastUpdatedTime": "2026-02-03T10:00:09-08:00"}}
    again = land(run, 1, [{**invoice("2", 2), "Line": [bad]}, tombstone])
    loaded = load_pages(request(run, [again]))
    assert (loaded["unchanged"], loaded["deleted"], loaded["quarantined"], loaded["fetched"]) == (1, 1, 0, 2)
    with psycopg.connect(pg_dsn) as conn:
        lines = conn.execute("SELECT txn_id, line_id, amount FROM qbo_txn_line WHERE connection_id = %s "
                             "ORDER BY txn_id", (CONNECTION,)).fetchall()
        conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))
    assert [(txn, line, str(amount)) for txn, line, amount in lines] == [("2", "1", "4.5"), ("3", "1", "4.5")]


def test_a_record_holding_what_postgresql_cannot_store_is_quarantined_and_the_rest_of_the_page_loads(run, pg_dsn):
    # PostgreSQL stores no U+0000 and no lone UTF-16 surrogate in text or jsonb, and jsonb no number that is not
    # finite: before, such a record failed its page's COPY (or, for a surrogate, its landing) on every attempt.
    in_field, in_line, in_key, in_id, half, infinite, nan = (invoice(str(n), n) for n in range(3, 10))
    in_field["PrivateNote"] = "call \x00 first"
    in_line["Line"] = [{"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": 1, "Description": "a\x00b"}]
    in_key["CustomField"] = {"odd\x00key": 1}
    in_id["Id"] = "6\x00"
    half["CustomerMemo"] = {"value": "cut \ud83d in half"}
    infinite["ExchangeRate"] = float("inf")  # a source's 1e999: valid JSON, beyond a double
    nan["Line"] = [{"Amount": float("nan")}]
    look_alike = {**invoice("10", 10), "PrivateNote": "the six characters \\u0000 and \\ud800, NaN, Infinity, "
                                                      "an emoji \U0001f600"}
    page = land(run, 0, [invoice("2", 2), in_field, in_line, in_key, in_id, half, infinite, nan, look_alike])
    loaded = load_pages({**request(run, [page]), "keep_ids": True})
    assert (loaded["inserted"], loaded["quarantined"], loaded["fetched"]) == (2, 7, 9)
    assert state(pg_dsn, run)[0] == ["10", "2"]
    with psycopg.connect(pg_dsn) as conn:
        put_aside = conn.execute(
            "SELECT position, record_id, reason, payload FROM quarantine WHERE run_id = %s ORDER BY position",
            (run,)).fetchall()
        note = conn.execute("SELECT payload->>'PrivateNote' FROM qbo_invoice WHERE connection_id = %s AND id = '10'",
                            (CONNECTION,)).fetchone()[0]
        seen = conn.execute("SELECT ids FROM page_seen_ids WHERE page_ref = %s", (page["ref"],)).fetchone()[0]
    text = (", which PostgreSQL cannot store in text or jsonb (the quarantined copy shows it as U+FFFD; the landed "
            "page keeps the record whole)")
    number = (", which PostgreSQL cannot store in jsonb (the quarantined copy holds it as text; the landed page keeps "
              "the record whole)")
    assert [(position, record_id, reason) for position, record_id, reason, _ in put_aside] == [
        (2, "3", f"ValueError: PrivateNote holds U+0000{text}"),
        (3, "4", f"ValueError: Line[0].Description holds U+0000{text}"),
        (4, "5", f"ValueError: a key of CustomField holds U+0000{text}"),
        (5, "6\ufffd", f"ValueError: Id holds U+0000{text}"),
        (6, "7", f"ValueError: CustomerMemo.value holds U+D83D (half of a UTF-16 surrogate pair, alone){text}"),
        (7, "8", f"ValueError: ExchangeRate holds the number Infinity{number}"),
        (8, "9", f"ValueError: Line[0].Amount holds the number NaN{number}")]
    copies = {record_id: payload for _, record_id, _, payload in put_aside}
    assert copies["3"]["PrivateNote"] == "call \ufffd first" and copies["5"]["CustomField"] == {"odd\ufffdkey": 1}
    assert copies["7"]["CustomerMemo"] == {"value": "cut \ufffd in half"}
    assert copies["8"]["ExchangeRate"] == "Infinity" and copies["9"]["Line"] == [{"Amount": "NaN"}]
    assert note == look_alike["PrivateNote"]
    # An id PostgreSQL cannot store is no stored row's: the sweep keeps none for it.
    assert sorted(seen["Invoice"]) == ["10", "2", "3", "4", "5", "7", "8", "9"]


def test_a_record_with_an_integer_its_column_cannot_hold_is_quarantined_and_the_rest_of_the_page_loads(run, pg_dsn):
    # Binary COPY stored it wrapped around (99999999999 as 1215752191), into the version guard's own column.
    page = land(run, 0, [invoice("2", 2), {**invoice("3", 3), "SyncToken": "99999999999"}, invoice("4", 4)])
    loaded = load_pages(request(run, [page]))
    assert (loaded["inserted"], loaded["quarantined"]) == (2, 1)
    with psycopg.connect(pg_dsn) as conn:
        reasons = conn.execute("SELECT record_id, reason FROM quarantine WHERE run_id = %s", (run,)).fetchall()
    assert reasons == [("3", "ValueError: column sync_token: 99999999999 is out of range for type integer")]
    assert state(pg_dsn, run)[0] == ["2", "4"]


def test_a_record_with_an_amount_beyond_postgresqls_numeric_is_quarantined_and_the_rest_of_the_page_loads(
        run, pg_dsn):
    # numeric holds 131,072 digits before the point and 16,383 after: beyond, the page's COPY failed on every
    # attempt, whether the amount was the record's own column (binary COPY) or a line's (text COPY).
    line = {"Id": "1", "DetailType": "SalesItemLineDetail", "Amount": "1.5E-16383"}
    page = land(run, 0, [invoice("2", 2), {**invoice("3", 3), "TotalAmt": "1E+131072"},
                         {**invoice("4", 4), "Line": [line]}, {**invoice("5", 5), "TotalAmt": "9E+131071"}])
    loaded = load_pages(request(run, [page]))
    assert (loaded["inserted"], loaded["quarantined"]) == (2, 2)
    with psycopg.connect(pg_dsn) as conn:
        reasons = conn.execute("SELECT record_id, reason FROM quarantine WHERE run_id = %s ORDER BY position",
                               (run,)).fetchall()
        (largest,) = conn.execute("SELECT total_amt = '9E+131071'::numeric FROM qbo_invoice "
                                  "WHERE connection_id = %s AND id = '5'", (CONNECTION,)).fetchone()
    assert reasons == [
        ("3", "ValueError: column total_amt: 1E+131072 has more than 131072 digits before the point, beyond "
              "PostgreSQL's numeric"),
        ("4", "ValueError: qbo_txn_line: column amount: 1.5E-16383 has 16384 digits after the point, beyond "
              "PostgreSQL's numeric (16383)")]
    assert state(pg_dsn, run)[0] == ["2", "5"] and largest


def test_a_last_load_whose_amounts_overflow_a_metrics_sum_loads_and_leaves_that_metric_as_it_was(
        run, pg_dsn, series_cleanup, caplog):
    # Two amounts numeric holds whose sum it cannot: the refresh in the stream's last load failed, and the load with
    # it, on every attempt. Now the sums that overflow are left as they were (tests/metrics/test_refused_data.py).
    load_pages({**request(run, [land(run, 0, [invoice("1", 1, 10.0)])]), "ends_stream": True})
    before, _ = _series(pg_dsn)
    huge = [invoice("2", 2, "9E+131071"), invoice("3", 3, "9E+131071")]
    with caplog.at_level(logging.ERROR, logger="shared.metrics.refresh"):
        loaded = load_pages({**request(run, [land(run, 1, huge)]), "ends_stream": True})
    assert (loaded["inserted"], loaded["quarantined"]) == (2, 0)
    after, marks = _series(pg_dsn)
    assert marks == 0 and state(pg_dsn, run)[0] == ["1", "2", "3"]
    assert _signatures(pg_dsn)["qbo.revenue_invoiced"] == REFUSED != _signatures(pg_dsn)["qbo.invoice_count"]
    assert _day_values(after, "qbo.revenue_invoiced") == _day_values(before, "qbo.revenue_invoiced") == [10]
    assert _day_values(after, "qbo.invoice_count") == [3]
    assert [r for r in caplog.records if "qbo.revenue_invoiced" in r.getMessage()]
    # The next stream's end refreshes its own invoice and does not retry the refused metrics (a whole rebuild each).
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="shared.metrics.refresh"):
        load_pages({**request(run, [land(run, 2, [invoice("4", 4, 5.0)])]), "ends_stream": True})
    again, marks = _series(pg_dsn)
    assert marks == 0 and not caplog.records and _signatures(pg_dsn)["qbo.revenue_invoiced"] == REFUSED
    assert _day_values(again, "qbo.invoice_count") == [4] and _day_values(again, "qbo.revenue_invoiced") == [10]


def _signatures(pg_dsn: str) -> dict[str, str]:
    with psycopg.connect(pg_dsn) as conn:
        return dict(conn.execute("SELECT metric, signature FROM metric_state WHERE connection_id = %s", (CONNECTION,)))


def _day_values(series: set[tuple], metric: str) -> list:
    return sorted(p[5] for p in series if p[0] == metric and p[1] == "day" and p[3] == "")


def test_a_missing_blob_names_the_page(run):
    ghost = {"ref": page_ref(CONNECTION, "Invoice", run, 99), "records": 1, "watermark": None}
    with pytest.raises(PageNotFound, match=r"000099\.jsonl\.gz"):
        load_pages(request(run, [ghost]))


def test_a_landed_page_cut_short_fails_its_load_naming_it_and_nothing_of_the_call_stays(run, pg_dsn, monkeypatch):
    # Read a part at a time, the cut page's first parts are upserted before its end shows the cut: the call's
    # transaction takes them back with the page before it, and what an earlier call loaded stays.
    import gzip
    import json

    from activities import load as load_activity
    from shared.blob.service import blob_service

    monkeypatch.setattr(load_activity, "PART_RECORDS", 2)
    load_pages(request(run, [land(run, 0, [invoice("1", 1)])]))
    second = land(run, 1, [invoice("2", 2)])
    cut = page_ref(CONNECTION, "Invoice", run, 2)
    body = gzip.compress(b"\n".join(json.dumps(invoice(str(i), 3)).encode() for i in range(3, 400)))
    settings = load_settings()
    blob_service(settings.storage).get_container_client(settings.landing_container).upload_blob(
        cut, body[:len(body) // 2], overwrite=True)
    with pytest.raises(PageCorrupt, match=r"000002\.jsonl\.gz' is not a complete gzip body"):
        load_pages(request(run, [second, {"ref": cut, "records": 397, "watermark": None}]))
    ids, watermark, counts = state(pg_dsn, run)
    assert ids == ["1"] and counts == (1, 1, 1)
    assert watermark == {"ts": "2026-02-03T10:00:01-08:00", "seen": ["1"]}


def _series(pg_dsn: str) -> tuple[set[tuple], int]:
    """The connection's metric points and how many dirty marks wait for a refresh."""
    with psycopg.connect(pg_dsn) as conn:
        return points(conn, CONNECTION), conn.execute(
            "SELECT count(*) FROM metric_dirty WHERE connection_id = %s", (CONNECTION,)).fetchone()[0]


def _rebuilt(pg_dsn: str) -> set[tuple]:
    """What a from-scratch aggregation of the committed raw rows gives (rolled back)."""
    with psycopg.connect(pg_dsn) as conn, conn.transaction(force_rollback=True):
        rebuild(conn, CONNECTION, metric_catalogs())
        return points(conn, CONNECTION)


@pytest.fixture
def series_cleanup(pg_dsn):
    """A connection past its first sync: its (empty) metrics built, so a stream's end refreshes them in place."""
    with psycopg.connect(pg_dsn) as conn:
        rebuild(conn, CONNECTION, metric_catalogs())
    yield
    with psycopg.connect(pg_dsn) as conn:
        for table in ("metric_points", "metric_state", "metric_dirty"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
        conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))


def test_the_series_wait_for_the_streams_last_load_and_then_equal_a_rebuild(run, pg_dsn, series_cleanup):
    first = land(run, 0, [invoice("1", 1, 10.0), invoice("2", 2, 20.0)])
    load_pages(request(run, [first]))
    waiting, marks = _series(pg_dsn)
    assert waiting == set() and marks > 0  # committed with the rows, not yet aggregated
    last = land(run, 1, [invoice("3", 3, 30.0)])
    load_pages({**request(run, [last]), "ends_stream": True})
    refreshed, marks = _series(pg_dsn)
    assert marks == 0 and refreshed and refreshed == _rebuilt(pg_dsn)


def test_a_failed_last_load_leaves_the_series_and_the_waiting_marks_as_they_were(run, pg_dsn, series_cleanup):
    load_pages({**request(run, [land(run, 0, [invoice("1", 1)])]), "ends_stream": True})
    before = _series(pg_dsn)
    load_pages(request(run, [land(run, 1, [invoice("2", 2, 25.0)])]))  # deferred: its marks wait
    waiting = _series(pg_dsn)
    assert waiting[0] == before[0] and waiting[1] > 0
    ghost = {"ref": page_ref(CONNECTION, "Invoice", run, 99), "records": 1, "watermark": None}
    with pytest.raises(PageNotFound):
        load_pages({**request(run, [land(run, 2, [invoice("3", 3)]), ghost]), "ends_stream": True})
    assert _series(pg_dsn) == waiting
    ids, _, _ = state(pg_dsn, run)
    assert ids == ["1", "2"]
    # The retried last load refreshes what both loads changed.
    load_pages({**request(run, [land(run, 2, [invoice("3", 3)])]), "ends_stream": True})
    refreshed, marks = _series(pg_dsn)
    assert marks == 0 and refreshed == _rebuilt(pg_dsn) and refreshed != before[0]


def test_a_first_syncs_last_load_leaves_the_rebuild_to_the_connections_refresh(run, pg_dsn, monkeypatch):
    from activities.aggregates import refresh_aggregates
    from shared.db import runs

    try:
        # Another stream of the run still reads: the stream's end neither rebuilds in its transaction (the
        # connection's refresh spreads a rebuild over sessions) nor after it (the other stream's loads would have
        # it done again, activities/aggregates.py refresh_ahead).
        with psycopg.connect(pg_dsn) as conn:
            runs.begin_stream(conn, run, CONNECTION, "Payment")
        load_pages({**request(run, [land(run, 0, [invoice("1", 1, 10.0), invoice("2", 2, 20.0)])]),
                    "ends_stream": True})
        left, marks = _series(pg_dsn)
        assert left == set() and marks > 0  # never built: the rebuild waits, its marks committed with the rows
        refresh_aggregates({"connection_id": CONNECTION})  # in two sessions, the default
        rebuilt, marks = _series(pg_dsn)
        assert marks == 0 and rebuilt and rebuilt == _rebuilt(pg_dsn)
        with psycopg.connect(pg_dsn) as conn:
            runs.end_stream(conn, run, CONNECTION, "Payment", "succeeded")
        # With one session the rebuild gains nothing by waiting: the last load of a new connection runs it.
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("DELETE FROM metric_state WHERE connection_id = %s", (CONNECTION,))
        monkeypatch.setenv("METRIC_REFRESH_SESSIONS", "1")
        from activities import load as load_activity

        afterwards: list[dict] = []  # nothing is left for a refresh after the load's own transaction
        monkeypatch.setattr(load_activity, "refresh_ahead", afterwards.append)
        load_pages({**request(run, [land(run, 1, [invoice("3", 3, 30.0)])]), "ends_stream": True})
        in_place, marks = _series(pg_dsn)
        assert marks == 0 and in_place == _rebuilt(pg_dsn) and in_place != rebuilt
        assert afterwards == []
    finally:
        with psycopg.connect(pg_dsn) as conn:
            for table in ("metric_points", "metric_state", "metric_dirty"):
                conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (CONNECTION,))
            conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))


def test_a_last_load_does_not_wait_for_another_refresh_and_the_connections_refresh_takes_its_marks(
        run, pg_dsn, series_cleanup):
    from activities.aggregates import refresh_aggregates
    from shared.metrics.refresh import _LOCK_CLASS

    with psycopg.connect(pg_dsn, autocommit=True) as other:  # another stream's refresh of the connection
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, CONNECTION))
        last = {**request(run, [land(run, 0, [invoice("1", 1, 10.0)])]), "ends_stream": True}
        loading = threading.Thread(target=load_pages, args=(last,), daemon=True)
        loading.start()
        loading.join(timeout=60)
        assert not loading.is_alive(), "the last load waited for the other refresh"
        deferred, marks = _series(pg_dsn)
        assert deferred == set() and marks > 0  # committed with the rows, left for the next refresh
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, CONNECTION))
    ids, _, _ = state(pg_dsn, run)
    assert ids == ["1"]
    refresh_aggregates({"connection_id": CONNECTION})
    refreshed, marks = _series(pg_dsn)
    assert marks == 0 and refreshed and refreshed == _rebuilt(pg_dsn)


def test_a_last_load_leaves_the_refresh_to_the_connection_while_another_stream_of_its_run_runs(
        run, pg_dsn, series_cleanup):
    from activities.aggregates import refresh_aggregates

    with psycopg.connect(pg_dsn) as conn:  # a second stream of the run, planned and not ended
        runs.begin_stream(conn, run, CONNECTION, "Payment")
    load_pages({**request(run, [land(run, 0, [invoice("1", 1, 10.0)])]), "ends_stream": True})
    deferred, marks = _series(pg_dsn)
    assert deferred == set() and marks > 0  # committed with the rows, left for the connection's refresh
    with psycopg.connect(pg_dsn) as conn:
        runs.end_stream(conn, run, CONNECTION, "Payment", "succeeded")
    load_pages({**request(run, [land(run, 1, [invoice("2", 2, 20.0)])]), "ends_stream": True})
    alone, marks = _series(pg_dsn)  # the other stream ended: this stream's end refreshes both loads' marks
    assert marks == 0 and alone and alone == _rebuilt(pg_dsn)
    refresh_aggregates({"connection_id": CONNECTION})
    assert _series(pg_dsn) == (alone, 0)


def test_a_loaded_record_keeps_its_landed_json_as_its_payload(run, pg_dsn):
    record = {**invoice("7", 7), "PrivateNote": "Zürich \u2013 \"quoted\" \\ back\nslash", "Line": [
        {"Id": "1", "Amount": 10.5, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": "3", "name": "Café"}, "Qty": 2}}]}
    load_pages(request(run, [land(run, 0, [record])]))
    with psycopg.connect(pg_dsn) as conn:
        payload = conn.execute("SELECT payload FROM qbo_invoice WHERE connection_id = %s AND id = '7'",
                               (CONNECTION,)).fetchone()[0]
        line = conn.execute("SELECT payload, item_id, qty FROM qbo_txn_line WHERE connection_id = %s AND txn_id = '7'",
                            (CONNECTION,)).fetchone()
        conn.execute("DELETE FROM qbo_txn_line WHERE connection_id = %s", (CONNECTION,))
    assert payload == record
    assert line[0] == record["Line"][0] and (line[1], float(line[2])) == ("3", 2.0)


def test_a_page_is_loaded_a_few_records_at_a_time_and_each_part_is_let_go_before_the_next_is_parsed(
        run, pg_dsn, monkeypatch):
    # A parsed page holds about 10 MB (1,000 invoices) and a worker runs several loads at once (the chains of a split
    # read): beside another load, a load reads its page a part at a time (PART_RECORDS), and holds only the part it
    # upserts. Here parts of two records, pages of five: as each record is typed, the part it goes into is the only
    # one alive, across parts and across pages.
    import gc
    import weakref

    from activities import load as load_activity
    from plugins import registry

    monkeypatch.setattr(load_activity, "PART_RECORDS", 2)
    made: list[weakref.ref] = []

    class Part(load_activity._ReadPart):
        def __init__(self, **fields):
            super().__init__(**fields)
            made.append(weakref.ref(self))

    alive_at_typing: list[int] = []
    plugin = registry.get("quickbooks")
    to_raw = plugin.to_raw

    def typed(target, record):
        gc.collect()
        alive_at_typing.append(sum(1 for part in made if part() is not None))
        return to_raw(target, record)

    monkeypatch.setattr(load_activity, "_ReadPart", Part)
    monkeypatch.setattr(plugin, "to_raw", typed)
    pages = [land(run, n, [invoice(f"{n}-{i}", n * 5 + i) for i in range(5)]) for n in range(3)]
    with load_activity._RUNNING.one():  # another load runs in the process: this one reads no page ahead
        loaded = load_pages(request(run, pages))
    assert (loaded["pages"], loaded["inserted"]) == (3, 15)
    assert len(made) == 9  # three parts a page
    assert alive_at_typing == [1] * 15
    assert state(pg_dsn, run)[0] == sorted(f"{n}-{i}" for n in range(3) for i in range(5))


def test_a_page_read_in_parts_quarantines_by_the_pages_position_and_loads_the_rest(run, pg_dsn, monkeypatch):
    from activities import load as load_activity

    monkeypatch.setattr(load_activity, "PART_RECORDS", 2)
    broken = invoice("5", 5)
    del broken["MetaData"]
    records = [invoice(str(i), i) for i in range(1, 5)] + [broken, invoice("6", 6), invoice("7", 7)]
    loaded = load_pages(request(run, [land(run, 0, records)]))
    assert (loaded["inserted"], loaded["quarantined"], loaded["fetched"]) == (6, 1, 7)
    assert state(pg_dsn, run)[0] == ["1", "2", "3", "4", "6", "7"]
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT record_id, position FROM quarantine WHERE run_id = %s", (run,)).fetchall()
    assert rows == [("5", 5)]  # the page's fifth record, the first of its third part


def test_loads_beyond_the_workers_slots_wait_for_one_and_every_page_lands(run, pg_dsn, monkeypatch):
    # Six calls at once, as a split read's chains hand them to one worker, with two slots (LOADS_PER_WORKER): at most
    # two hold a database transaction at a time, the others wait before they open one, and every page lands once.
    # Each transaction is held a little longer than its load needs, so that without slots all six would overlap.
    import contextlib
    import time
    from concurrent.futures import ThreadPoolExecutor

    from activities import load as load_activity

    monkeypatch.setenv("LOADS_PER_WORKER", "2")
    pages = [land(run, n, [invoice(f"{n}-{i}", i) for i in range(20)]) for n in range(6)]
    lock = threading.Lock()
    open_now, most = [0], [0]
    real_lend = load_activity.lend

    @contextlib.contextmanager
    def counted_lend(*args, **kwargs):
        with real_lend(*args, **kwargs) as conn:
            with lock:
                open_now[0] += 1
                most[0] = max(most[0], open_now[0])
            try:
                time.sleep(0.3)
                yield conn
            finally:
                with lock:
                    open_now[0] -= 1

    monkeypatch.setattr(load_activity, "lend", counted_lend)
    with ThreadPoolExecutor(max_workers=6) as workers:
        results = list(workers.map(lambda page: load_pages(request(run, [page])), pages))
    assert most[0] == 2
    assert [r["inserted"] for r in results] == [20] * 6
    ids, _, counts = state(pg_dsn, run)
    assert ids == sorted(f"{n}-{i}" for n in range(6) for i in range(20))
    assert counts == (6, 120, 120)


def test_a_failed_load_gives_its_slot_back(run, pg_dsn, monkeypatch):
    # One slot: a load that fails (its page is missing) must not keep it, or every later load of the worker would
    # wait forever.
    monkeypatch.setenv("LOADS_PER_WORKER", "1")
    ghost = {"ref": page_ref(CONNECTION, "Invoice", run, 98), "records": 1, "watermark": None}
    with pytest.raises(PageNotFound):
        load_pages(request(run, [ghost]))
    page = land(run, 0, [invoice("1", 1)])
    loaded: list[dict] = []
    worker = threading.Thread(target=lambda: loaded.append(load_pages(request(run, [page]))), daemon=True)
    worker.start()
    worker.join(30)
    assert loaded and loaded[0]["inserted"] == 1
    assert state(pg_dsn, run)[0] == ["1"]
