"""sync_stream: the page loop of one stream: fetch -> land -> load, waiting out throttles on durable timers.

Fetch and load overlap: each round loads the pages the previous round fetched while it fetches the next ones
(context.task_all), so the API and the database work side by side. A chain's pages are loaded in the order they
were fetched, one load at a time, and a failed load fails the stream before any later page of it is loaded.
A fetch may split the stream into several cursor chains (FetchResult.chains, e.g. ranges of a large entity);
they are read side by side, each with its own sequence numbers, and the chain they split from goes on only
once all of them are read to their end; a throttled chain of several waits alone (Lane.not_before) while the
others go on. A stream of one chain schedules the activities it always did, in the same order (fetch, load,
fetch, load: each round's loads come before its fetch; a throttle: its load, the timer), now two at a time.

Bigger loads when loading is the slower (issue 13 §1): each load_pages call has a fixed cost (connection, page
claims, counts, commit, and its first page's parse that nothing overlaps: about 45 ms, bench/bench_load.py),
so ten pages per call come nearer PostgreSQL's own limit than two (docs/SCALING.md). fetch_pages and load_pages
report how long they took (FetchResult.seconds, LoadResult.seconds): recorded activity outputs, so branching on
them replays. When a chain's load took longer than the fetch beside it, its next fetch reads twice the pages
(FetchRequest.doublings; fetch_pages caps it at LOAD_PAGES_MAX), and the load after gets them all in one
transaction; when the fetch took more than twice the load it halves (_doublings). A load still gets exactly what
its chain's previous fetch landed, so nothing waits unloaded for a later round: the load never idles a round to
gather pages (which would cost a round's fetch time of the database's work per batch), and a fetch-bound chain,
whose load hides behind its fetch, never grows (bigger loads would only lengthen the tail at its end). A chain
whose fetches grew carries its size through continue_as_new (as a Lane). A stream that is never load-bound, or
whose outputs were recorded before durations were reported (0 s each), or whose options pin max_pages,
schedules exactly what it did before.

History stays bounded: after a fixed number of rounds the loop loads what it fetched and continues as new (a
round's events hold at most LOAD_PAGES_MAX page refs per chain).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.blueprint import ACTIVITY_RETRY, bp
from orchestrators.errors import short_error
from shared.core.messages import (
    FetchRequest,
    FetchResult,
    Lane,
    LoadRequest,
    LoadResult,
    PageRef,
    StreamFinished,
    StreamKey,
    StreamResult,
    StreamState,
    SweepResult,
)

ITERATIONS_PER_EXECUTION = 20
MAX_CONSECUTIVE_THROTTLES = 30
# Sequence numbers (page blob names) of the chains split off a chain: chain j of a split starts this many pages
# past its parent's, far beyond what one chain of a run lands.
LANE_STRIDE = 100_000


@dataclasses.dataclass
class _Pending:
    """Pages a chain fetched that are not loaded yet, and whether that chain has nothing more to fetch after them."""

    lane: int
    pages: list[PageRef]
    last: bool


class _Loads:
    """Turns pending pages into load_pages calls: in chain order, the stream's last load marked `ends_stream`."""

    def __init__(self, key: StreamKey, keep_ids: bool) -> None:
        self.key = key
        self.keep_ids = keep_ids  # the sweep follows: the loads keep each page's ids for it
        self.ended = False  # a load marked ends_stream was scheduled

    def calls(self, context: df.DurableOrchestrationContext, pending: list[_Pending],
              lanes: list[Lane]) -> list[Any]:
        # The stream ends with these loads when nothing is left to fetch; with one load it refreshes the metrics
        # in its own transaction (as one chain always did), with several a refresh follows them (finish()).
        stream_ends = all(lane.cursor is None for lane in lanes) and all(p.last for p in pending)
        ends = stream_ends and len(pending) == 1
        self.ended = self.ended or ends
        return [context.call_activity_with_retry(
            "load_pages", ACTIVITY_RETRY,
            LoadRequest(*dataclasses.astuple(self.key), pages=p.pages, ends_stream=ends,
                        keep_ids=self.keep_ids).to_json(),
        ) for p in pending]

    def finish(self, context: df.DurableOrchestrationContext) -> Any | None:
        """The refresh of a stream whose last pages were loaded by several calls at once (none of them could do it:
        it must see every one of them committed)."""
        if self.ended:
            return None
        self.ended = True
        return context.call_activity_with_retry(
            "load_pages", ACTIVITY_RETRY,
            LoadRequest(*dataclasses.astuple(self.key), pages=[], ends_stream=True).to_json())


