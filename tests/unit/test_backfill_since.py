"""A backfill's start date: YYYY-MM-DD only, not in the future, not before the earliest date a backfill reads."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.core.backfill import EARLIEST, parse_since, since_instant

TODAY = dt.date(2026, 12, 2)


def test_a_calendar_date_up_to_today_is_taken_and_starts_at_midnight_utc():
    assert parse_since("2026-01-01", TODAY) == dt.date(2026, 1, 1)
    assert parse_since("2026-12-02", TODAY) == TODAY
    assert since_instant(dt.date(2026, 1, 1)) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "says"), [
    ("2026-1-1", "YYYY-MM-DD"), ("2026-01-01T00:00:00Z", "YYYY-MM-DD"), ("01/01/2026", "YYYY-MM-DD"),
    ("", "YYYY-MM-DD"),
    (20260101, "YYYY-MM-DD"), (None, "YYYY-MM-DD"), ("2026-02-30", "not a calendar date"),
    ("2026-12-03", "in the future"), ("1999-12-31", "before 2000-01-01"), ("0026-01-01", "before"),
])
def test_anything_else_is_refused_saying_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        parse_since(text, TODAY)


def test_the_earliest_date_itself_is_allowed():
    assert parse_since(EARLIEST.isoformat(), TODAY) == EARLIEST
