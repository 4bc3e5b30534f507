"""Bigger loads when loading is the slower (orchestrators/sync_stream.py, issue 13 §1), replayed by the real Durable
SDK through the local host.

The activities are stand-ins: a source of numbered pages in one or several chains, and fetch and load durations
given by each test (the real activities measure theirs; here they are chosen, so the decisions are known). The
fetch reads as many pages as the real fetch_pages would (its own pages_to_read, PAGES_PER_FETCH 2, LOAD_PAGES_MAX
10). What is under test: a load-bound stream's loads grow to the cap and shrink back once the fetch is the slower,
a fetch-bound stream schedules what it always did, and in every case each page is loaded once, in its chain's
order, the stream's last load alone marked ends_stream."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.durable_functions.models.history import HistoryEventType

import orchestrators
from activities.fetch import pages_to_read
from devhost import LocalDurableHost
from shared.core.messages import (
    FetchRequest,
    FetchResult,
    LoadRequest,
    LoadResult,
    PageRef,
    StreamFinished,
    StreamRequest,
    SweepResult,
)

PAGES_PER_FETCH, LOAD_PAGES_MAX = 2, 10
KEY = ("run-1", "c-1", "Invoice")
stand_ins = df.Blueprint()
SEEN: dict[str, Any] = {}
LOCK = threading.Lock()

# Seconds a fetch or a load of these pages takes: (chain, page number) of each page -> seconds.
Timing = Callable[[list[tuple[str, int]]], float]


def _remember(key: str, value: Any) -> None:
    with LOCK:
        SEEN.setdefault(key, []).append(value)


def _page(chain: str, number: int, sequence: int) -> PageRef:
    return PageRef(f"c-1/Invoice/run-1/{sequence:06d}.jsonl.gz", 100, {"chain": chain, "page": number})


def _pages_of(refs: list[PageRef]) -> list[tuple[str, int]]:
    return [((ref.watermark or {})["chain"], (ref.watermark or {})["page"]) for ref in refs]


@stand_ins.activity_trigger(input_name="request")
def fetch_pages(request: dict[str, Any]) -> dict[str, Any]:
    """Pages of SEEN["chains"] (chain -> number of pages); the stream's own chain ("main") splits into the others
    after its first page when there are others, and goes on once they are read."""
    _remember("fetch_inputs", request)
    asked = FetchRequest.from_json(request)
    size, doublings = pages_to_read(asked, PAGES_PER_FETCH, LOAD_PAGES_MAX)
    cursor: dict[str, Any] | None = asked.cursor
    at = (cursor["chain"], cursor["page"]) if cursor else None
    started = time.monotonic()
    time.sleep(SEEN.get("fetch_sleep", {}).get(at and at[0], 0.0))  # an API answering this chain late, for real
    if at is not None and at == SEEN.get("fetch_fails"):
        raise RuntimeError(f"HTTP 400 reading {at[0]} page {at[1]}")
    if any(f.status != "running" for f in SEEN.get("finished", [])):  # as fetch_pages reads sync_run_streams
        _remember("stopped", at)
        return FetchResult([], cursor, False, stopped="Invoice already ended failed").to_json()
    with LOCK:
        throttled = at is not None and at == SEEN.get("throttle_once")
        if throttled:
            SEEN["throttle_once"] = None
    if throttled:
        return FetchResult([], cursor, False, 60.0, "HTTP 429").to_json()
    pages: list[PageRef] = []
    chains: list[dict[str, Any]] = []
    while cursor is not None and len(pages) < size:
        chain, number = cursor["chain"], cursor["page"]
        pages.append(_page(chain, number, asked.sequence + len(pages)))
        cursor = {"chain": chain, "page": number + 1} if number + 1 < SEEN["chains"][chain] else None
        if chain == "main" and number == 0 and len(SEEN["chains"]) > 1:
            chains = [{"chain": other, "page": 0} for other in SEEN["chains"] if other != "main"]
            break
    seconds = SEEN["fetch_seconds"](_pages_of(pages))
    _remember("fetch_times", (at, started, time.monotonic()))
    # With SEEN["counted"], the source knows its size: it says when the next fetch is the stream's last read.
    last_next = bool(SEEN.get("counted")) and cursor is not None and cursor["page"] == SEEN["chains"][
        cursor["chain"]] - 1
    return FetchResult(pages, cursor, cursor is None and not chains, chains=chains, seconds=seconds,
                       doublings=doublings, last_next=last_next).to_json()


@stand_ins.activity_trigger(input_name="request")
def load_pages(request: dict[str, Any]) -> dict[str, Any]:
    asked = LoadRequest.from_json(request)
    pages = _pages_of(asked.pages)
    with LOCK:
        if SEEN.get("fail_once") in pages:  # the database went away during this load: its retry succeeds
            SEEN["fail_once"] = None
            raise RuntimeError("connection to the database lost")
    _remember("loads", (pages, asked.ends_stream))
    _remember("keep_ids", asked.keep_ids)
    return LoadResult(pages=len(pages), fetched=100 * len(pages), inserted=100 * len(pages),
                      seconds=SEEN["load_seconds"](pages)).to_json()


@stand_ins.activity_trigger(input_name="request")
def sweep_deletes(request: dict[str, Any]) -> dict[str, Any]:
    _remember("sweeps", request["stream"])
    return SweepResult(0).to_json()


@stand_ins.activity_trigger(input_name="request")
def refresh_ahead(request: dict[str, Any]) -> dict[str, bool]:
    """What had been loaded when it ran, and for which stream."""
    with LOCK:
        loaded = [page for pages, _ in SEEN.get("loads", []) for page in pages]
    _remember("ahead", (request["stream"], loaded))
    return {"refreshed": True}


@stand_ins.activity_trigger(input_name="request")
def finish_stream(request: dict[str, Any]) -> None:
    _remember("finished", StreamFinished.from_json(request))


app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(orchestrators.bp)
app.register_functions(stand_ins)


@pytest.fixture
def host(tmp_path) -> Iterator[LocalDurableHost]:
    SEEN.clear()
    host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)
    yield host
    host.close()


def per_page(fixed: float, each: float) -> Timing:
    return lambda pages: fixed + each * len(pages)


FAST_FETCH, SLOW_FETCH = per_page(0.01, 0.05), per_page(0.01, 0.5)
LOAD = per_page(0.045, 0.15)  # bench/bench_load.py's fixed cost per call; 150 ms a page


def run(host: LocalDurableHost, chains: dict[str, int], fetch: Timing, load: Timing, sweep: bool = False,
        **options: int) -> dict[str, Any]:
    """Run one stream to its end; its instance's status."""
    SEEN.update(chains=chains, fetch_seconds=fetch, load_seconds=load)
    request = StreamRequest(*KEY, {"chain": "main", "page": 0}, sweep=sweep, options=options)
    return host.run_until_complete(host.start_new("sync_stream", "stream-1", request.to_json()), timeout=120)


