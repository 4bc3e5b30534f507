"""sync_stream: the page loop of one stream: fetch -> land -> load, waiting out throttles on durable timers.

Fetch and load overlap: each round loads the pages the previous round fetched while it fetches the next ones
(context.task_all), so the API and the database work side by side. An instance's pages are loaded in the order they
were fetched, one load at a time, and a failed load fails the stream before any later page of it is loaded.

A fetch may split the stream into several cursor chains (FetchResult.chains, e.g. ranges of a large entity). Each
chain is read by a sync_stream sub-orchestration of its own (StreamState.chain, instance `<stream's id>:chain<first
sequence number>`), started in the round after the split beside the load of the page the split came with: a chain
fetches, loads, grows its loads and waits out its throttles at its own pace, so a chain whose page is answered late
or throttled holds up no other (one loop over all chains went round at the pace of the slowest). A chain loads its
pages and returns what they did (ChainResult); the stream's own chain goes on only once every one of them has ended
(what it reads next may rely on them, e.g. what changed meanwhile), and its last load refreshes the metrics, or a
refresh follows when the split page was its last. Its first fetch after them (e.g. one request reading what
changed while they ran, with the database idle) has refresh_ahead beside it, as has a fetch the source counted as
the stream's last read (FetchResult.last_next): the connection's metric rebuild, when no other stream of the run
has more than such a read left (activities/aggregates.py).
A chain that fails fails its stream with the chain's error, once every chain has ended (Durable's task_all waits for
them all); it records the stream's failure first, so the other chains end at their next fetch, which finds the
stream ended (FetchResult.stopped) and reads nothing.
A stream of one chain schedules the activities it always did, in the same order (fetch, load, fetch, load: each
round's load comes before its fetch; a throttle: its load, the timer), two at a time.

Bigger loads when loading is the slower (issue 13 §1): each load_pages call has a fixed cost (connection, page
claims, counts, commit, and its first page's parse that nothing overlaps: about 45 ms, bench/bench_load.py),
so ten pages per call come nearer PostgreSQL's own limit than two (docs/SCALING.md). fetch_pages and load_pages
report how long they took (FetchResult.seconds, LoadResult.seconds): recorded activity outputs, so branching on
them replays. When a load took longer than the fetch beside it, the next fetch reads twice the pages
(FetchRequest.doublings; fetch_pages caps it at LOAD_PAGES_MAX), and the load after gets them all in one
transaction; when the fetch took more than twice the load it halves (_doublings). A load still gets exactly what
the previous fetch landed, so nothing waits unloaded for a later round: the load never idles a round to gather
pages (which would cost a round's fetch time of the database's work per batch), and a fetch-bound chain, whose
load hides behind its fetch, never grows (bigger loads would only lengthen the tail at its end). A chain whose
fetches grew carries its size through continue_as_new (as a Lane). A stream that is never load-bound, or whose
outputs were recorded before durations were reported (0 s each), or whose options pin max_pages, schedules
exactly what it did before.

History stays bounded: after a fixed number of rounds the loop loads what it fetched and continues as new (a
round's events hold at most LOAD_PAGES_MAX page refs, and the results of the chains it started).
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
    ChainResult,
    FetchRequest,
    FetchResult,
    Lane,
    LoadCounts,
    LoadRequest,
    LoadResult,
    PageRef,
    StreamFinished,
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
    """Pages fetched and not loaded yet, and whether the instance's chain has nothing more to read after them."""

    pages: list[PageRef]
    last: bool


