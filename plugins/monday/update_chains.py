"""The account's updates read through several chains at once on a complete read (issue 13 §2).

One chain reads the `updates` list a page of 200 at a time, newest first: 151 pages for a 30,000-update account,
one after another, ending well after every item stream. The root `updates` query takes `from_date` and `to_date`
(created range, both inclusive, a date or a date-time), so a complete read cuts the created range into chains that
sync_stream reads side by side, each in a sub-orchestration of its own (plugins.base.Page.chains: the mechanism
QuickBooks' partition.py uses too):

1. The first page is read as before (page 1, no bounds): the 200 newest updates. Its newest `created_at` is the
   run's watermark (the incremental run's `since`, the max created over every chain: each chain reads only what is
   older than this page's oldest), and it fixes the top of the read: every later call asks `to_date` at or below
   it, so an update created during the read can shift no page of it.
2. Probes of one update each (limit 1, page = position, `to_date` the newest) size what is left: positions
   400, 800, 1,600 ... in one round bracket the count within a doubling, eight more in a second round narrow it to
   an eighth, and a third round reads the `created_at` at the cut positions (of the count, evenly). About 25 small
   calls, three round trips; a split only happens when at least MIN_PAGES pages are left.
3. Chain j reads (cut j+1, cut j] by keyset on created_at: each page asks `to_date` = the oldest created_at the
   chain has read (inclusive, the ids already read at that second skipped) and page 1, `from_date` = its lower cut
   (inclusive on the server; what lies at the cut itself is dropped here, the next chain reads it as the top of
   its range). The first chain's top is the first page's oldest, its ids at that second skipped; the last chain
   has no lower bound, so anything older than every probe (or an account larger than the probes reach) is read
   too. When a whole page lies at one second (more than a page of updates created in one second, or a server
   that widens the bounds) the chain goes on by page number at that second. One landed page holds up to
   STEPS_PER_PAGE such steps (lists._fetch_range).
4. The stream's own chain, parked until every range chain has ended (sync_stream), reads nothing: its one step
   writes the watermark, so an incremental run never starts from a complete read that did not finish.

Why nothing is missed and nothing that exists is tombstoned: the cuts only choose where ranges meet; the ranges
are contiguous (chain j's bottom, exclusive, is chain j+1's top, inclusive) and the last is open below, so together
they cover every update created at or before the first page's oldest, and the first page covers the rest up to its
newest. Probes read positions of a changing list, so a cut may land a few updates off: that changes a chain's
size, never what the chains cover. Every chain's pages land under the stream, so the delete sweep sees them all.

During the read:
- created: its created_at is after the first page's newest, above every chain's `to_date`: not read, so not
  landed and not in the table (nothing to tombstone); the next incremental run reads back from this run's
  watermark (less overlap_seconds) and finds it.
- deleted: one read before is landed (the next complete read tombstones it); one not read yet is neither landed
  nor kept. With page numbers (the single chain, and an incremental run) a deletion above a page boundary moves
  every later update up one position, so the update at the boundary is never read and a complete read's sweep
  would tombstone an update that exists. Keyset pages start each page from the oldest created_at read so far, so a
  deletion shifts nothing; only within a run of more than a page at one second (paged by number) can it still.
- edited: created_at does not move, so neither does its place in any range.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Awaitable, Callable
from typing import Any

from plugins.monday.timestamps import iso, parse_ts

SPLIT = "split"  # in a complete read's first cursor: split into at most this many chains
RANGE = "range"  # a range chain's cursor: {lo, hi, skip, page}
FINISH = "finish"  # the stream's own chain after a split: the watermark to write once every chain has ended
MAX_CHAINS = 4
# Keyset steps (monday pages) a range chain reads into one landed page: a chain's fetches queue among every stream's
# activities, so on a busy host fewer, longer rounds end it sooner (docs/SCALING.md).
STEPS_PER_PAGE = 4
MIN_PAGES = 8  # fewer pages left than this: the probes a split costs buy too little
DOUBLINGS = 14  # the first round's probes reach 200 * 2**14 = 3.3M updates (the last chain reads any beyond)
BRACKET = 8  # the second round narrows the count to an eighth of the doubling it lies in

Ask = Callable[[int], Awaitable[dt.datetime | None]]  # created_at of the update at a 1-based position (None: past)


def start_cursor(cursor: dict[str, Any], max_chains: int) -> dict[str, Any]:
    """A complete read's first cursor, marked to split after its first page (max_chains < 2 never splits)."""
    return {**cursor, SPLIT: max_chains} if max_chains >= 2 else cursor


