"""A large entity's complete read through several keyset chains at once.

One chain reads a page per round trip (about a second), so a 40-page entity takes 40 s however fast the
realm's budget would allow. After the first page of a complete read shows a full page, the rest of the
keyset range is cut into chains of about equal size, each read side by side (sync_stream reads a fetch's
`chains` together):

1. `SELECT COUNT(*)` of what is left from the first page's watermark says how many records remain.
2. One-record queries at evenly spaced positions (STARTPOSITION, MAXRESULTS 1) give the LastUpdatedTime at
   each cut, and one at the last position gives the newest: chain j reads [cut j, cut j+1), the first one
   from the first page's watermark. Each page after a chain's first asks again from the last record it read
   (paging.py), so it brings 999 new records, not 1,000: a chain holds 998 records a page (one spare for a page
   ending inside an instant several records share), its last page comes back short and ends it without one more
   call (sized for 1,000 a page, each chain read a page of about ten records more, a second on its path).
3. What lies at or after the newest cut is read by the stream's own chain, which goes on only once every
   split-off chain has ended. The newest record itself, which the last probe read, lands with the split's page
   and the own chain's cursor counts it as read (its id seen at its instant): when nothing changed meanwhile, the
   own chain's one request brings nothing to load.

Why nothing is missed: the cuts only choose where ranges meet; the ranges are contiguous (each ends where
the next begins) and each is read by the keyset paging of paging.py, correct while records change. A record
updated while the chains run moves to the newest LastUpdatedTime, past every cut, so the stream's own chain,
which starts only after all the others have ended, reads it (or, if updated after that, change data capture
does, from the time of the read's first page, which every chain carries). The positions come from offset
queries over a changing set, so a cut may land a few records off: that changes a chain's size, never what
the ranges cover together. Every chain's pages land under the stream, so the delete sweep sees them all.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from plugins.quickbooks.fields import parse_ts
from plugins.quickbooks.paging import BEFORE, record_id_of

SPLIT = "split"  # in a complete read's first cursor: split into at most this many chains
# In a cursor: about how many records its chain has left to read, when a COUNT told (path_of).
LEFT = "left"
# In a cursor, when no COUNT told: about how many pages are left after the page it follows, from that page's span
# of LastUpdatedTime against the time left until the server's clock (pages_ahead; path_of).
GUESS = "guess"
MAX_GUESS = 100  # pages: a page read within a second would otherwise guess thousands
# Intuit allows a realm 500 requests a minute (about 8 a second): at a second a page, two large entities of four
# chains each already keep the realm busy, and every chain costs a call (its cut) and ends on a short page.
MAX_CHAINS = 4
MIN_PAGES = 8  # fewer pages left than this: the calls a split costs buy too little
MIN_PAGES_PER_CHAIN = 2

Ask = Callable[[str], Awaitable[dict[str, Any]]]


def first_cursor(cursor: dict[str, Any], max_chains: int = MAX_CHAINS) -> dict[str, Any]:
    """`cursor` marked to split after its first page (a complete read; max_chains < 2 never splits)."""
    return {**cursor, SPLIT: max_chains} if max_chains >= 2 else cursor


def _where(watermark: dict[str, Any], has_active_flag: bool) -> str:
    active = " AND Active IN (true, false)" if has_active_flag else ""
    return f"WHERE Metadata.LastUpdatedTime >= '{watermark['ts']}'{active}"


def count_query(entity: str, watermark: dict[str, Any], *, has_active_flag: bool) -> str:
    return f"SELECT COUNT(*) FROM {entity} {_where(watermark, has_active_flag)}"


def probe_query(entity: str, watermark: dict[str, Any], position: int, *, has_active_flag: bool) -> str:
    """The one record at `position` (1-based) of what is left, in keyset order."""
    return (f"SELECT * FROM {entity} {_where(watermark, has_active_flag)} "
            f"ORDERBY Metadata.LastUpdatedTime, Id STARTPOSITION {position} MAXRESULTS 1")


def cut_positions(remaining: int, taken: int, page_size: int, max_chains: int) -> list[int]:
    """Positions (1-based, in what is left from the watermark, whose first `taken` records are read) of the
    record starting each chain after the first, then of the newest record; [] when one chain will do."""
    # A chain's first page brings page_size records (the first chain's, less the `taken` it re-reads), each later
    # page one less (the record the page before ended on): P pages bring P x (page_size - 1) + 1 positions, so a
    # chain of fewer positions ends on a short P-th page. Each chain is sized one position a page below that: a
    # page ending inside an instant that records share re-reads them all, and the positions the probes read may
    # shift a little while records change (either way a chain beyond its size reads one more page, never misses
    # one). The chains cover positions 1 to remaining - 1, the first `taken` of them among the first chain's; the
    # newest record, at `remaining`, is the stream's own chain's.
    left = remaining - 1
    pages = math.ceil(left / (page_size - 1))  # what one chain would read
    if pages < MIN_PAGES or max_chains < 2:
        return []
    # Whole pages per chain, as many as it takes to stay within max_chains: only the last chain is smaller.
    per_page = page_size - 2
    pages_per_chain = max(MIN_PAGES_PER_CHAIN, math.ceil(math.ceil(left / per_page) / max_chains))
    per_chain = pages_per_chain * per_page
    cuts = [1 + j * per_chain for j in range(1, math.ceil(left / per_chain))]
    return [p for p in cuts if p < remaining] + [remaining]


def chains_between(watermark: dict[str, Any], cuts: list[str | None], sizes: list[int] | None = None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the chains, the stream's own chain after them) for cut times in position order; a missing or repeated cut
    (the set changed, or many records share a time) merges two ranges. ([], watermark) when nothing is cut.
    `sizes`, when given, are the records before each cut since the previous one: each chain's cursor carries its
    own (merged ranges add up) as LEFT, and the own chain's what follows the last cut kept."""
    start = parse_ts(watermark["ts"])
    kept: list[str] = []
    counts: list[int] = []
    pending = 0
    for j, cut in enumerate(cuts):
        pending += sizes[j] if sizes is not None else 0
        if cut is not None and parse_ts(cut) > (parse_ts(kept[-1]) if kept else start):
            kept.append(cut)
            counts.append(pending)
            pending = 0
    if not kept:
        return [], watermark

    def left(count: int) -> dict[str, int]:
        return {LEFT: count} if sizes is not None else {}
    chains = [{**watermark, BEFORE: kept[0], **left(counts[0])}]
    chains += [{**watermark, "ts": low, "seen": [], BEFORE: high, **left(count)}
               for (low, high), count in zip(itertools.pairwise(kept), counts[1:], strict=True)]
    return chains, {**watermark, "ts": kept[-1], "seen": [], **left(pending)}


