"""The keyset boundary of an incremental read (shared.core.incremental): what was taken is dropped, nothing is
skipped."""

from __future__ import annotations

import datetime as dt

from shared.core.incremental import Boundary, split

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def rec(id_: str, seconds: int | None) -> dict:
    return {"id": id_, "at": None if seconds is None else at(seconds)}


def run(records: list[dict], boundary: Boundary):
    return split(records, boundary, value_of=lambda r: r["at"], id_of=lambda r: r["id"])


def test_records_before_the_boundary_and_ids_already_taken_at_it_are_dropped():
    page = run([rec("1", -1), rec("5", 0), rec("7", 0), rec("3", 1)], Boundary(at(0), frozenset({"5"})))
    assert [r["id"] for r in page.fresh] == ["7", "3"] and page.dropped == 2


def test_the_next_boundary_is_the_newest_value_with_the_ids_taken_at_it():
    page = run([rec("7", 0), rec("3", 1), rec("4", 1)], Boundary(at(0), frozenset({"5"})))
    assert page.after == Boundary(at(1), frozenset({"3", "4"}))
    assert page.newest is not None and page.newest["id"] == "3"  # the first record at that value


def test_ids_taken_before_stay_taken_while_the_boundary_does_not_move():
    page = run([rec("5", 0), rec("7", 0)], Boundary(at(0), frozenset({"5"})))
    assert page.after == Boundary(at(0), frozenset({"5", "7"})) and page.dropped == 1


def test_the_newest_value_wins_even_when_the_answer_is_not_in_order():
    page = run([rec("9", 5), rec("2", 1), rec("8", 5)], Boundary(at(0)))
    assert page.after == Boundary(at(5), frozenset({"9", "8"}))


def test_a_record_without_a_value_is_kept_but_never_moves_the_boundary():
    page = run([rec("1", None), rec("2", None)], Boundary(at(0), frozenset({"5"})))
    assert [r["id"] for r in page.fresh] == ["1", "2"] and page.dropped == 0
    assert page.after is None and page.newest is None  # the caller keeps its own boundary


def test_an_empty_answer_moves_nothing():
    page = run([], Boundary(at(0)))
    assert (page.fresh, page.dropped, page.after, page.newest) == ([], 0, None, None)


def test_ids_may_be_any_hashable_such_as_entity_and_id_pairs():
    records = [("Invoice", "1", at(0)), ("Payment", "1", at(0)), ("Invoice", "2", at(0))]
    page = split(records, Boundary(at(0), frozenset({("Invoice", "1")})), value_of=lambda r: r[2],
                 id_of=lambda r: (r[0], r[1]))
    assert [r[:2] for r in page.fresh] == [("Payment", "1"), ("Invoice", "2")]
    assert page.after is not None
    assert page.after.seen == {("Invoice", "1"), ("Payment", "1"), ("Invoice", "2")}


def test_reading_a_changing_set_page_by_page_from_each_boundary_misses_nothing_and_repeats_nothing():
    data = {str(i): i // 4 for i in range(40)}  # four records share each second

    def serve(boundary: Boundary, size: int) -> list[dict]:
        # The source answers ">= value", ordered by (value, id); a position past the taken ids only when a
        # whole page shares one value (as QuickBooks paging does).
        rows = sorted((ts, int(i)) for i, ts in data.items() if at(ts) >= boundary.value)
        skip = len(boundary.seen) if len(boundary.seen) >= size else 0
        return [rec(str(i), ts) for ts, i in rows[skip:skip + size]]

    got: list[str] = []
    boundary = Boundary(at(-1))
    for step in range(50):
        if step == 3:
            data["1"] = 100  # taken already, then changed: it comes again as its new version
            data["38"] = 101  # not yet taken, moved to the end: it comes once
        answer = serve(boundary, 3)
        page = run(answer, boundary)
        got += [r["id"] for r in page.fresh]
        boundary = page.after or boundary
        if len(answer) < 3:
            break
    assert set(got) == set(data) and got.count("38") == 1 and got.count("1") == 2