async def estimate_count(ask: Ask, page_size: int) -> int:
    """About how many updates there are (at or below the fixed top): within an eighth when it is more than two
    pages, else a number below 2 * page_size. Two rounds of probes, each side by side."""
    firsts = [page_size * 2 ** i for i in range(1, DOUBLINGS + 1)]
    found = await asyncio.gather(*(ask(p) for p in firsts))
    reached = [p for p, created in zip(firsts, found, strict=True) if created is not None]
    if not reached:
        return 2 * page_size - 1
    low = max(reached)
    if low == firsts[-1]:
        return low  # more than the probes reach: the last chain (open below) reads the rest
    step = max(1, low // BRACKET)
    seconds = [low + k * step for k in range(1, BRACKET)]
    found = await asyncio.gather(*(ask(p) for p in seconds))
    low = max([low, *(p for p, created in zip(seconds, found, strict=True) if created is not None)])
    return low + step // 2


def cut_positions(total: int, taken: int, page_size: int, max_chains: int) -> list[int]:
    """Positions (1-based, newest first) of the update at the top of each chain after the first: what is left
    after the first `taken` shared evenly; [] when one chain will do."""
    left = total - taken
    if max_chains < 2 or math.ceil(left / page_size) < MIN_PAGES:
        return []
    share = left / max_chains
    return [taken + round(share * j) for j in range(1, max_chains)]


def chains_between(top: dt.datetime, skip: list[str], cuts: list[dt.datetime | None]) -> list[dict[str, Any]]:
    """The range chains for cut times in position order (newest first) below `top` (the first page's oldest, whose
    ids read at that second are `skip`); a missing or repeated cut (the list changed, or many updates share a
    second) merges two ranges. [] when nothing is cut."""
    kept: list[dt.datetime] = []
    for cut in cuts:
        if cut is not None and cut < (kept[-1] if kept else top):
            kept.append(cut)
    if not kept:
        return []
    lows: list[dt.datetime | None] = [*kept, None]
    return [range_cursor(high, low, skip if j == 0 else [])
            for j, (high, low) in enumerate(zip([top, *kept], lows, strict=True))]


def range_cursor(high: dt.datetime, low: dt.datetime | None, skip: list[str], page: int = 1) -> dict[str, Any]:
    return {RANGE: {"hi": iso(high), "lo": iso(low) if low else None, "skip": sorted(skip), "page": page}}


async def split(ask: Ask, *, page_size: int, taken: int, top: dt.datetime, skip: list[str],
                max_chains: int) -> list[dict[str, Any]]:
    """Cut what lies below the first page into range chains (module docstring); [] when one chain will do."""
    total = await estimate_count(ask, page_size)
    positions = cut_positions(total, taken, page_size, max_chains)
    if not positions:
        return []
    cuts = await asyncio.gather(*(ask(p) for p in positions))
    return chains_between(top, skip, list(cuts))


def created_of(update: dict[str, Any]) -> dt.datetime | None:
    return parse_ts(update.get("created_at"))


def range_step(cursor: dict[str, Any], rows: list[dict[str, Any]],
               page_size: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(the updates of this page the chain lands, the chain's next cursor or None at its end), for the `rows` the
    chain's query answered (from_date = lo, to_date = hi, page)."""
    span = cursor[RANGE]
    high, low = parse_ts(span["hi"]), parse_ts(span["lo"])
    assert high is not None
    skip = set(span["skip"])
    fresh = [u for u in rows if str(u.get("id")) not in skip and _within(created_of(u), low, high)]
    # An update without created_at cannot be placed: it stays at the top (it never moves the chain down).
    stamps = [created_of(u) or high for u in rows]
    oldest = min(stamps, default=high)
    if len(rows) < page_size or (low is not None and oldest <= low):
        return fresh, None  # the range is read: what lies further down is the next chain's
    if oldest < high:
        at_oldest = [str(u.get("id")) for u, s in zip(rows, stamps, strict=True) if s == oldest]
        return fresh, range_cursor(oldest, low, at_oldest)
    # A whole page at the top second (or above it): on by page number at that second.
    at_top = [str(u.get("id")) for u, s in zip(rows, stamps, strict=True) if s == high]
    return fresh, range_cursor(high, low, [*skip, *at_top], int(span["page"]) + 1)


def _within(created: dt.datetime | None, low: dt.datetime | None, high: dt.datetime) -> bool:
    if created is None:
        return True  # nothing to place it by: landed rather than lost
    return created <= high and (low is None or created > low)
