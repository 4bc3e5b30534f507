"""One timestamp parser with explicit rules (shared.core.convert.as_instant), and each plugin's documented use of it."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.monday.timestamps import parse_ts as monday_ts
from plugins.quickbooks.fields import parse_ts as quickbooks_ts
from shared.core.convert import as_instant

PACIFIC = dt.timezone(dt.timedelta(hours=-7))


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_an_empty_value_is_no_instant(empty):
    assert as_instant(empty) is None and monday_ts(empty) is None and quickbooks_ts(empty) is None


def test_an_offset_is_kept_as_written_and_z_means_utc():
    assert as_instant("2015-07-24T10:48:22-07:00") == dt.datetime(2015, 7, 24, 10, 48, 22, tzinfo=PACIFIC)
    assert as_instant("2015-07-24T10:48:22-07:00").utcoffset() == dt.timedelta(hours=-7)  # type: ignore[union-attr]
    assert as_instant("2025-10-24T18:26:35Z") == as_instant("2025-10-24T18:26:35z") == dt.datetime(
        2025, 10, 24, 18, 26, 35, tzinfo=dt.UTC)


def test_a_value_without_an_offset_is_refused_unless_the_source_documents_its_zone():
    with pytest.raises(ValueError, match="no offset"):
        as_instant("2026-01-01T10:00:00")
    assert as_instant("2026-01-01T10:00:00", naive_zone=PACIFIC) == dt.datetime(2026, 1, 1, 17, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="no offset"):
        as_instant(dt.datetime(2026, 1, 1))  # a datetime is held to the same rule


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00:00Z", 1767225600, ["2026-01-01"]])
def test_what_is_not_an_iso_timestamp_is_refused_with_a_value_error(bad):
    with pytest.raises(ValueError):
        as_instant(bad, naive_zone=dt.UTC)


def test_quickbooks_refuses_offset_less_times_because_intuit_documents_no_zone_for_them():
    assert quickbooks_ts("2015-07-24T10:48:22-07:00") == dt.datetime(2015, 7, 24, 17, 48, 22, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        quickbooks_ts("2015-07-24T10:48:22")


def test_monday_reads_offset_less_times_as_utc_and_answers_in_utc():
    assert monday_ts("2026-05-04T09:00:00") == dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
    assert monday_ts("2026-05-04") == dt.datetime(2026, 5, 4, tzinfo=dt.UTC)
    shifted = monday_ts("2026-05-04T11:00:00+02:00")
    assert shifted == dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC) and shifted.tzinfo is dt.UTC  # type: ignore[union-attr]
