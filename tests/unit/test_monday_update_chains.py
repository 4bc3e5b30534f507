"""Planning the chains of a complete read of monday's updates (plugins/monday/update_chains.py): how probes size
the list, where the cuts fall, and how a range chain pages by created_at. A list of updates stands in for monday
(the end-to-end proof is tests/integration/test_monday_update_chains.py)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from plugins.monday import update_chains
from plugins.monday.timestamps import iso
from tests.unit.test_monday_plan import connection, planned

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def _account(seconds: list[int]) -> list[dict]:
    """Updates newest first (as monday lists them), created `seconds` after T0, ids by age."""
    made = [{"id": str(1000 + n), "created_at": iso(T0 + dt.timedelta(seconds=s))} for n, s in enumerate(seconds)]
    return sorted(made, key=lambda u: (u["created_at"], u["id"]), reverse=True)


def _asker(updates: list[dict], asked: list[int]):
    async def ask(position: int) -> dt.datetime | None:
        asked.append(position)
        return update_chains.created_of(updates[position - 1]) if position <= len(updates) else None
    return ask


def _query(updates: list[dict], span: dict, limit: int) -> list[dict]:
    """What monday answers a range page: created in [lo, hi] (inclusive), newest first, page by number."""
    low, high = span["lo"], span["hi"]
    found = [u for u in updates if u["created_at"] <= high and (low is None or u["created_at"] >= low)]
    page = int(span["page"])
    return found[(page - 1) * limit: page * limit]


def _drain(updates: list[dict], cursor: dict, limit: int) -> list[str]:
    landed = []
    while cursor is not None:
        fresh, cursor = update_chains.range_step(cursor, _query(updates, cursor[update_chains.RANGE], limit), limit)
        landed += [u["id"] for u in fresh]
    return landed


@pytest.mark.parametrize("count", [450, 1_600, 30_200, 100_000])
def test_two_rounds_of_probes_count_the_updates_to_within_an_eighth(count):
    updates = _account(list(range(count)))
    asked: list[int] = []
    estimate = asyncio.run(update_chains.estimate_count(_asker(updates, asked), 200))
    assert abs(estimate - count) <= count / 8
    assert len(asked) <= update_chains.DOUBLINGS + update_chains.BRACKET - 1


def test_a_short_list_is_not_probed_further_and_not_split():
    asked: list[int] = []
    estimate = asyncio.run(update_chains.estimate_count(_asker(_account(list(range(300))), asked), 200))
    assert estimate < 400 and len(asked) == update_chains.DOUBLINGS
    assert update_chains.cut_positions(estimate, 200, 200, 4) == []


def test_cuts_share_what_is_left_after_the_first_page_evenly():
    assert update_chains.cut_positions(30_200, 200, 200, 4) == [7_700, 15_200, 22_700]
    assert update_chains.cut_positions(30_200, 200, 200, 1) == []
    assert update_chains.cut_positions(1_500, 200, 200, 4) == []  # 6.5 pages left: not worth the probes


def test_chains_meet_without_gaps_and_the_last_is_open_below():
    top = T0 + dt.timedelta(seconds=100)
    cuts = [T0 + dt.timedelta(seconds=s) for s in (70, 70, 40)] + [None]
    chains = update_chains.chains_between(top, ["7"], cuts)
    spans = [c[update_chains.RANGE] for c in chains]
    # A repeated cut and a missing one merge ranges; each chain's bottom is the next one's top.
    assert [(s["hi"], s["lo"]) for s in spans] == [(iso(top), iso(cuts[0])), (iso(cuts[0]), iso(cuts[2])),
                                                   (iso(cuts[2]), None)]
    assert spans[0]["skip"] == ["7"] and spans[1]["skip"] == spans[2]["skip"] == []
    assert update_chains.chains_between(top, [], [top, None]) == []


@pytest.mark.parametrize("limit", [3, 5, 8])
def test_range_chains_land_every_update_below_the_first_page_exactly_once(limit):
    # Bursts of many updates in one second (more than a page) as well as quiet stretches.
    seconds = [s // 7 for s in range(60)] + [100] * 12 + list(range(200, 260, 3))
    updates = _account(seconds)
    first = updates[:limit]
    top = update_chains.created_of(first[-1])
    skip = [u["id"] for u in first if update_chains.created_of(u) == top]
    cuts = [update_chains.created_of(updates[p]) for p in (limit + 9, limit + 30, limit + 50)]
    landed = [u["id"] for u in first]
    for chain in update_chains.chains_between(top, skip, cuts):
        landed += _drain(updates, chain, limit)
    assert sorted(landed) == sorted(u["id"] for u in updates)


def test_a_deletion_above_the_next_page_shifts_nothing_in_a_range_chain():
    updates = _account(list(range(40)))
    cursor = update_chains.range_cursor(update_chains.created_of(updates[0]), None, [])
    landed: list[str] = []
    fresh, cursor = update_chains.range_step(cursor, _query(updates, cursor[update_chains.RANGE], 5), 5)
    landed += [u["id"] for u in fresh]
    deleted = updates.pop(2)  # read already; page 2 by number would now skip what was first on it
    landed += _drain(updates, cursor, 5)
    assert sorted(landed) == sorted([*(u["id"] for u in updates), deleted["id"]])


def test_a_complete_plan_marks_the_updates_to_split_and_an_incremental_one_does_not():
    full = planned(connection(updates_chains=6), "full", {}, 0, phase=1).streams[0]
    assert full.stream == "updates" and full.cursor[update_chains.SPLIT] == 6 and full.sweep
    one = planned(connection(updates_chains=1), "full", {}, 0, phase=1).streams[0]
    assert update_chains.SPLIT not in one.cursor
    incremental = planned(connection(), "incremental", {"updates": {"since": "2026-05-01T00:00:00Z"}}, 0,
                          phase=1).streams[0]
    assert update_chains.SPLIT not in incremental.cursor and not incremental.sweep
    with pytest.raises(ValueError, match="updates_chains"):
        from plugins.monday.settings import read_settings

        read_settings(connection(updates_chains=0))


class _Client:
    """What lists._fetch_range uses of a MondayClient: settings, and query answering from `updates` (a range page)
    until `throttle_at` (a call number), which is refused as the budget would."""

    def __init__(self, updates: list[dict], limit: int, throttle_at: int | None = None) -> None:
        from plugins.monday.settings import read_settings

        self.settings = read_settings(connection(list_page_size=limit))
        self.updates, self.limit, self.throttle_at, self.calls = updates, limit, throttle_at, 0

    async def query(self, kind: str, variables: dict, *, rows: int):
        from plugins.monday.client import Answer
        from shared.core.http import Throttled

        self.calls += 1
        if self.calls == self.throttle_at:
            raise Throttled(30, "the minute's complexity is spent")
        span = {"lo": variables.get("from"), "hi": variables["to"], "page": variables["page"]}
        return Answer({"updates": _query(self.updates, span, self.limit)}, "2026-05-04T09:00:00Z", None)


def test_a_range_page_holds_several_keyset_steps_and_a_throttle_after_the_first_keeps_what_was_read():
    from plugins.monday import lists
    from shared.core.http import Throttled

    updates = _account(list(range(40)))
    start = update_chains.range_cursor(update_chains.created_of(updates[0]), None, [])
    page = asyncio.run(lists.fetch_updates(_Client(updates, 3), start))
    # Each step after the first asks to_date = the oldest second read, so it reads that update again (skipped).
    assert len(page.records) == 3 + 2 * (update_chains.STEPS_PER_PAGE - 1) and page.next_cursor is not None
    cut_short = asyncio.run(lists.fetch_updates(_Client(updates, 3, throttle_at=3), start))
    assert [r["id"] for r in cut_short.records] == [r["id"] for r in page.records][:5]
    with pytest.raises(Throttled):
        asyncio.run(lists.fetch_updates(_Client(updates, 3, throttle_at=1), start))
    landed, cursor = [], start
    while cursor is not None:
        fetched = asyncio.run(lists.fetch_updates(_Client(updates, 3), cursor))
        landed += [r["id"] for r in fetched.records]
        cursor = fetched.next_cursor
    assert sorted(landed) == sorted(u["id"] for u in updates)
