"""A complete read's sweep reads the ids its loads kept (page_seen_ids) instead of parsing the landed pages again,
and parses a page whose ids were not kept: either way, mixed or not, it tombstones exactly the records the read
did not return, for both plugins; the kept ids commit with their page, once, and go with the sweep that read them.
Real Azurite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest

from activities import load as load_activity
from activities.aggregates import refresh_aggregates
from activities.load import load_pages
from activities.sweep import _seen_ids, sweep_deletes
from plugins import registry
from shared.blob.landing import LandingZone, PageNotFound, page_ref
from shared.core.config import load_settings
from shared.db.connections import Connection, upsert_connection
from shared.metrics import rebuild
from shared.metrics.refresh import _LOCK_CLASS as LOCK_CLASS
from tests.metrics.conftest import points


def invoice(id_: str) -> dict:
    return {"Id": id_, "SyncToken": "0", "TxnDate": "2026-02-03", "TotalAmt": 10.0, "Balance": 10.0,
            "CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "USD"},
            "MetaData": {"CreateTime": "2026-02-03T10:00:00-08:00",
                         "LastUpdatedTime": f"2026-02-03T10:00:{int(id_) % 60:02d}-08:00"}}


def board(id_: str) -> dict:
    """A monday board: it loads into three tables (the board, its group, its two columns)."""
    return {"kind": "board", "id": id_, "observed_at": "2026-05-04T09:00:00Z", "record": {
        "id": id_, "name": f"Board {id_}", "state": "active", "board_kind": "public", "type": "board",
        "updated_at": "2026-04-01T00:00:00Z", "created_at": "2025-01-01T00:00:00Z", "owners": [{"id": "1"}],
        "groups": [{"id": "topics", "title": "Next"}],
        "columns": [{"id": "status", "type": "status", "settings": {"done_colors": [1]}},
                    {"id": "name", "type": "name", "settings": {}}]}}


@dataclass(frozen=True)
class Source:
    plugin: str
    stream: str
    record: Callable[[str], dict]
    # The rows a record of that id loads into: (target stream, table, id of the row).
    parts: Callable[[str], list[tuple[str, str, str]]]


QUICKBOOKS = Source("quickbooks", "Invoice", invoice, lambda i: [("Invoice", "qbo_invoice", i)])
MONDAY = Source("monday", "boards", board, lambda i: [
    ("boards", "monday_board", i), ("groups", "monday_group", f"{i}:topics"),
    ("columns", "monday_column", f"{i}:status"), ("columns", "monday_column", f"{i}:name")])
SOURCES = {"quickbooks": QUICKBOOKS, "monday": MONDAY}


@dataclass
class Stream:
    """One connection's stream of a source, its runs' pages landed and loaded through the real activities."""

    source: Source
    connection_id: str
    dsn: str

    def land(self, run_id: str, sequence: int, records: list[dict]) -> dict:
        settings = load_settings()
        ref = page_ref(self.connection_id, self.source.stream, run_id, sequence)
        count = LandingZone(settings.storage, settings.landing_container).put_page(ref, records)
        return {"ref": ref, "records": count, "watermark": None}

    def empty(self, ref: str) -> None:
        settings = load_settings()
        LandingZone(settings.storage, settings.landing_container).put_page(ref, [])

    def key(self, run_id: str) -> dict:
        return {"run_id": run_id, "connection_id": self.connection_id, "stream": self.source.stream}

    def load_key(self, run_id: str) -> dict:
        """A load of a complete read, whose sweep follows (sync_stream sets keep_ids then)."""
        return {**self.key(run_id), "keep_ids": True}

    def load(self, run_id: str, pages: list[list[str]], *, first: int = 0) -> list[dict]:
        """Land each page of ids (sequence from `first`) and load them in one load_pages call."""
        landed = [self.land(run_id, first + n, [self.source.record(i) for i in ids]) for n, ids in enumerate(pages)]
        load_pages({**self.load_key(run_id), "pages": landed})
        return landed

    def kept(self, run_id: str) -> list[str]:
        with psycopg.connect(self.dsn) as conn:
            return [row[0] for row in conn.execute(
                "SELECT page_ref FROM page_seen_ids WHERE starts_with(page_ref, %s) ORDER BY page_ref",
                (f"{self.connection_id}/{self.source.stream}/{run_id}/",))]

    def forget(self, refs: list[str]) -> None:
        """As if those pages had been loaded before loads kept their ids."""
        with psycopg.connect(self.dsn) as conn:
            conn.execute("DELETE FROM page_seen_ids WHERE page_ref = ANY(%s)", (refs,))

    def seen(self, run_id: str) -> tuple[dict[str, set[str]], bool]:
        settings = load_settings()
        with psycopg.connect(self.dsn) as conn, conn.transaction(force_rollback=True):
            seen, complete, _ = _seen_ids(conn, registry.get(self.source.plugin),
                                          LandingZone(settings.storage, settings.landing_container), run_id,
                                          self.connection_id, self.source.stream)
        return dict(seen), complete

    def tombstoned(self) -> set[tuple[str, str]]:
        tables = sorted({table for _, table, _ in self.source.parts("0")})
        with psycopg.connect(self.dsn) as conn:
            return {(table, row[0]) for table in tables for row in conn.execute(
                f"SELECT id FROM {table} WHERE connection_id = %s AND deleted_at IS NOT NULL",
                (self.connection_id,))}


def new_run() -> str:
    return f"run-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=sorted(SOURCES))
def stream(request, pg_dsn, landing_container) -> Iterator[Stream]:
    source = SOURCES[request.param]
    connection_id = f"sweep-ids-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(connection_id, source.plugin, "Sweep ids", {"realm_id": "1"}))
    loaded = Stream(source, connection_id, pg_dsn)
    # Everything there is: 12 records, loaded by an earlier run.
    loaded.load(new_run(), [[str(i) for i in range(1, 7)], [str(i) for i in range(7, 13)]])
    yield loaded


# The complete read of the run under test: records 4 and 12 are gone upstream; its pages loaded in two calls.
READ = [["1", "2", "3"], ["5", "6", "7"], ["8", "9", "10"], ["11"]]
GONE = {"4", "12"}


def expected_seen(source: Source) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for record_id in (i for page in READ for i in page):
        for target, _, row_id in source.parts(record_id):
            seen.setdefault(target, set()).add(row_id)
    return seen


def expected_tombstones(source: Source) -> set[tuple[str, str]]:
    return {(table, row_id) for gone in GONE for _, table, row_id in source.parts(gone)}


def without_id(source: Source, id_: str) -> dict:
    """A record of the source whose id is empty: only a parse can judge it, so its page keeps no ids."""
    record = source.record(id_)
    if source.plugin == "quickbooks":
        record["Id"] = ""
    else:
        record["id"] = record["record"]["id"] = ""
    return record


@pytest.mark.parametrize("forgotten", ["none", "all", "some"])
def test_the_sweep_tombstones_exactly_what_the_read_missed_whether_it_reads_kept_ids_or_parses(
        stream: Stream, forgotten: str) -> None:
    run = new_run()
    refs = [page["ref"] for page in stream.load(run, READ[:2]) + stream.load(run, READ[2:], first=2)]
    assert stream.kept(run) == refs  # every page's load kept its ids
    # "all": every page parsed, as the sweep did before loads kept ids (and does for pages loaded before).
    forget = {"none": [], "all": refs, "some": refs[1:3]}[forgotten]
    stream.forget(forget)
    # A page whose ids were kept is not read again: emptied, its blob would make a parsing sweep miss its records.
    for ref in set(refs) - set(forget):
        stream.empty(ref)
    assert stream.seen(run) == (expected_seen(stream.source), True)

    assert sweep_deletes(stream.key(run)) == {"deleted": len(expected_tombstones(stream.source))}
    assert stream.tombstoned() == expected_tombstones(stream.source)
    assert stream.kept(run) == []  # read once: they went with the sweep's commit


def test_a_load_whose_stream_does_not_sweep_keeps_no_ids(stream: Stream) -> None:
    # An incremental run's loads (no sweep follows): nothing would read their ids, so none are kept.
    run = new_run()
    landed = stream.land(run, 0, [stream.source.record(i) for i in READ[0]])
    load_pages({**stream.key(run), "pages": [landed]})
    assert stream.kept(run) == []
    assert stream.tombstoned() == set()


def test_a_retried_load_keeps_a_pages_ids_once_and_a_failed_one_keeps_none(stream: Stream) -> None:
    run = new_run()
    landed = stream.load(run, READ[:1])
    load_pages({**stream.load_key(run), "pages": landed})  # retried: the page is skipped, its ids stay as they were
    assert stream.kept(run) == [landed[0]["ref"]]
    second = stream.land(run, 1, [stream.source.record(i) for i in READ[1]])
    ghost = {"ref": page_ref(stream.connection_id, stream.source.stream, run, 99), "records": 1, "watermark": None}
    with pytest.raises(PageNotFound):
        load_pages({**stream.load_key(run), "pages": [second, ghost]})
    assert stream.kept(run) == [landed[0]["ref"]]  # rolled back with the page's rows
    load_pages({**stream.load_key(run), "pages": [second]})
    stream.load(run, READ[2:], first=2)
    assert len(stream.kept(run)) == 4
    assert stream.seen(run) == (expected_seen(stream.source), True)
    assert sweep_deletes(stream.key(run)) == {"deleted": len(expected_tombstones(stream.source))}
    assert stream.tombstoned() == expected_tombstones(stream.source)


def test_a_page_holding_a_record_without_an_id_keeps_none_and_the_sweep_then_deletes_nothing(
        stream: Stream) -> None:
    run = new_run()
    nameless = without_id(stream.source, "13")
    first = stream.land(run, 0, [stream.source.record(i) for i in READ[0]] + [nameless])
    load_pages({**stream.load_key(run), "pages": [first]})
    stream.load(run, READ[1:], first=1)
    assert first["ref"] not in stream.kept(run) and len(stream.kept(run)) == 3
    assert stream.seen(run)[1] is False  # as the old sweep: it cannot tell which rows it saw
    assert sweep_deletes(stream.key(run)) == {"deleted": 0}
    assert stream.tombstoned() == set()


def test_a_page_read_in_parts_keeps_the_ids_of_every_part_or_none_at_all(stream: Stream, monkeypatch) -> None:
    # A load reads a page a few records at a time (load.PART_RECORDS); here two, so READ's pages of three are read
    # in two parts. The ids kept are the whole page's; a record without an id in a page's last part keeps none of
    # that page's, its first part's included.
    monkeypatch.setattr(load_activity, "PART_RECORDS", 2)
    run = new_run()
    refs = [page["ref"] for page in stream.load(run, READ)]
    assert stream.kept(run) == refs
    assert stream.seen(run) == (expected_seen(stream.source), True)

    nameless = without_id(stream.source, "13")
    later = new_run()
    page = stream.land(later, 0, [stream.source.record(i) for i in READ[0]] + [nameless])
    load_pages({**stream.load_key(later), "pages": [page]})
    assert stream.kept(later) == []
    assert stream.seen(later)[1] is False


def test_a_sweep_that_tombstones_while_another_refresh_runs_leaves_its_marks_for_refresh_aggregates(
        pg_dsn: str, landing_container: str) -> None:
    """It does not wait behind the other streams' refreshes; the connection's refresh_aggregates (after every
    stream) restates what its tombstones touched, as a rebuild would."""
    source = QUICKBOOKS
    stream = Stream(source, f"sweep-ids-{uuid.uuid4().hex[:8]}", pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(stream.connection_id, source.plugin, "Sweep ids", {"realm_id": "1"}))
    stream.load(new_run(), [[str(i) for i in range(1, 13)]])
    refresh_aggregates({"connection_id": stream.connection_id})
    run = new_run()
    stream.load(run, READ)
    refresh_aggregates({"connection_id": stream.connection_id})
    with psycopg.connect(pg_dsn, autocommit=True) as other:
        # Another stream's refresh of the connection, holding its lock.
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, stream.connection_id))
        swept: list[dict] = []
        sweeping = threading.Thread(target=lambda: swept.append(sweep_deletes(stream.key(run))), daemon=True)
        sweeping.start()
        sweeping.join(timeout=60)
        assert swept == [{"deleted": 2}]  # done without the lock
        assert marks(pg_dsn, stream.connection_id) > 0  # the tombstones' marks wait, committed
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, stream.connection_id))
    before = series(pg_dsn, stream.connection_id)
    refresh_aggregates({"connection_id": stream.connection_id})
    assert marks(pg_dsn, stream.connection_id) == 0
    after = series(pg_dsn, stream.connection_id)
    assert after != before and after == rebuilt(pg_dsn, stream.connection_id)


def marks(dsn: str, connection_id: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM metric_dirty WHERE connection_id = %s",
                            (connection_id,)).fetchone()[0]


def series(dsn: str, connection_id: str) -> set[tuple]:
    with psycopg.connect(dsn) as conn:
        return points(conn, connection_id)


def rebuilt(dsn: str, connection_id: str) -> set[tuple]:
    """What a from-scratch aggregation of the committed raw rows gives (rolled back)."""
    with psycopg.connect(dsn) as conn, conn.transaction(force_rollback=True):
        rebuild(conn, connection_id, registry.metric_catalogs())
        return points(conn, connection_id)


def test_a_row_this_run_wrote_is_not_the_reads_to_judge_and_a_first_read_sends_no_ids(pg_dsn, landing_container):
    from shared.db.sweep import tombstone_missing

    def fresh() -> Stream:
        connection_id = f"sweep-first-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_dsn) as conn:
            upsert_connection(conn, Connection(connection_id, "quickbooks", "Sweep first", {"realm_id": "1"}))
        return Stream(QUICKBOOKS, connection_id, pg_dsn)

    def sweep(stream: Stream, run_id: str, ids: set[str]) -> tuple[int, bool]:
        """(rows tombstoned, whether the ids were sent), in a transaction kept open to look."""
        with psycopg.connect(pg_dsn) as conn, conn.transaction():
            deleted = tombstone_missing(conn, "qbo_invoice", stream.connection_id, run_id, ids, 0.5)
            sent = conn.execute("SELECT to_regclass('pg_temp.sweep_seen') IS NOT NULL").fetchone()[0]
        return deleted, sent

    # A first read: every row is this run's, so nothing is compared, even a row the ids leave out (written by
    # another of the run's streams, e.g. change data capture, from what the source held then).
    first, run = fresh(), new_run()
    first.load(run, [["1", "2", "3"], ["4"]])
    assert sweep(first, run, {"1", "2", "3"}) == (0, False)
    assert first.tombstoned() == set()
    # The next run's read: of the rows an earlier run wrote, the ones it missed go; the row it wrote itself stays.
    again = new_run()
    first.load(again, [["5"]])
    assert sweep(first, again, {"1", "3"}) == (2, True)
    assert first.tombstoned() == {("qbo_invoice", "2"), ("qbo_invoice", "4")}