def range_sizes(positions: list[int], taken: int) -> list[int]:
    """The records each cut at `positions` closes (cut_positions): the first from the watermark, less the `taken`
    already read; the last cut, the newest record, closes the last chain's range."""
    starts = [1 + taken, *positions[:-1]]
    return [max(0, end - begin) for begin, end in zip(starts, positions, strict=True)]


def path_of(cursor: dict[str, Any], page_size: int) -> int:
    """The calls known to follow the one that reads `cursor`'s next page, one after another, before its stream
    ends: the chain's pages after this one (from LEFT, or else GUESS; none when neither tells; a complete read's
    first page counts as a split's, MIN_PAGES), and for a chain of a split the stream's own read after every chain
    has ended. The realm's governor lets a request with a longer path go first (shared/core/http.py lead_of), so a
    chain with many pages to go is not held back by one about to end."""
    left, guess = cursor.get(LEFT), cursor.get(GUESS)
    if cursor.get(SPLIT):
        # A complete read's first page: nothing tells its size yet, and a large entity's longest path starts here.
        after = MIN_PAGES
    elif isinstance(left, int):
        after = math.ceil(left / (page_size - 1)) - 1 if left > 0 else 0
    else:
        after = guess - 1 if isinstance(guess, int) and guess > 0 else 0
    return after + (1 if cursor.get(BEFORE) else 0)


def guessed(first: str | None, watermark: dict[str, Any], server_time: str | None) -> dict[str, int]:
    """The GUESS for the cursor after a page whose first record was updated at `first` ({} when its span or the
    server's clock cannot tell)."""
    ahead = pages_ahead(first, watermark, server_time)
    return {GUESS: min(MAX_GUESS, math.ceil(ahead))} if ahead is not None else {}


