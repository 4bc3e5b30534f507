"""load_pages: landed blobs -> COPY -> staging -> upsert, with watermark and counts, in ONE transaction; the
stream's last load also refreshes the metric series its loads touched (LoadRequest.ends_stream).

A record the plugin cannot read is quarantined with its reason; the rest of its page loads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg

from activities.aggregates import refresh_ahead
from activities.seen_ids import UNREADABLE, record_ids
from activities.stream_end import refresh_at_stream_end
from plugins import registry
from plugins.base import SourcePlugin
from shared.blob.landing import LandingZone
from shared.core import meters
from shared.core.config import Settings, load_settings
from shared.core.gcpause import collector_paused
from shared.core.messages import LoadCounts, LoadRequest, LoadResult, PageRef
from shared.db import runs
from shared.db.connections import get_connection
from shared.db.loader import RawRecord, UnwritableRecords, UpsertCounts, check_typed, upsert_records
from shared.db.pages import claim_page, keep_seen_ids, quarantine
from shared.db.pool import lend
from shared.db.storable import unstorable_at
from shared.db.watermarks import set_watermark

MAX_REASON = 1000

log = logging.getLogger(__name__)


def _record_id(record: Any) -> str | None:
    if isinstance(record, dict):
        value = record.get("Id", record.get("id"))
        return None if value is None else str(value)
    return None


# A page's records read, parsed and upserted at a time. A whole parsed page holds about 10 MB (1,000 invoices, 8 MB
# of it dicts) for as long as its upsert runs, and a worker runs several loads at once (_load_slots). Smaller parts
# cost upserts: each call has a fixed ~6 ms and pipelines less of its COPY, so 20,000 invoices upserted in parts of
# 250 took 5.6-5.9 s against 4.1 s in parts of 1,000. At 100 pages with five loads at once (docs/SCALING.md) parts
# of 250 peaked at 96 MB at 0.74-0.76 of the limit, 500 at 109 MB at 0.82, whole pages at 134 MB at 0.82.
PART_RECORDS = 500


@dataclass
class _ReadPart:
    """Up to PART_RECORDS records of a landed page as the plugin reads them: grouped by target table, and the
    unreadable ones."""

    grouped: dict[str, list[RawRecord]] = field(default_factory=lambda: defaultdict(list))
    unreadable: list[tuple[int, Any, str]] = field(default_factory=list)  # (position in the page, record, reason)
    # Each read record's position in the page and landed record, by id() of its RawRecord: the upsert finds some
    # unreadable only when it makes their child rows (upsert_records' `unreadable`).
    origins: dict[int, tuple[int, Any]] = field(default_factory=dict)
    # The ids the part held per target table, as a complete read's sweep counts them (activities/seen_ids.py);
    # None: a record only a parse can judge (no id, or one its split refuses), so the sweep parses the page.
    seen: dict[str, list[str]] | None = field(default_factory=lambda: defaultdict(list))
    records: int = 0

    def saw(self, ids: list[tuple[str, str]] | None) -> None:
        if self.seen is None:
            return
        if ids is None:
            self.seen = None
            return
        for target, record_id in ids:
            self.seen[target].append(record_id)


def _unreadable_ids(plugin: SourcePlugin, stream: str, record: Any) -> list[tuple[str, str]] | None:
    try:
        return record_ids(plugin, stream, record)
    except UNREADABLE:
        return None


def _read_parts(plugin: SourcePlugin, stream: str, landing: LandingZone, ref: str,
                keep_ids: bool) -> Iterator[_ReadPart]:
    """Download one page, then parse, split and type it PART_RECORDS records at a time (no database: a page read
    ahead runs on the reader thread); with `keep_ids`, the ids each part held for the sweep too. A page yields at
    least one part, empty for an empty page."""
    def new_part() -> _ReadPart:
        return _ReadPart(seen=defaultdict(list) if keep_ids else None)

    part = new_part()
    for position, (record, text) in enumerate(landing.read_page_text(ref), start=1):
        if part.records == PART_RECORDS:
            yield part
            part = new_part()
        part.records += 1
        ids: list[tuple[str, str]] = []
        try:
            if (unstorable := unstorable_at(record, text)) is not None:
                raise ValueError(unstorable)
            for target, piece in plugin.split(stream, record):
                raw = plugin.to_raw(target, piece)
                check_typed(plugin.table(target), raw)  # here, so that such a record is quarantined
                if raw.payload is record:  # the landed record itself: its landed text is its payload
                    raw = dataclasses.replace(raw, payload_json=text)
                part.grouped[target].append(raw)
                part.origins[id(raw)] = (position, record)
                ids.append((target, raw.id))  # record_id's answer (plugins/base.py), with no second reading
        except UNREADABLE as exc:
            part.unreadable.append((position, record, f"{type(exc).__name__}: {exc}"[:MAX_REASON]))
            if part.seen is not None:
                part.saw(_unreadable_ids(plugin, stream, record))
        else:
            part.saw(ids)
    yield part


def _read_whole(plugin: SourcePlugin, stream: str, landing: LandingZone, ref: str, keep_ids: bool) -> list[_ReadPart]:
    """A page read ahead: all its parts, on the reader thread."""
    return list(_read_parts(plugin, stream, landing, ref, keep_ids))


def _taken(read: Future[list[_ReadPart]]) -> Iterator[_ReadPart]:
    """The parts of a page read ahead, each let go of as the next is taken."""
    parts = read.result()
    parts.reverse()
    while parts:
        yield parts.pop()


class _Running:
    """How many loads this process runs now (in their slots).

    A load reads its next page while PostgreSQL writes the one before, which uses a core the load would leave
    idle, but only while it is the only load of its process: with several running (the chains of a split read load
    side by side on the worker's thread pool) the others use that core, and each page read ahead holds about 10 MB
    of parsed records (1,000 invoices). Five loads each reading ahead peaked at 200-208 MB; one page ahead in the
    process at 183-191 MB; three loads none ahead at 128-133 MB (docs/SCALING.md)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        with self._lock:
            self.count += 1
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1

    @property
    def alone(self) -> bool:
        return self.count <= 1


_RUNNING = _Running()


@functools.cache
def _load_slots(count: int) -> threading.BoundedSemaphore:
    """The slots of the loads running at once in this process (LOADS_PER_WORKER).

    A split read's chains load side by side in one worker: a large entity's first page beside its four chains is
    five loads, two such entities ten, each holding the part of a page it upserts (PART_RECORDS) and its buffers.
    At 1,000 pages (docs/SCALING.md, with the MALLOC_ARENA_MAX=2 that infra/modules/functionapp.bicep sets) five at
    once upserting parts of 500 reached 0.86-0.91 of the limit at 113 MB, and 1.06-1.09 on the 10% pass; holding
    whole pages, four had reached 0.77-0.85 at 146-148 MB and five 0.91 at 152 MB. A load waits for its slot before
    it opens its transaction, so a waiting load holds no lock another load could wait for."""
    return threading.BoundedSemaphore(count)


def _read_ahead(plugin: SourcePlugin, stream: str, landing: LandingZone, pages: list[PageRef],
                keep_ids: bool) -> Iterator[tuple[PageRef, Iterator[_ReadPart]]]:
    """Each page with its parts; the next page read whole on the reader thread before this one is loaded while no
    other load of the process runs (_RUNNING), otherwise each page read a part at a time as its load takes them.

    The reader thread parses while the load waits on PostgreSQL (psycopg releases the GIL while it waits): the
    server's work and the parsing overlap. One page ahead at most, so a load alone holds two pages at most. With
    other loads running, they use the core the reader would, and a part at a time keeps each load's parsed records
    small."""
    def read(page: PageRef) -> Future[list[_ReadPart]]:
        return reader.submit(_read_whole, plugin, stream, landing, page.ref, keep_ids)

    upcoming: Future[list[_ReadPart]] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-read") as reader:
        for index, page in enumerate(pages):
            current = (_taken(upcoming) if upcoming is not None
                       else _read_parts(plugin, stream, landing, page.ref, keep_ids))
            upcoming = read(pages[index + 1]) if index + 1 < len(pages) and _RUNNING.alone else None
            yield page, current
            del current  # the loaded page's records can go


def load_pages(request: dict[str, Any]) -> dict[str, Any]:
    """Load landed pages once each; a retried load skips pages an earlier attempt committed."""
    asked = LoadRequest.from_json(request)
    started = time.monotonic()
    # Log ids are bound for every activity where they are registered (activities/logging_ids.py).
    with meters.tracer.start_as_current_span("load_pages", attributes={
            "run_id": asked.run_id, "connection_id": asked.connection_id, "stream": asked.stream}) as span:
        settings = load_settings()
        with _load_slots(settings.loads_per_worker), _RUNNING.one():
            span.set_attribute("slot_wait_s", round(time.monotonic() - started, 3))
            with collector_paused():  # the pages' records are trees: the collector would only traverse them
                try:
                    counts, source, refreshed = _load(asked, settings, careful=False)
                except UnwritableRecords as exc:
                    # Its transaction rolled back: loaded again, each part's lines made before its upsert, so that
                    # such records are quarantined (rare: a line the plugin cannot read).
                    log.warning("loading %s again to quarantine what it cannot write: %s", asked.stream, exc)
                    counts, source, refreshed = _load(asked, settings, careful=True)
        seconds = time.monotonic() - started
        meters.record_load(meters.stream_attributes(source, asked.connection_id, asked.stream), counts, seconds)
        log.info("loaded %d page(s) of %s in %.2f s: %d inserted, %d updated, %d unchanged, %d deleted",
                 counts["pages"], asked.stream, seconds, counts["inserted"], counts["updated"], counts["unchanged"],
                 counts["deleted"])
        if asked.ends_stream and not refreshed:
            # The stream has nothing left to read, and its transaction left the refresh: when no other stream of the
            # run has more than its last read left, the connection's metric rebuild runs now, beside those reads,
            # instead of after them (refresh_ahead, which never fails this load); outside the load slot, which
            # another load may take meanwhile.
            refresh_ahead(asked.key().to_json())
    # Its duration goes back with its counts: sync_stream compares it with the fetch beside it (LoadResult).
    return LoadResult(**counts, seconds=round(seconds, 3)).to_json()


def _load_page(conn: psycopg.Connection, plugin: SourcePlugin, asked: LoadRequest, page: PageRef,
               parts: Iterator[_ReadPart], totals: UpsertCounts, batch_rows: int, careful: bool) -> int:
    """One claimed page's records upserted into `totals` a part at a time and its unreadable ones quarantined;
    returns how many were quarantined.

    Each part goes before the next is read: the loop lets go of it at the end of its turn (its variable would hold
    it while the next part is parsed), and nothing else here refers to its records."""
    seen: dict[str, list[str]] | None = defaultdict(list) if asked.keep_ids else None
    quarantined = 0
    for part in parts:
        quarantined += _load_part(conn, plugin, asked, page, part, totals, batch_rows, careful)
        if seen is not None and part.seen is not None:
            for target, ids in part.seen.items():
                seen[target].extend(ids)
        else:
            seen = None
        del part
    if seen is not None:  # read with keep_ids, and no record only a parse can judge
        keep_seen_ids(conn, page.ref, seen)
    return quarantined


def _load_part(conn: psycopg.Connection, plugin: SourcePlugin, asked: LoadRequest, page: PageRef, part: _ReadPart,
               totals: UpsertCounts, batch_rows: int, careful: bool) -> int:
    """A part's unreadable records quarantined and the others upserted into `totals`; returns how many were
    quarantined. `careful`: records whose child rows cannot be made quarantined too (upsert_records' `unreadable`),
    else found only as they are written (UnwritableRecords)."""
    def put_aside(position: int, record: Any, reason: str) -> None:
        quarantine(conn, asked.connection_id, asked.stream, asked.run_id, page.ref, position, _record_id(record),
                   reason, record)

    def unwritable(raw: RawRecord, exc: ValueError) -> None:
        position, record = part.origins[id(raw)]
        put_aside(position, record, f"{type(exc).__name__}: {exc}"[:MAX_REASON])
        found.append(position)

    found: list[int] = []
    for position, record, reason in part.unreadable:
        put_aside(position, record, reason)
    for target, records in part.grouped.items():
        totals.add(upsert_records(conn, plugin.table(target), asked.connection_id, asked.run_id, records,
                                  batch_rows=batch_rows, unreadable=unwritable if careful else None))
    return len(part.unreadable) + len(found)


def _load(asked: LoadRequest, settings: Settings, careful: bool) -> tuple[dict[str, int], str, bool]:
    """(the counts, the connection's plugin, whether the stream's end refreshed its series in this transaction)."""
    run_id, connection_id, stream = asked.run_id, asked.connection_id, asked.stream
    landing = LandingZone(settings.storage, settings.landing_container)
    totals = UpsertCounts()
    pages_loaded = quarantined = 0
    refreshed = False
    with lend() as conn, conn.transaction():
        connection = get_connection(conn, connection_id)
        plugin = registry.get(connection.plugin)
        for page, reading in _read_ahead(plugin, stream, landing, asked.pages, asked.keep_ids):
            if not claim_page(conn, page.ref, run_id, page.records):
                continue
            quarantined += _load_page(conn, plugin, asked, page, reading, totals, settings.load_batch_rows, careful)
            pages_loaded += 1
        last = asked.pages[-1] if asked.pages else None
        if last and last.watermark:
            set_watermark(conn, connection_id, stream, last.watermark, run_id)
        counts = LoadCounts(
            pages=pages_loaded, fetched=totals.staged + quarantined, inserted=totals.inserted,
            updated=totals.updated, unchanged=totals.unchanged, deleted=totals.deleted, quarantined=quarantined,
        )
        runs.add_counts(conn, run_id, connection_id, stream, **counts.to_json())
        if asked.ends_stream:
            # The buckets this stream's loads touched, in the last one's transaction (stream_end.py says when
            # they wait for the connection's refresh instead). Refreshing after every call recomputed buckets
            # across the whole table each time (a first load's pages span every date): 4 s per page at 144 pages.
            # The earlier loads' marks wait committed beside their rows; a stream that fails before its end leaves
            # them to the connection's refresh_aggregates.
            refreshed = refresh_at_stream_end(conn, run_id, connection_id, stream)
    return counts.to_json(), connection.plugin, refreshed