def _together(context: df.DurableOrchestrationContext, tasks: list[Any]) -> Generator[Any, Any, list[Any]]:
    """The tasks' results, in order; one task is yielded alone (the action a stream of one chain always had)."""
    if len(tasks) == 1:
        return [(yield tasks[0])]
    return list((yield context.task_all(tasks)) or [])


def _doublings(lane: Lane, fetched: FetchResult, load_seconds: float | None, pinned: bool) -> int:
    """The chain's next fetch size (FetchRequest.doublings), from this round's fetch and the load beside it.

    Loading the slower: the fetch doubles (fetch_pages caps it at LOAD_PAGES_MAX and says how far it went,
    FetchResult.doublings), so the next load gets twice the pages in one transaction. Fetching more than twice the
    slower: it halves, which keeps the fetch the slower (half the pages take at least half the fetch, and no longer
    to load). In between it stays: a chain whose load hides behind its fetch is where it should be. Only a fetch
    that went its whole length counts (not one cut by a throttle, a split or the chain's end), and only with a load
    beside it; durations of 0 (outputs recorded before they were reported) change nothing."""
    if pinned or load_seconds is None or fetched.retry_after is not None or fetched.chains or fetched.cursor is None:
        return lane.doublings
    if load_seconds > fetched.seconds:
        return fetched.doublings + 1
    if fetched.seconds > 2 * load_seconds:
        return max(fetched.doublings - 1, 0)
    return fetched.doublings


def _fetching(lanes: list[Lane], now: dt.datetime) -> list[int]:
    return [i for i, lane in enumerate(lanes) if lane.cursor is not None and not lane.parked
            and (lane.not_before is None or dt.datetime.fromisoformat(lane.not_before) <= now)]


def _asleep(lanes: list[Lane]) -> list[dt.datetime]:
    """When the chains waiting out a throttle may fetch again."""
    return [dt.datetime.fromisoformat(lane.not_before) for lane in lanes
            if lane.cursor is not None and not lane.parked and lane.not_before is not None]


def _unpark(lanes: list[Lane]) -> list[Lane]:
    """A parked chain goes on once every chain split off after it has nothing more to fetch."""
    return [dataclasses.replace(lane, parked=False)
            if lane.parked and all(later.cursor is None for later in lanes[i + 1:]) else lane
            for i, lane in enumerate(lanes)]


def _split(lanes: list[Lane], index: int, chains: list[dict[str, Any]]) -> list[Lane]:
    parent = lanes[index]
    children = [Lane(cursor, parent.sequence + (j + 1) * LANE_STRIDE) for j, cursor in enumerate(chains)]
    return [*lanes[:index], dataclasses.replace(parent, parked=parent.cursor is not None), *lanes[index + 1:],
            *children]