def ends_next(cursor: dict[str, Any], page_size: int) -> bool:
    """Whether the page read from `cursor`, the stream's own (not a chain's), comes back short, by what the COUNT
    left it: what is left and the records it asks again for (those at its instant it has seen) fit in one page."""
    left = cursor.get(LEFT)
    return (isinstance(left, int) and not cursor.get(BEFORE)
            and left + len(cursor.get("seen") or []) < page_size)


def counted(cursor: dict[str, Any], fresh: int) -> dict[str, Any]:
    """`cursor` for the next page, when the page that was read from it brought `fresh` new records: LEFT lessened."""
    left = cursor.get(LEFT)
    return {LEFT: max(0, left - fresh)} if isinstance(left, int) else {}


def pages_ahead(first: str | None, watermark: dict[str, Any], server_time: str | None) -> float | None:
    """About how many pages are left after a page whose records were updated from `first` to the watermark's time,
    were the rest updated at the same pace until the server's clock: the time left over the page's span. None when
    they cannot tell (no clock, or a page within one instant)."""
    try:
        start, end, now = parse_ts(first), parse_ts(watermark["ts"]), parse_ts(server_time)
    except (TypeError, ValueError):
        return None
    if start is None or end is None or now is None or end <= start:
        return None
    return max(0.0, (now - end) / (end - start))


def worth_counting(first: str | None, watermark: dict[str, Any], server_time: str | None) -> bool:
    """Whether what is left may be large enough to split, judged from the first page's span (pages_ahead): a COUNT
    is a call, and most entities that fill one page fill only a few. A growing business has more records in recent
    times than the first page's span suggests, so half the pages a split needs are enough to ask; an entity
    misjudged still reads completely, through one chain. Without a span or a clock only a COUNT can tell."""
    ahead = pages_ahead(first, watermark, server_time)
    return ahead is None or ahead >= MIN_PAGES / 2


def _first(doc: dict[str, Any], entity: str) -> dict[str, Any] | None:
    records = (doc.get("QueryResponse") or {}).get(entity) or []
    return records[0] if records and isinstance(records[0], dict) else None


def _cut_time(doc: dict[str, Any], entity: str) -> str | None:
    record = _first(doc, entity)
    meta = record.get("MetaData") if record is not None else None
    value = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Split:
    """A read cut into chains: the chains, the stream's own chain after them, and the newest record the last probe
    read (None when it read none), which the split's page carries: the own chain's cursor counts it as read."""

    chains: list[dict[str, Any]]
    after: dict[str, Any]
    newest: dict[str, Any] | None = None


async def split(ask: Ask, entity: str, watermark: dict[str, Any], *, has_active_flag: bool, page_size: int,
                max_chains: int, record_id: Callable[[dict[str, Any]], str] = record_id_of) -> Split:
    """Cut what is left after `watermark` into chains (module docstring); no chains, and `watermark` to go on
    from (with what the COUNT says is left, LEFT), when one chain will do. Costs one COUNT and one call per cut,
    the cuts side by side."""
    counted = await ask(count_query(entity, watermark, has_active_flag=has_active_flag))
    remaining = int((counted.get("QueryResponse") or {}).get("totalCount") or 0)
    taken = len(watermark.get("seen") or [])
    positions = cut_positions(remaining, taken, page_size, max_chains)
    if not positions:
        return Split([], {**watermark, LEFT: max(0, remaining - taken)})
    docs = await asyncio.gather(*(ask(probe_query(entity, watermark, p, has_active_flag=has_active_flag))
                                  for p in positions))
    cut_times = [_cut_time(doc, entity) for doc in docs]
    chains, after = chains_between(watermark, cut_times, range_sizes(positions, taken))
    newest = _first(docs[-1], entity)
    if not chains or newest is None or cut_times[-1] != after["ts"]:
        return Split(chains, after)
    # The last probe read the newest record, the first of the own chain's range: landed with the split's page, it
    # is that chain's as read (its id seen at its instant), so when nothing changed while the chains ran the own
    # chain's read brings nothing new to load, and the series nothing to restate after the chains' rebuild.
    return Split(chains, {**after, "seen": [record_id(newest)]}, newest)