def sync(host: LocalDurableHost, chains: dict[str, int], fetch: Timing, load: Timing, sweep: bool = False,
         **options: int) -> list[list[tuple[str, int]]]:
    """Run one stream; the pages of each load, in the order the loads ran, once the stream succeeded."""
    status = run(host, chains, fetch, load, sweep, **options)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == {"stream": "Invoice", "status": "succeeded", "error": None}
    assert [f.status for f in SEEN["finished"]] == ["succeeded"]
    loads = [pages for pages, _ in SEEN["loads"]]
    assert_each_page_once_in_chain_order(chains, loads)
    ends = [ends for _, ends in SEEN["loads"]]
    assert ends[-1] and not any(ends[:-1]), ends  # one chain's last load refreshes, or a refresh after several
    return [pages for pages in loads if pages]


def assert_each_page_once_in_chain_order(chains: dict[str, int], loads: list[list[tuple[str, int]]]) -> None:
    loaded = [page for pages in loads for page in pages]
    assert sorted(loaded) == sorted((chain, n) for chain, count in chains.items() for n in range(count))
    for chain, count in chains.items():
        assert [n for c, n in loaded if c == chain] == list(range(count)), chain
    for pages in loads:  # a load holds one chain's pages, consecutive
        assert len({chain for chain, _ in pages}) <= 1
        assert [n for _, n in pages] == list(range(pages[0][1], pages[0][1] + len(pages))) if pages else True


def test_a_load_bound_stream_hands_bigger_loads_up_to_the_cap(host):
    loads = sync(host, {"main": 60}, FAST_FETCH, LOAD)
    sizes = [len(pages) for pages in loads]
    # Each load slower than the fetch beside it: the fetches (and so the loads after them) double to the cap.
    assert sizes[:5] == [2, 2, 4, 8, 10], sizes
    assert set(sizes[4:-1]) == {10}, sizes
    assert len(loads) < 60 // PAGES_PER_FETCH
    assert [r.get("doublings", 0) for r in SEEN["fetch_inputs"]][:6] == [0, 0, 1, 2, 3, 4]