@bp.orchestration_trigger(context_name="context")
def sync_stream(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = StreamState.from_json(context.get_input())
    key = state.key()
    status_head = key.to_json()
    totals, throttles, throttle_waits = state.totals, state.throttles, state.throttle_waits
    lanes = list(state.lanes) or [Lane(state.cursor, state.sequence)]
    pending: list[_Pending] = []
    loads = _Loads(key, keep_ids=state.sweep)
    # Options let tests and operators shrink the loop (e.g. to exercise continue_as_new).
    iterations = int(state.options.get("iterations_per_execution", ITERATIONS_PER_EXECUTION))
    try:
        rounds = 0
        while rounds < iterations:
            now = context.current_utc_datetime
            fetching = _fetching(lanes, now)
            if not pending and not fetching:
                if not _asleep(lanes):
                    break
                # Every chain left waits out a throttle: sleep until the first may go on.
                yield context.create_timer(min(_asleep(lanes)))
                continue
            rounds += 1
            # Loads first, then fetches: with one chain, the order one chain has always scheduled (replay).
            tasks = loads.calls(context, pending, lanes) + [context.call_activity_with_retry(
                "fetch_pages", ACTIVITY_RETRY,
                FetchRequest(*dataclasses.astuple(key), cursor=lanes[i].cursor, sequence=lanes[i].sequence,
                             max_pages=state.options.get("max_pages"), doublings=lanes[i].doublings).to_json(),
            ) for i in fetching]
            results = yield from _together(context, tasks)
            load_seconds: dict[int, float] = {}  # this round's load of each chain: how long it took
            for waited, loaded in zip(pending, results[:len(pending)], strict=True):
                done = LoadResult.from_json(loaded)
                totals += done
                load_seconds[waited.lane] = done.seconds
            pending = []
            throttled: list[FetchResult] = []
            waiting = False  # a chain of several waits out its throttle alone
            for i, raw in zip(fetching, results[len(results) - len(fetching):], strict=True):
                fetched = FetchResult.from_json(raw)
                lanes[i] = dataclasses.replace(lanes[i], cursor=fetched.cursor, not_before=None,
                                               sequence=lanes[i].sequence + len(fetched.pages),
                                               doublings=_doublings(lanes[i], fetched, load_seconds.get(i),
                                                                    pinned="max_pages" in state.options))
                if fetched.chains:
                    lanes = _split(lanes, i, fetched.chains)
                if fetched.retry_after is not None:
                    throttled.append(fetched)
                    if sum(lane.cursor is not None for lane in lanes) > 1:
                        # Of several chains only this one waits; the others go on (one chain waits on a timer).
                        wake = now + dt.timedelta(seconds=float(fetched.retry_after))
                        lanes[i] = dataclasses.replace(lanes[i], not_before=wake.isoformat())
                        waiting = True
                if fetched.pages:
                    pending.append(_Pending(i, fetched.pages, lanes[i].cursor is None))
            lanes = _unpark(lanes)
            context.set_custom_status({**status_head, "phase": "loading", "chains": len(_fetching(lanes, now)),
                                       **totals.to_json()})
            if waiting:
                throttles += 1
                throttle_waits += len(throttled)
                if throttles > MAX_CONSECUTIVE_THROTTLES:
                    raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                       f"{throttled[0].throttle_reason}")
                continue
            if throttled:
                throttles += 1
                throttle_waits += 1
                # What was fetched before the throttle is loaded before the wait, as one chain always did.
                if pending:
                    for loaded in (yield from _together(context, loads.calls(context, pending, lanes))):
                        totals += LoadResult.from_json(loaded)
                    pending = []
                if throttles > MAX_CONSECUTIVE_THROTTLES:
                    raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                       f"{throttled[0].throttle_reason}")
                retry_after = max(float(f.retry_after or 0) for f in throttled)
                context.set_custom_status({**status_head, "phase": "throttled", "retry_after": retry_after})
                yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=retry_after))
                continue
            throttles = 0
        if pending:  # the last round's pages (the stream's end, or a continue_as_new)
            for loaded in (yield from _together(context, loads.calls(context, pending, lanes))):
                totals += LoadResult.from_json(loaded)
        if any(lane.cursor is not None for lane in lanes):
            carried = [lane for lane in lanes if lane.cursor is not None]
            one = (len(carried) == 1 and not carried[0].parked and carried[0].not_before is None
                   and not carried[0].doublings)  # a chain whose fetches grew goes on as a lane, with its size
            context.continue_as_new(dataclasses.replace(
                state, cursor=carried[0].cursor if one else None, sequence=carried[0].sequence if one else 0,
                lanes=[] if one else carried, totals=totals, throttles=throttles,
                throttle_waits=throttle_waits).to_json())
            return None
        finishing = loads.finish(context)
        if finishing is not None:
            totals += LoadResult.from_json((yield finishing))
        if state.sweep:
            swept = SweepResult.from_json((yield context.call_activity_with_retry(
                "sweep_deletes", ACTIVITY_RETRY, key.to_json())))
            totals = dataclasses.replace(totals, deleted=totals.deleted + swept.deleted)
            context.set_custom_status({**status_head, "phase": "swept", **totals.to_json()})
    except Exception as exc:
        error = short_error(exc)
        yield context.call_activity_with_retry(
            "finish_stream", ACTIVITY_RETRY,
            StreamFinished(*dataclasses.astuple(key), status="failed", error=error,
                           throttle_waits=throttle_waits).to_json(),
        )
        return StreamResult(key.stream, "failed", error).to_json()
    yield context.call_activity_with_retry(
        "finish_stream", ACTIVITY_RETRY,
        StreamFinished(*dataclasses.astuple(key), status="succeeded", throttle_waits=throttle_waits).to_json(),
    )
    return StreamResult(key.stream, "succeeded").to_json()