class _Loads:
    """Turns pending pages into load_pages calls; the stream's last load is marked `ends_stream` (never a chain's)."""

    def __init__(self, state: StreamState) -> None:
        self.key = state.key()
        self.keep_ids = state.sweep  # the sweep follows: the loads keep each page's ids for it
        self.chain = state.chain
        self.ended = False  # a load marked ends_stream was scheduled

    def call(self, context: df.DurableOrchestrationContext, pending: _Pending) -> Any:
        # The stream ends with this load when its own chain has nothing left to read after it and no chain of a split
        # is still loading beside it: it refreshes the metrics in its own transaction, as one chain always did.
        ends = pending.last and not self.chain
        self.ended = self.ended or ends
        return context.call_activity_with_retry(
            "load_pages", ACTIVITY_RETRY,
            LoadRequest(*dataclasses.astuple(self.key), pages=pending.pages, ends_stream=ends,
                        keep_ids=self.keep_ids).to_json())

    def finish(self, context: df.DurableOrchestrationContext) -> Any | None:
        """The refresh of a stream whose last load could not do it (its chains loaded beside it, or its last fetch
        landed nothing): it must see every page committed. None for a chain: its stream refreshes."""
        if self.ended or self.chain:
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


def _lanes(state: StreamState) -> tuple[Lane, list[Lane]]:
    """The instance's own chain and the chains of a split it has yet to start.

    A state recorded before each chain became a sub-orchestration of its own (an upgrade that did not drain, see
    docs/deployment.md) may hold several chains, the stream's own first: the others are started as chains now, and
    what they waited for (parked, not_before) is left to them."""
    if not state.lanes:
        return Lane(state.cursor, state.sequence), []
    own = dataclasses.replace(state.lanes[0], parked=False, not_before=None)
    return own, [lane for lane in state.lanes[1:] if lane.cursor is not None]


def _split_off(lane: Lane, chains: list[dict[str, Any]]) -> list[Lane]:
    return [Lane(cursor, lane.sequence + (j + 1) * LANE_STRIDE) for j, cursor in enumerate(chains)]


def _chain_tasks(context: df.DurableOrchestrationContext, state: StreamState, splits: list[Lane]) -> list[Any]:
    """A sync_stream sub-orchestration per chain, named after the stream's instance and the chain's first page."""
    return [context.call_sub_orchestrator(
        "sync_stream",
        dataclasses.replace(state, cursor=lane.cursor, sequence=lane.sequence, lanes=[lane] if lane.doublings else [],
                            chain=True, totals=LoadCounts(), throttles=0, throttle_waits=0).to_json(),
        f"{context.instance_id}:chain{lane.sequence}",
    ) for lane in splits]