@pytest.mark.parametrize("sweep", [True, False])
def test_the_loads_keep_their_pages_ids_exactly_when_a_sweep_follows(host, sweep):
    # A complete read's loads keep each page's ids for the sweep (activities/sweep.py reads them instead of parsing
    # the pages again); an incremental read's keep none: nothing would read them.
    loads = sync(host, {"main": 7, "a": 5}, FAST_FETCH, LOAD, sweep=sweep)
    assert SEEN["keep_ids"] == [sweep] * len(SEEN["keep_ids"]) and len(SEEN["keep_ids"]) >= len(loads)
    assert SEEN.get("sweeps", []) == (["Invoice"] if sweep else [])


def test_bench_load_sizes_its_load_bound_calls_as_the_orchestrator_hands_them(host):
    # bench_load --load-bound stands for this stream (its pages are landed before it starts): its calls must be the
    # loads the orchestrator hands over, not a schedule of its own.
    from bench.bench_load import fixed_calls, load_bound_calls

    loads = sync(host, {"main": 45}, FAST_FETCH, LOAD)
    assert load_bound_calls(45, PAGES_PER_FETCH, LOAD_PAGES_MAX) == [len(pages) for pages in loads]
    assert fixed_calls(45, PAGES_PER_FETCH) == [2] * 22 + [1]


def test_bench_load_splits_its_pages_as_the_orchestrator_loads_a_split_read(host):
    # bench_load --split 4 stands for a complete read split into four chains after its first page: the first page's
    # load beside the chains, each chain's load-bound calls, then the stream's own chain's last load, alone marked
    # ends_stream (the refresh).
    from bench.bench_load import split_chains

    lanes, last = split_chains(100, 4, PAGES_PER_FETCH, LOAD_PAGES_MAX)
    chains = {"main": 2, **{name: sum(n for _, n in calls) for name, calls in zip("abcd", lanes[1:], strict=True)}}
    assert chains == {"main": 2, "a": 25, "b": 25, "c": 25, "d": 23}
    sync(host, chains, FAST_FETCH, LOAD)
    loads = [(pages, ends) for pages, ends in SEEN["loads"] if pages]
    assert loads[0] == ([("main", 0)], False) and loads[-1] == ([("main", 1)], True)
    assert last == (99, 1) and lanes[0] == [(0, 1)]
    for name, calls in zip("abcd", lanes[1:], strict=True):
        assert [len(pages) for pages, _ in loads if pages[0][0] == name] == [n for _, n in calls], name
    # The bench's calls cover pages 1-98 once, in order, chain after chain.
    covered = [first + i for calls in lanes[1:] for first, n in calls for i in range(n)]
    assert covered == list(range(1, 99))


def test_bench_load_gives_a_split_chain_the_least_pages_the_partition_does():
    from bench import bench_load
    from plugins.quickbooks import partition

    assert bench_load.MIN_PAGES_PER_CHAIN == partition.MIN_PAGES_PER_CHAIN
    # Ten pages in eight chains: the middle eight pages go two to a chain, as cut_positions cuts them.
    lanes, _ = bench_load.split_chains(10, 8, PAGES_PER_FETCH, LOAD_PAGES_MAX)
    assert [sum(n for _, n in calls) for calls in lanes[1:]] == [2, 2, 2, 2]
    assert len(partition.cut_positions(9000, 0, 1000, 8)) - 1 == 4


def test_a_split_streams_last_read_has_the_metric_rebuild_beside_it_once(host):
    # Once the chains have all ended, the stream's own chain reads what changed meanwhile (a request's second): the
    # connection's rebuild runs beside that read, not after it (activities/aggregates.py refresh_ahead).
    chains = {"main": 3, "a": 5, "b": 4}
    sync(host, chains, FAST_FETCH, LOAD, sweep=True)
    ((stream, loaded),) = SEEN["ahead"]  # once, by the stream, none by its chains
    assert stream == "Invoice"
    assert sorted(loaded) == sorted([("main", 0)] + [(c, n) for c in "ab" for n in range(chains[c])])
    last_read = [r for r in SEEN["fetch_inputs"] if (r["cursor"] or {}).get("chain") == "main"][1]
    assert last_read["cursor"]["page"] == 1  # the own chain's fetch after the chains, whose rounds it shares


def test_a_stream_that_never_splits_has_no_rebuild_beside_its_reads(host):
    sync(host, {"main": 9}, FAST_FETCH, LOAD, sweep=True)
    assert "ahead" not in SEEN


def test_a_stream_its_source_counted_has_the_rebuild_beside_the_read_it_says_is_its_last(host):
    SEEN["counted"] = True
    sync(host, {"main": 9}, SLOW_FETCH, LOAD, sweep=True)
    ((stream, loaded),) = SEEN["ahead"]  # once, beside the fetch of page 8, the stream's last
    assert stream == "Invoice" and len(loaded) <= 8
    last_read = SEEN["fetch_inputs"][-1]
    assert last_read["cursor"] == {"chain": "main", "page": 8}


