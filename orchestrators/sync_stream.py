"""sync_stream: the page loop of one stream: fetch -> land -> load, waiting out throttles on durable timers.

Fetch and load overlap: each round of a chain loads the pages its previous round fetched while it fetches the
next ones, so the API and the database work side by side. A chain's pages are loaded in the order they were
fetched, one load at a time, and a failed load fails the stream before any later page of it is loaded.
A fetch may split the stream into several cursor chains (FetchResult.chains, e.g. ranges of a large entity);
they are read side by side, each with its own sequence numbers, and the chain they split from goes on only
once all of them are read to their end. Chains do not go round together: a chain starts its next round as soon
as its own load and fetch are done (context.task_any over what is in flight), so one slow fetch (a slow answer,
an activity queued for a thread, a throttle's inline wait) holds up its own chain only; a throttled chain waits
alone (Lane.not_before) while the others go on, on a durable timer once nothing else is left to do. A stream of
one chain schedules the activities it always did, in the same order (fetch, load, fetch, load: each round's load
comes before its fetch, the two awaited together; a throttle: its load, the timer).

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

History stays bounded: after a fixed number of fetches per chain the loop loads what it fetched and continues as
new (a round's events hold at most LOAD_PAGES_MAX page refs per chain). Deploying this over streams of several
chains in flight: their histories were recorded round by round, so a replay of one may not match (the stream
fails, and the connection's next run reads it again); streams of one chain replay as before.
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


@dataclasses.dataclass
class _Round:
    """One chain's activities in flight: the load of what it fetched last, beside its next fetch (either may be
    absent). The chain's next round starts once both are done, whatever the other chains are doing."""

    load: Any | None
    fetch: Any | None

    def tasks(self) -> list[Any]:
        return [task for task in (self.load, self.fetch) if task is not None]

    def done(self) -> bool:
        return all(task.is_completed for task in self.tasks())


class _Loads:
    """Turns pending pages into load_pages calls: in chain order, the stream's last load marked `ends_stream`."""

    def __init__(self, key: StreamKey, keep_ids: bool) -> None:
        self.key = key
        self.keep_ids = keep_ids  # the sweep follows: the loads keep each page's ids for it
        self.ended = False  # a load marked ends_stream was scheduled

    def calls(self, context: df.DurableOrchestrationContext, pending: list[_Pending],
              lanes: list[Lane], others_loading: bool = False) -> list[Any]:
        # The stream ends with these loads when nothing is left to fetch; with one load (and no other in flight) it
        # refreshes the metrics in its own transaction (as one chain always did), with several a refresh follows
        # them (finish()).
        stream_ends = all(lane.cursor is None for lane in lanes) and all(p.last for p in pending)
        ends = stream_ends and len(pending) == 1 and not others_loading
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


def _settled(context: df.DurableOrchestrationContext,
             rounds: dict[int, _Round]) -> Generator[Any, Any, list[int]]:
    """Wait until some chain's round is done; the chains whose rounds are (in chain order).

    One chain in flight waits for its whole round at once (task_all: what a stream of one chain always scheduled);
    several wait for whichever task ends first (task_any), so a chain goes on as soon as its own round is done. A
    failed activity raises here, before anything after it on its chain is scheduled."""
    if len(rounds) == 1:
        yield from _together(context, next(iter(rounds.values())).tasks())
    else:
        open_tasks = [task for r in rounds.values() for task in r.tasks() if not task.is_completed]
        if open_tasks:
            yield context.task_any(open_tasks)
    for r in rounds.values():
        for task in r.tasks():
            if task.is_completed and isinstance(task.result, Exception):
                raise task.result
    return [lane for lane, r in sorted(rounds.items()) if r.done()]


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
    pending: dict[int, _Pending] = {}  # per chain: the pages its last fetch landed, not loaded yet
    rounds: dict[int, _Round] = {}  # per chain: its activities in flight
    started = [0] * len(lanes)  # per chain: the fetches this execution scheduled (history stays bounded)
    loads = _Loads(key, keep_ids=state.sweep)
    pinned = "max_pages" in state.options
    # Options let tests and operators shrink the loop (e.g. to exercise continue_as_new).
    iterations = int(state.options.get("iterations_per_execution", ITERATIONS_PER_EXECUTION))
    try:
        while True:
            now = context.current_utc_datetime
            started += [0] * (len(lanes) - len(started))
            fetching = [i for i in _fetching(lanes, now) if i not in rounds and started[i] < iterations]
            loading = [p for i, p in sorted(pending.items()) if i not in rounds]
            if not loading and not fetching and not rounds:
                asleep = [lane for i, lane in enumerate(lanes) if started[i] < iterations]
                if not _asleep(asleep):
                    break
                # Every chain left waits out a throttle: sleep until the first may go on.
                wake = min(_asleep(asleep))
                context.set_custom_status({**status_head, "phase": "throttled",
                                           "retry_after": max((wake - now).total_seconds(), 0.0)})
                yield context.create_timer(wake)
                continue
            # Each idle chain's round: its load first, then its fetch (with one chain, the order it always had).
            others_loading = any(r.load is not None and not r.load.is_completed for r in rounds.values())
            load_tasks = dict(zip([p.lane for p in loading],
                                  loads.calls(context, loading, lanes, others_loading), strict=True))
            for p in loading:
                del pending[p.lane]
            for i in sorted({*load_tasks, *fetching}):
                fetch = None
                if i in fetching:
                    started[i] += 1
                    fetch = context.call_activity_with_retry(
                        "fetch_pages", ACTIVITY_RETRY,
                        FetchRequest(*dataclasses.astuple(key), cursor=lanes[i].cursor, sequence=lanes[i].sequence,
                                     max_pages=state.options.get("max_pages"),
                                     doublings=lanes[i].doublings).to_json())
                rounds[i] = _Round(load_tasks.get(i), fetch)
            for i in (yield from _settled(context, rounds)):
                done = rounds.pop(i)
                load_seconds = None
                if done.load is not None:
                    loaded = LoadResult.from_json(done.load.result)
                    totals += loaded
                    load_seconds = loaded.seconds
                if done.fetch is None:
                    continue
                now = context.current_utc_datetime
                fetched = FetchResult.from_json(done.fetch.result)
                lanes[i] = dataclasses.replace(lanes[i], cursor=fetched.cursor, not_before=None,
                                               sequence=lanes[i].sequence + len(fetched.pages),
                                               doublings=_doublings(lanes[i], fetched, load_seconds, pinned))
                if fetched.chains:
                    lanes = _split(lanes, i, fetched.chains)
                if fetched.retry_after is None:
                    throttles = 0
                else:
                    # The chain waits out its throttle alone (a durable timer once nothing else is left to do);
                    # what it fetched before the throttle is loaded meanwhile.
                    throttles += 1
                    throttle_waits += 1
                    if throttles > MAX_CONSECUTIVE_THROTTLES:
                        raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                           f"{fetched.throttle_reason}")
                    wake = now + dt.timedelta(seconds=float(fetched.retry_after))
                    lanes[i] = dataclasses.replace(lanes[i], not_before=wake.isoformat())
                if fetched.pages:
                    pending[i] = _Pending(i, fetched.pages, lanes[i].cursor is None)
            lanes = _unpark(lanes)
            context.set_custom_status({**status_head, "phase": "loading",
                                       "chains": len(_fetching(lanes, context.current_utc_datetime)),
                                       **totals.to_json()})
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