@bp.orchestration_trigger(context_name="context")
def sync_stream(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = StreamState.from_json(context.get_input())
    key = state.key()
    status_head = {**key.to_json(), **({"chain": True} if state.chain else {})}
    totals, throttles, throttle_waits = state.totals, state.throttles, state.throttle_waits
    lane, splits = _lanes(state)
    pending: _Pending | None = None
    loads = _Loads(state)
    pinned = "max_pages" in state.options
    chains_ended = False  # the last round's chains have all ended: the own chain's next fetch is the last read
    last_next = False  # the source counted the stream's next fetch as its last read (FetchResult.last_next)
    # Options let tests and operators shrink the loop (e.g. to exercise continue_as_new).
    iterations = int(state.options.get("iterations_per_execution", ITERATIONS_PER_EXECUTION))
    try:
        rounds = 0
        while rounds < iterations and (pending is not None or lane.cursor is not None or splits):
            rounds += 1
            # The chains of a split run beside the load of the page it came with; the instance's own chain goes on
            # once they have ended. Otherwise the load, then the fetch: the order one chain has always scheduled.
            fetching = lane.cursor is not None and not splits
            loading = [loads.call(context, pending)] if pending is not None else []
            chains = _chain_tasks(context, state, splits)
            fetch = [context.call_activity_with_retry(
                "fetch_pages", ACTIVITY_RETRY,
                FetchRequest(*dataclasses.astuple(key), cursor=lane.cursor, sequence=lane.sequence,
                             max_pages=state.options.get("max_pages"), doublings=lane.doublings).to_json(),
            )] if fetching else []
            # Beside the last read of a split stream (what changed while its chains ran: a request's second with the
            # database idle), or the read the source counted as the stream's last, the connection's metric rebuild,
            # when no other stream has more than that left (activities/aggregates.py). It never fails; what it
            # leaves, the connection's refresh does.
            # (A chains round that was an execution's last loses this to continue_as_new: only the speed-up is lost.)
            ahead = [context.call_activity_with_retry("refresh_ahead", ACTIVITY_RETRY, key.to_json())
                     ] if (chains_ended or last_next) and fetching else []
            chains_ended = last_next = False
            if chains:
                context.set_custom_status({**status_head, "phase": "chains", "chains": len(chains), **totals.to_json()})
            results = yield from _together(context, loading + chains + ahead + fetch)
            load_seconds = None
            if loading:
                done = LoadResult.from_json(results[0])
                totals += done
                load_seconds = done.seconds
            for raw in results[len(loading):len(loading) + len(chains)]:
                chained = ChainResult.from_json(raw)
                totals += chained.totals
                throttle_waits += chained.throttle_waits
            chains_ended = bool(chains) and not state.chain
            pending, splits = None, []
            if not fetching:
                continue
            fetched = FetchResult.from_json(results[-1])
            if fetched.stopped is not None:
                if not state.chain:
                    raise RuntimeError(fetched.stopped)
                lane = dataclasses.replace(lane, cursor=None)  # its stream has ended: this chain ends here
                continue
            lane = dataclasses.replace(lane, cursor=fetched.cursor, sequence=lane.sequence + len(fetched.pages),
                                       doublings=_doublings(lane, fetched, load_seconds, pinned))
            splits = _split_off(lane, fetched.chains)
            last_next = fetched.last_next and not state.chain
            if fetched.pages:
                pending = _Pending(fetched.pages, last=lane.cursor is None and not splits)
            context.set_custom_status({**status_head, "phase": "loading", **totals.to_json()})
            if fetched.retry_after is None:
                throttles = 0
                continue
            throttles += 1
            throttle_waits += 1
            # What was fetched before the throttle is loaded before the wait, as one chain always did.
            if pending is not None:
                totals += LoadResult.from_json((yield loads.call(context, pending)))
                pending = None
            if throttles > MAX_CONSECUTIVE_THROTTLES:
                raise RuntimeError(f"still throttled after {MAX_CONSECUTIVE_THROTTLES} waits: "
                                   f"{fetched.throttle_reason}")
            retry_after = float(fetched.retry_after)
            context.set_custom_status({**status_head, "phase": "throttled", "retry_after": retry_after})
            yield context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=retry_after))
        if pending is not None:  # the last round's pages (the chain's end, or a continue_as_new)
            totals += LoadResult.from_json((yield loads.call(context, pending)))
        if lane.cursor is not None or splits:
            # A chain whose fetches grew goes on as a lane, with its size; chains not started yet go along.
            context.continue_as_new(dataclasses.replace(
                state, cursor=lane.cursor, sequence=lane.sequence,
                lanes=[lane, *splits] if splits or lane.doublings else [], totals=totals, throttles=throttles,
                throttle_waits=throttle_waits).to_json())
            return None
        if state.chain:
            return ChainResult(totals, throttle_waits).to_json()
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
        # A chain records its stream's failure too: the stream fails with this error only once every chain has ended
        # (Durable's task_all waits for them all), and recorded now, the other chains stop at their next fetch
        # instead of reading their ranges to the end. The stream records its own end again then; a chain's throttle
        # waits count in its own record.
        yield context.call_activity_with_retry(
            "finish_stream", ACTIVITY_RETRY,
            StreamFinished(*dataclasses.astuple(key), status="failed", error=error,
                           throttle_waits=throttle_waits).to_json(),
        )
        if state.chain:
            raise
        return StreamResult(key.stream, "failed", error).to_json()
    yield context.call_activity_with_retry(
        "finish_stream", ACTIVITY_RETRY,
        StreamFinished(*dataclasses.astuple(key), status="succeeded", throttle_waits=throttle_waits).to_json(),
    )
    return StreamResult(key.stream, "succeeded").to_json()
