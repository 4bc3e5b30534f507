"""Splitting a complete read into keyset chains: where the cuts go, and that the chains together read every record
exactly once while records change under them (the simulator's own query engine answers)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

from plugins.quickbooks import paging, partition
from plugins.quickbooks.paging import BEFORE, advance, query_for, start_cursor
from sandbox.quickbooks.entities import by_name
from sandbox.quickbooks.query import execute, parse

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def stamp(seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


class Server:
    """Invoices answered by the simulator's query evaluator; three share each second, so cuts fall inside ties."""

    def __init__(self, count: int, per_second: int = 3) -> None:
        self.rows = {str(i): self._row(str(i), i // per_second) for i in range(1, count + 1)}
        self.clock = count  # seconds: past every record
        self.calls = 0

    @staticmethod
    def _row(ident: str, second: int) -> dict[str, Any]:
        return {"Id": ident, "MetaData": {"LastUpdatedTime": stamp(second)}, "TxnDate": "2024-01-01"}

    def update(self, ident: str) -> None:
        self.clock += 1
        self.rows[ident] = self._row(ident, self.clock)

    def delete(self, ident: str) -> None:
        del self.rows[ident]

    async def ask(self, query: str) -> dict[str, Any]:
        self.calls += 1
        return {"QueryResponse": execute(parse(query), by_name("Invoice"), list(self.rows.values()), "UTC")}


def read_chain(server: Server, cursor: dict[str, Any], page_size: int, between_pages=lambda: None,
               pages: list[int] | None = None) -> list[str]:
    """Every id one chain reads, page by page, as fetch_page pages it; `pages` gets each page's new records."""
    ids: list[str] = []
    while cursor is not None:
        doc = asyncio.run(server.ask(query_for("Invoice", cursor, has_active_flag=False, page_size=page_size)))
        records = doc["QueryResponse"].get("Invoice", [])
        fresh, watermark, done, _ = advance(cursor, records, page_size=page_size)
        ids += [r["Id"] for r in fresh]
        if pages is not None:
            pages.append(len(fresh))
        between_pages()
        cursor = None if done else {**watermark, **({BEFORE: cursor[BEFORE]} if cursor.get(BEFORE) else {})}
    return ids


def test_cuts_give_each_chain_whole_pages_of_998_new_records_and_mark_the_newest_last():
    # 39,003 left after a first page's 3 ids at its last instant: eight chains of five pages, the last smaller.
    # Each page after a chain's first re-reads the record the one before ended on (999 new records a page); a chain
    # is sized for 998 a page, one spare for a page ending inside an instant that records share.
    assert partition.cut_positions(39_003, 3, 1000, 8) == [4991, 9981, 14971, 19961, 24951, 29941, 34931, 39003]
    assert partition.cut_positions(9000, 0, 1000, 8) == [1997, 3993, 5989, 7985, 9000]
    assert partition.cut_positions(39_003, 3, 1000, 4) == [9981, 19961, 29941, 39003]
    assert partition.cut_positions(19_983, 3, 1000, 4) == [5989, 11977, 17965, 19983]  # the last chain smaller
    assert partition.cut_positions(6990, 0, 1000, 8) == []  # seven pages: too few to pay for the split's calls
    assert partition.cut_positions(7000, 0, 1000, 8) == [1997, 3993, 5989, 7000]  # eight: 1,000 + 6 x 999 < 7,000
    assert partition.cut_positions(7990, 1, 1000, 4) == [2995, 5989, 7990]  # never more chains than max_chains
    assert partition.cut_positions(9000, 0, 1000, 1) == []


def test_each_chain_ends_on_the_short_page_it_was_sized_for_without_one_more_call():
    # Sized for 1,000 new records a page, every chain read one more page of about ten records: a request's second
    # on its path. One record a second, as most of a company's records are: each chain but the last ends on a page
    # that brings at least as many records as a full one less the spare it was sized with (one a page).
    page_size = 50
    for count in (2000, 1234, 4999):
        server = Server(count, per_second=1)
        first = start_cursor(None)
        doc = asyncio.run(server.ask(query_for("Invoice", first, has_active_flag=False, page_size=page_size)))
        fresh, watermark, _, _ = advance(first, doc["QueryResponse"]["Invoice"], page_size=page_size)
        cut = asyncio.run(partition.split(server.ask, "Invoice", watermark, has_active_flag=False,
                                          page_size=page_size, max_chains=4))
        chains, after = cut.chains, cut.after
        read = [r["Id"] for r in fresh] + [cut.newest["Id"]]  # the newest, read by the last probe, lands with them
        for chain in chains:
            pages: list[int] = []
            read += read_chain(server, chain, page_size, pages=pages)
            if chain is not chains[-1]:
                assert pages[-1] >= page_size - 2 - len(pages), (count, pages)
                assert 0 < pages[-1] < page_size - 1  # short: no call after it
        assert read_chain(server, after, page_size) == []  # nothing changed meanwhile: the own chain brings nothing
        assert sorted(read, key=int) == [str(i) for i in range(1, count + 1)]


def test_repeated_or_missing_cuts_merge_ranges_and_the_stream_goes_on_from_the_newest():
    mark = {"ts": stamp(0), "seen": ["1"], "read_started": "x"}
    chains, after = partition.chains_between(mark, [stamp(10), None, stamp(10), stamp(20), stamp(5)])
    assert chains == [{**mark, BEFORE: stamp(10)}, {**mark, "ts": stamp(10), "seen": [], BEFORE: stamp(20)}]
    assert after == {**mark, "ts": stamp(20), "seen": []}
    assert partition.chains_between(mark, [None, stamp(0)]) == ([], mark)


def test_chains_read_every_record_exactly_once_while_records_change_and_go():
    server = Server(2000)
    page_size = 50
    first = start_cursor(None)
    doc = asyncio.run(server.ask(query_for("Invoice", first, has_active_flag=False, page_size=page_size)))
    fresh, watermark, done, _ = advance(first, doc["QueryResponse"]["Invoice"], page_size=page_size)
    assert not done
    read = [r["Id"] for r in fresh]
    calls = server.calls
    cut = asyncio.run(partition.split(server.ask, "Invoice", watermark, has_active_flag=False,
                                      page_size=page_size, max_chains=8))
    chains, after = cut.chains, cut.after
    assert cut.newest is not None and after["seen"] == [cut.newest["Id"]]
    read.append(cut.newest["Id"])  # landed with the split's page
    assert len(chains) == 7
    assert server.calls - calls == 1 + 7  # one COUNT, one call per cut (six between chains, the newest)
    # While the chains run (one after another here: any interleaving reads the same ranges), records change:
    # some already read, some not yet; two are deleted before anyone reads them.
    rng = random.Random(5)
    deleted = {"700", "1500"}
    for ident in deleted:
        server.delete(ident)
    # The newest record, landed with the split's page, changes too: the own chain reads its new version.
    changes = iter([cut.newest["Id"], *rng.sample([i for i in server.rows if i not in read], 30), *read[:4]])
    for chain in chains:
        read += read_chain(server, chain, page_size, lambda: server.update(next(changes, "1")))
    read += read_chain(server, after, page_size)  # the stream's own chain, once the others have ended
    latest = set(server.rows)
    assert set(read) == latest  # nothing missed, the deleted ones not read
    # A record changed after a chain read it is read once more at its new version: never a record twice otherwise.
    repeats = {i for i in read if read.count(i) > 1}
    assert len(read) - len(latest) == len(repeats) <= 36


def test_a_chain_keeps_its_end_in_its_query():
    cursor = {"ts": stamp(0), "seen": [], BEFORE: stamp(9)}
    query = paging.query_for("Invoice", cursor, has_active_flag=False)
    assert f"Metadata.LastUpdatedTime >= '{stamp(0)}' AND Metadata.LastUpdatedTime < '{stamp(9)}'" in query


def test_a_count_is_spent_only_when_the_first_page_suggests_enough_pages_left():
    mark = {"ts": stamp(100), "seen": []}
    assert partition.worth_counting(stamp(0), mark, stamp(100 + 400))  # 4 more spans of one page to the clock
    assert not partition.worth_counting(stamp(0), mark, stamp(100 + 300))
    assert partition.worth_counting(stamp(100), mark, stamp(101))  # one page at one instant: only a COUNT tells
    assert partition.worth_counting(None, mark, None)


def test_each_chain_carries_the_records_its_range_holds_and_a_merged_range_adds_them_up():
    mark = {"ts": stamp(0), "seen": ["1"]}
    chains, after = partition.chains_between(mark, [stamp(10), None, stamp(20), stamp(30)], [40, 5, 7, 9])
    assert [c[partition.LEFT] for c in chains] == [40, 12, 9]  # the missing cut's range joins the next one
    assert after[partition.LEFT] == 0
    chains, after = partition.chains_between(mark, [stamp(10), stamp(20), stamp(5)], [3, 4, 6])
    assert [c[partition.LEFT] for c in chains] == [3, 4] and after[partition.LEFT] == 6  # past the last cut kept
    assert partition.range_sizes([4991, 9981, 39003], 3) == [4987, 4990, 29022]


def test_a_split_tells_each_chain_how_many_records_it_reads_and_an_unsplit_read_what_the_count_left():
    page_size = 50
    server = Server(2000, per_second=1)
    first = start_cursor(None)
    doc = asyncio.run(server.ask(query_for("Invoice", first, has_active_flag=False, page_size=page_size)))
    fresh, watermark, _, _ = advance(first, doc["QueryResponse"]["Invoice"], page_size=page_size)
    cut = asyncio.run(partition.split(server.ask, "Invoice", watermark, has_active_flag=False, page_size=page_size,
                                      max_chains=4))
    for chain in cut.chains:
        assert len(read_chain(server, chain, page_size)) == chain[partition.LEFT]
    assert cut.after[partition.LEFT] == 0  # the newest record, landed with the split's page
    # Too few pages to split: the COUNT still says how many are left, for the governor (path_of).
    small = Server(300, per_second=1)
    doc = asyncio.run(small.ask(query_for("Invoice", first, has_active_flag=False, page_size=page_size)))
    fresh, watermark, _, _ = advance(first, doc["QueryResponse"]["Invoice"], page_size=page_size)
    cut = asyncio.run(partition.split(small.ask, "Invoice", watermark, has_active_flag=False, page_size=page_size,
                                      max_chains=4))
    assert cut.chains == [] and cut.after[partition.LEFT] == 300 - len(fresh)


def test_a_pages_path_counts_the_calls_after_it_on_its_stream():
    page_size = 1000
    first = partition.first_cursor(start_cursor(None))
    assert partition.path_of(first, page_size) == partition.MIN_PAGES  # a complete read's first page: maybe large
    chain = {"ts": stamp(0), "seen": [], BEFORE: stamp(9), partition.LEFT: 9980}
    assert partition.path_of(chain, page_size) == 9 + 1  # nine more pages, then the stream's own last read
    assert partition.path_of({**chain, partition.LEFT: 900}, page_size) == 1  # its last page
    assert partition.path_of({"ts": stamp(0), "seen": [], BEFORE: stamp(9)}, page_size) == 1  # size unknown
    own = {"ts": stamp(0), "seen": ["7"], partition.LEFT: 2500}
    assert partition.path_of(own, page_size) == 2
    assert partition.path_of({"ts": stamp(0), "seen": [], partition.GUESS: 4}, page_size) == 3
    assert partition.path_of({"ts": stamp(0), "seen": []}, page_size) == 0  # nothing tells: an ordinary request
    # Counted down page by page; a guess is made again from each page instead.
    assert partition.counted(own, 999) == {partition.LEFT: 1501}
    assert partition.counted(own, 9999) == {partition.LEFT: 0}
    assert partition.counted({"ts": stamp(0)}, 10) == {}


def test_the_stream_knows_its_next_read_is_its_last_only_from_a_count():
    page_size = 1000
    assert partition.ends_next({"ts": stamp(0), "seen": ["1"], partition.LEFT: 998}, page_size)
    assert not partition.ends_next({"ts": stamp(0), "seen": ["1"], partition.LEFT: 999}, page_size)  # a full page
    assert not partition.ends_next({"ts": stamp(0), "seen": [], BEFORE: stamp(9), partition.LEFT: 5}, page_size)
    assert not partition.ends_next({"ts": stamp(0), "seen": [], partition.GUESS: 1}, page_size)


def test_a_guess_is_the_time_left_to_the_clock_over_the_pages_span():
    mark = {"ts": stamp(100), "seen": []}
    assert partition.pages_ahead(stamp(0), mark, stamp(450)) == 3.5
    assert partition.guessed(stamp(0), mark, stamp(450)) == {partition.GUESS: 4}
    assert partition.guessed(stamp(99), mark, stamp(100 + 10**6)) == {partition.GUESS: partition.MAX_GUESS}
    assert partition.guessed(stamp(100), mark, stamp(101)) == {}  # one instant: no span to judge by
    assert partition.guessed(None, mark, None) == {}
