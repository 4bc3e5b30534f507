"""fetch_pages: API -> raw landing blobs. Returns only refs, counts, the next cursor and throttle hints."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp

from plugins import registry
from shared.blob.landing import LandingZone, page_ref
from shared.core import meters
from shared.core.config import load_settings
from shared.core.http import Throttled
from shared.core.messages import FetchRequest, FetchResult, PageRef
from shared.db import runs
from shared.db.connections import get_connection
from shared.db.pool import held_connection


async def fetch_pages(request: dict[str, Any]) -> dict[str, Any]:
    """Fetch up to `max_pages` pages of one stream from `cursor`, landing each page as a blob."""
    asked = FetchRequest.from_json(request)
    started = time.monotonic()
    # Log ids are bound for every activity where they are registered (activities/logging_ids.py).
    with meters.tracer.start_as_current_span("fetch_pages", attributes={
            "run_id": asked.run_id, "connection_id": asked.connection_id, "stream": asked.stream}):
        fetched = await _fetch(asked)
    # Its duration goes back with it: sync_stream compares it with the load beside it (FetchResult.seconds).
    return dataclasses.replace(fetched, seconds=round(time.monotonic() - started, 3)).to_json()


def pages_to_read(asked: FetchRequest, pages_per_fetch: int, load_pages_max: int) -> tuple[int, int]:
    """How many pages this fetch reads, and the doublings that come to it (FetchResult.doublings): max_pages when
    given; else PAGES_PER_FETCH, doubled up to `asked.doublings` times while sync_stream finds loading the slower,
    each doubling capped at LOAD_PAGES_MAX (one that the cap leaves without effect is not counted)."""
    if asked.max_pages:
        return asked.max_pages, 0
    pages, doublings = pages_per_fetch, 0
    while doublings < asked.doublings and pages < load_pages_max:
        pages, doublings = min(pages * 2, load_pages_max), doublings + 1
    return pages, doublings


async def _fetch(asked: FetchRequest) -> FetchResult:
    settings = load_settings()
    run_id, connection_id, stream = asked.run_id, asked.connection_id, asked.stream
    landing = LandingZone(settings.storage, settings.landing_container)
    size, doublings = pages_to_read(asked, settings.pages_per_fetch, settings.load_pages_max)
    cursor = asked.cursor
    landings: list[_Landing] = []
    chains: list[dict[str, Any]] = []
    retry_after: float | None = None
    throttle_reason = None
    last_next = False
    # One connection for the whole fetch: the connection's settings, the plugin's storage (e.g. a daily call
    # counter) and the call counts at the end all go over it.
    async with aiohttp.ClientSession() as session, held_connection() as db:
        ended = _ended(db, run_id, connection_id, stream)
        if ended is not None:
            return FetchResult([], cursor, False, stopped=ended)
        connection = get_connection(db, connection_id)
        plugin = registry.get(connection.plugin)
        attributes = meters.stream_attributes(connection.plugin, connection_id, stream)
        api = await plugin.open_api(connection, session, plugin.storage(db))
        try:
            for _ in range(size):
                if any(each.failed() for each in landings):
                    break  # no more calls for a fetch that fails: the finally below raises why
                page = await plugin.fetch_page(api, connection, stream, cursor or {})
                ref = page_ref(connection_id, stream, run_id, asked.sequence + len(landings))
                # The page lands while the next one is asked for: a chain goes at its pages' round trips, not at
                # their round trips and their landings one after another.
                landings.append(_Landing(ref, page.watermark, asyncio.ensure_future(
                    asyncio.to_thread(landing.put_page, ref, page.records))))
                cursor = page.next_cursor
                last_next = page.last_next
                if page.chains:
                    # The stream forks here: sync_stream reads the chains side by side, then goes on from cursor.
                    chains = page.chains
                    break
                if cursor is None:
                    break
        except Throttled as throttled:
            retry_after, throttle_reason = throttled.retry_after, throttled.reason
            meters.throttle_waits.add(1, attributes)
        finally:
            # Every page asked for is landed (or has failed to) before the fetch answers.
            pages, landing_failure = await _landed(landings)
            meters.api_calls.add(api.calls, attributes)
            meters.pages.add(len(pages), {**attributes, "phase": "fetched"})
            meters.records_fetched.add(sum(p.records for p in pages), attributes)
            # Metered calls are counted even when the fetch fails.
            with db.transaction():
                runs.add_counts(db, run_id, connection_id, stream, api_calls=api.calls)
                runs.count_api_calls(db, connection_id, connection.plugin, api.calls, _meter(plugin, connection))
    if landing_failure is not None:
        raise landing_failure  # the activity's retry fetches the pages again (page refs are deterministic)
    done = retry_after is None and cursor is None and not chains
    return FetchResult(pages, cursor, done, retry_after, throttle_reason, chains, doublings=doublings,
                       last_next=last_next and cursor is not None and not chains)


@dataclasses.dataclass
class _Landing:
    """A fetched page on its way to its blob."""

    ref: str
    watermark: dict[str, Any] | None
    count: asyncio.Future[int]

    def failed(self) -> bool:
        return self.count.done() and self.count.exception() is not None


async def _landed(landings: list[_Landing]) -> tuple[list[PageRef], BaseException | None]:
    """The pages landed, in order, up to the first whose landing failed, and that failure; waits for every one."""
    counts = await asyncio.gather(*(each.count for each in landings), return_exceptions=True)
    pages: list[PageRef] = []
    for each, count in zip(landings, counts, strict=True):
        if isinstance(count, BaseException):
            return pages, count
        pages.append(PageRef(each.ref, count, each.watermark))
    return pages, None


def _ended(db: Any, run_id: str, connection_id: str, stream: str) -> str | None:
    """Why the stream is not to be read on, when its run has already recorded its end: a chain of a split stream
    failed and recorded its stream's failure (sync_stream), and each call of the other chains would spend the
    source's budget on pages nothing will use."""
    status = runs.stream_status(db, run_id, connection_id, stream)
    if status in (None, "running"):
        return None
    return f"{stream} already ended {status} in run {run_id}: nothing more is read for it"


def _meter(plugin: Any, connection: Any) -> str:
    """Who meters the connection's calls (a developer app, an account); counted per meter in api_usage."""
    try:
        return plugin.meter(connection)
    except ValueError:  # settings refused after the fetch began: still counted, under the plugin as a whole
        return ""