def test_a_fetch_bound_stream_schedules_what_it_always_did(host):
    loads = sync(host, {"main": 30}, SLOW_FETCH, LOAD)
    assert [len(pages) for pages in loads] == [2] * 15
    # The fetch inputs are those of the versions before: nothing added, sequence numbers two apart.
    assert [sorted(r) for r in SEEN["fetch_inputs"]] == [
        ["connection_id", "cursor", "max_pages", "run_id", "sequence", "stream"]] * 15
    assert [r["sequence"] for r in SEEN["fetch_inputs"]] == list(range(0, 30, 2))


def test_loads_shrink_back_once_the_fetch_is_the_slower(host):
    def fetch(pages: list[tuple[str, int]]) -> float:  # the API slows down from page 40 on
        return (SLOW_FETCH if pages and pages[0][1] >= 40 else FAST_FETCH)(pages)

    loads = sync(host, {"main": 90}, fetch, LOAD)
    sizes = [len(pages) for pages in loads]
    assert max(sizes) == LOAD_PAGES_MAX
    # Halved while the fetch takes more than twice the load (10 pages: 5.0 s against 1.5 s), down to two.
    assert sizes[-4:] == [2, 2, 2, 2], sizes
    assert any(size == 8 for size in sizes[sizes.index(LOAD_PAGES_MAX):]), sizes


def test_a_chains_size_goes_through_continue_as_new(host):
    loads = sync(host, {"main": 40}, FAST_FETCH, LOAD, iterations_per_execution=2)
    sizes = [len(pages) for pages in loads]
    # Two rounds per execution: each ends loading its last fetch alone; the next starts at the size reached.
    assert sizes[:6] == [2, 2, 4, 4, 8, 8], sizes
    assert LOAD_PAGES_MAX in sizes


def test_pinned_max_pages_keeps_every_fetch_and_load_its_size(host):
    loads = sync(host, {"main": 12}, FAST_FETCH, LOAD, max_pages=3)
    assert [len(pages) for pages in loads] == [3, 3, 3, 3]
    assert not any("doublings" in r for r in SEEN["fetch_inputs"])


def test_chains_read_side_by_side_grow_each_alone_and_load_each_page_once_in_order(host):
    def load(pages: list[tuple[str, int]]) -> float:  # chain "a" loads slowly, the others quickly
        return (LOAD if pages and pages[0][0] == "a" else per_page(0.0, 0.001))(pages)

    loads = sync(host, {"main": 9, "a": 40, "b": 40, "c": 5}, FAST_FETCH, load)
    sizes = {chain: [len(p) for p in loads if p[0][0] == chain] for chain in ("main", "a", "b")}
    assert max(sizes["a"]) == LOAD_PAGES_MAX, sizes
    assert set(sizes["b"]) == {2}, sizes  # its loads hide behind its fetches: it never grows
    assert sizes["main"][0] == 1  # the page the split came with


def _fetched(chain: str) -> list[tuple[float, float]]:
    """When each fetch of a chain started and ended (time.monotonic), in order."""
    return sorted((start, end) for at, start, end in SEEN["fetch_times"] if at and at[0] == chain)


def test_each_chain_of_a_split_goes_at_its_own_pace_in_a_sub_orchestration_of_its_own(host):
    # Chain "a" is answered two seconds late; "b" at once. Read in one loop, "b" would fetch once a round, each round
    # waiting for "a": its second fetch could not start before "a"'s first ended. Each in its own instance, "b" is
    # read to its end while "a" waits for its first answer.
    SEEN["fetch_sleep"] = {"a": 2.0}
    loads = sync(host, {"main": 3, "a": 4, "b": 8}, FAST_FETCH, per_page(0.0, 0.001))
    slow, fast = _fetched("a"), _fetched("b")
    assert len(slow) == 2 and len(fast) == 4
    assert fast[-1][1] < slow[0][1], (fast, slow)
    # The chains' instances are the stream's, named after their first page; the stream's own chain went on after.
    children = [e["InstanceId"] for e in host.history("stream-1")
                if e["EventType"] == HistoryEventType.SUB_ORCHESTRATION_INSTANCE_CREATED]
    assert children == ["stream-1:chain100001", "stream-1:chain200001"]
    assert _fetched("main")[-1][0] > max(slow[-1][1], fast[-1][1])
    assert [pages for pages in loads if pages[0][0] == "main"] == [[("main", 0)], [("main", 1), ("main", 2)]]


