"""The helpdesk's cursors and watermarks: where a run starts, where its next page starts, and the boundary rule."""

from __future__ import annotations

import pytest

from tests.third_source import paging

T0, T1 = "2026-03-01T10:00:00Z", "2026-03-01T10:00:05Z"


def ticket(number: int, updated: str) -> dict:
    return {"id": number, "updated_at": updated}


def test_a_complete_read_starts_from_the_beginning_and_asks_for_live_tickets_only():
    cursor = paging.start_cursor(None)
    assert paging.query(cursor, 50) == {"page_size": "50"}


def test_an_incremental_read_starts_at_the_watermark_and_asks_for_deletes_too():
    cursor = paging.start_cursor({"since": T0, "seen": ["4"]})
    assert paging.query(cursor, 50) == {"page_size": "50", "updated_since": T0, "include_deleted": "true"}
    assert paging.query({**cursor, "token": "abc"}, 50)["page_token"] == "abc"


def test_the_tickets_already_taken_at_the_watermark_are_dropped_and_a_new_one_at_the_same_second_is_kept():
    cursor = paging.start_cursor({"since": T0, "seen": ["4", "9"]})
    fresh, following, mark, dropped = paging.advance(
        cursor, [ticket(4, T0), ticket(6, T0), ticket(9, T0), ticket(2, T1)], None)
    assert [t["id"] for t in fresh] == [6, 2]
    assert dropped == 2
    assert following is None  # no next page token: the read is over
    assert mark == {"since": T1, "seen": ["2"]}


def test_the_watermark_at_an_unchanged_newest_second_keeps_every_id_taken_at_it():
    cursor = paging.start_cursor({"since": T0, "seen": ["4"]})
    _, _, mark, _ = paging.advance(cursor, [ticket(4, T0), ticket(8, T0)], None)
    assert mark == {"since": T0, "seen": ["4", "8"]}


def test_each_page_carries_the_watermark_of_the_read_so_far_to_the_next():
    first = paging.start_cursor(None)
    _, following, mark, _ = paging.advance(first, [ticket(1, T0), ticket(3, T0)], "token-2")
    assert following == {"since": None, "seen": [], "token": "token-2", "mark": mark}
    _, last, final, _ = paging.advance(following, [ticket(5, T0)], None)
    assert last is None and final == {"since": T0, "seen": ["1", "3", "5"]}


def test_an_empty_answer_keeps_the_stored_watermark():
    stored = {"since": T0, "seen": ["4"]}
    fresh, following, mark, dropped = paging.advance(paging.start_cursor(stored), [], None)
    assert (fresh, following, mark, dropped) == ([], None, stored, 0)


def test_a_timestamp_without_an_offset_is_refused_not_guessed():
    with pytest.raises(ValueError, match="has no offset"):
        paging.parse_ts("2026-03-01T10:00:00")
