"""load_pages against real Azurite and PostgreSQL: once per page, one transaction, clear errors on bad input."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from activities.load import load_pages
from activities.planning import plan_streams
from activities.runs import begin_sync
from plugins.registry import metric_catalogs
from shared.blob.landing import LandingZone, PageNotFound, page_ref
from shared.core.config import load_settings
from shared.db import runs
from shared.db.connections import Connection, upsert_connection
from shared.metrics import rebuild
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


def test_a_missing_blob_names_the_page(run):
    ghost = {"ref": page_ref(CONNECTION, "Invoice", run, 99), "records": 1, "watermark": None}
    with pytest.raises(PageNotFound, match=r"000099\.jsonl\.gz"):
        load_pages(request(run, [ghost]))


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


def test_a_loaded_page_is_let_go_before_the_next_page_is_read(run, pg_dsn, monkeypatch):
    # Each parsed page holds about 10 MB (1,000 invoices), and the chains of a split read load side by side in one
    # worker: a load that kept the page it had loaded while reading the next held two. Another load runs in the
    # process here, so each page is read only once the load reaches it; the read waits until the load has claimed
    # the page, then looks whether any page read before it is still alive.
    import gc
    import weakref

    from activities import load as load_activity

    pages = [land(run, n, [invoice(f"{n}-{i}", n) for i in range(3)]) for n in range(3)]
    claimed: dict[str, threading.Event] = {page["ref"]: threading.Event() for page in pages}
    parsed: list[weakref.ref] = []
    alive_at_read: list[int] = []
    read_page, claim_page = load_activity._read_page, load_activity.claim_page

    def claim(conn, ref, *args):
        claimed[ref].set()
        return claim_page(conn, ref, *args)

    def read(plugin, stream, landing, ref, keep_ids):
        assert claimed[ref].wait(10)
        gc.collect()
        alive_at_read.append(sum(1 for page in parsed if page() is not None))
        page = read_page(plugin, stream, landing, ref, keep_ids)
        parsed.append(weakref.ref(page))
        return page

    monkeypatch.setattr(load_activity, "claim_page", claim)
    monkeypatch.setattr(load_activity, "_read_page", read)
    with load_activity._RUNNING.one():  # another load runs in the process: this one reads no page ahead
        assert load_pages(request(run, pages))["inserted"] == 9
    assert alive_at_read == [0, 0, 0]
    assert state(pg_dsn, run)[0] == sorted(f"{n}-{i}" for n in range(3) for i in range(3))


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
    real_connect = load_activity.connect

    @contextlib.contextmanager
    def counted_connect(*args, **kwargs):
        with real_connect(*args, **kwargs) as conn:
            with lock:
                open_now[0] += 1
                most[0] = max(most[0], open_now[0])
            try:
                time.sleep(0.3)
                yield conn
            finally:
                with lock:
                    open_now[0] -= 1

    monkeypatch.setattr(load_activity, "connect", counted_connect)
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