def test_a_chain_that_fails_fails_its_stream_saying_why(host):
    SEEN["fetch_fails"] = ("b", 2)
    status = run(host, {"main": 3, "a": 4, "b": 8}, FAST_FETCH, per_page(0.0, 0.001))
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "failed"
    assert "HTTP 400 reading b page 2" in status["output"]["error"]
    # The chain recorded its stream's failure as it failed, the stream again once every chain had ended.
    chain, stream = SEEN["finished"]
    assert (stream.status, stream.error) == ("failed", status["output"]["error"])
    assert chain.status == "failed" and chain.error in stream.error
    assert not any(ends for _, ends in SEEN["loads"])  # no refresh: the stream did not end
    assert "sweeps" not in SEEN


def test_the_other_chains_of_a_failed_stream_stop_at_their_next_fetch(host):
    # Chain "b" fails on its third page, after its fetch's retries (about 10 s); "a" is answered a second late and has
    # forty pages (20 s). "b" records its stream's failure as it fails; "a" then reads nothing more, and the stream
    # (whose task_all waits for every chain) fails with b's error.
    SEEN["fetch_fails"] = ("b", 2)
    SEEN["fetch_sleep"] = {"a": 1.0}
    status = run(host, {"main": 3, "a": 40, "b": 8}, FAST_FETCH, per_page(0.0, 0.001))
    assert status["output"]["status"] == "failed" and "HTTP 400 reading b page 2" in status["output"]["error"]
    chain_a = host.run_until_complete("stream-1:chain100001", timeout=60)
    assert chain_a["runtimeStatus"] == "Completed", chain_a
    stopped = [at for at in SEEN["stopped"] if at and at[0] == "a"]
    assert len(stopped) == 1  # its first fetch after the stream's end, and nothing after it
    read = [page for pages, _ in SEEN["loads"] for page in pages if page[0] == "a"]
    assert len(read) < 30 and read == [("a", n) for n in range(len(read))]  # in order, 10 s of its 20
    assert [f.status for f in SEEN["finished"]] == ["failed", "failed"]  # the chain's record, then the stream's


def test_a_streams_own_chain_told_its_stream_ended_fails_rather_than_reading_on_or_sweeping(host):
    # Not a chain: ending quietly would look like a complete read, and its sweep would follow.
    SEEN["finished"] = [StreamFinished(*KEY, status="failed", error="recorded elsewhere")]
    status = run(host, {"main": 9}, FAST_FETCH, per_page(0.0, 0.001), sweep=True)
    assert status["output"]["status"] == "failed" and "Invoice already ended failed" in status["output"]["error"]
    assert "sweeps" not in SEEN and "loads" not in SEEN


def test_a_chain_waits_out_its_throttle_in_its_own_instance_and_the_wait_counts_for_its_stream(host):
    SEEN["throttle_once"] = ("a", 2)
    sync(host, {"main": 3, "a": 6, "b": 6}, FAST_FETCH, per_page(0.0, 0.001))
    assert SEEN["throttle_once"] is None
    timers = {instance: [e for e in host.history(instance) if e["EventType"] == HistoryEventType.TIMER_CREATED]
              for instance in ("stream-1", "stream-1:chain100001", "stream-1:chain200001")}
    assert [len(found) for found in timers.values()] == [0, 1, 0], timers
    assert [f.throttle_waits for f in SEEN["finished"]] == [1]


@pytest.mark.parametrize("chains", [{"main": 9}, {"main": 9, "a": 12, "b": 12}])
def test_a_load_retried_after_a_failure_gives_its_result_and_every_page_loads_once(host, chains):
    SEEN["fail_once"] = ("a", 4) if "a" in chains else ("main", 4)
    loads = sync(host, chains, FAST_FETCH, per_page(0.0, 0.001))
    assert SEEN["fail_once"] is None  # it failed once
    assert sum(len(pages) for pages in loads) == sum(chains.values())


@pytest.mark.parametrize(("asked", "expected"), [
    ({}, (2, 0)), ({"doublings": 1}, (4, 1)), ({"doublings": 2}, (8, 2)), ({"doublings": 3}, (10, 3)),
    ({"doublings": 9}, (10, 3)), ({"max_pages": 5, "doublings": 3}, (5, 0)),
])
def test_a_fetch_doubles_up_to_load_pages_max_and_says_how_far(asked, expected):
    request = FetchRequest(*KEY, None, **asked)
    assert pages_to_read(request, PAGES_PER_FETCH, LOAD_PAGES_MAX) == expected
    assert pages_to_read(request, 10, 4)[0] == (5 if "max_pages" in asked else 10)  # never below PAGES_PER_FETCH
