"""Keyset paging over (LastUpdatedTime, Id): no skipped and no repeated record at page boundaries."""

from __future__ import annotations

from plugins.quickbooks.paging import EPOCH, advance, query_for, start_cursor


def rec(id_: str, ts: str) -> dict:
    return {"Id": id_, "MetaData": {"LastUpdatedTime": ts}}


def test_first_query_starts_at_epoch_with_stable_order_and_inactive_rows():
    q = query_for("Customer", start_cursor(None), has_active_flag=True)
    assert q == (
        f"SELECT * FROM Customer WHERE Metadata.LastUpdatedTime >= '{EPOCH}' AND Active IN (true, false) "
        "ORDERBY Metadata.LastUpdatedTime, Id STARTPOSITION 1 MAXRESULTS 1000"
    )


def test_boundary_ids_are_dropped_and_remembered():
    cursor = {"ts": "2026-01-01T10:00:00-08:00", "seen": ["5"]}
    page = [rec("5", "2026-01-01T10:00:00-08:00"), rec("7", "2026-01-01T10:00:00-08:00"),
            rec("3", "2026-01-01T10:00:01-08:00")]
    fresh, watermark, done, dropped = advance(cursor, page, page_size=3)
    assert [r["Id"] for r in fresh] == ["7", "3"]
    assert dropped == 1 and not done
    assert watermark == {"ts": "2026-01-01T10:00:01-08:00", "seen": ["3"]}


def test_watermark_accumulates_ids_when_the_boundary_timestamp_continues():
    cursor = {"ts": "2026-01-01T18:00:00Z", "seen": ["1"]}
    # Same instant in another offset: compared as instants, not strings.
    page = [rec("1", "2026-01-01T10:00:00-08:00"), rec("2", "2026-01-01T10:00:00-08:00")]
    fresh, watermark, done, dropped = advance(cursor, page, page_size=1000)
    assert [r["Id"] for r in fresh] == ["2"] and dropped == 1 and done
    assert watermark["seen"] == ["1", "2"]


def test_a_full_page_at_one_timestamp_moves_the_start_position():
    seen = [str(i) for i in range(1000)]
    q = query_for("Invoice", {"ts": "2026-01-01T00:00:00Z", "seen": seen}, has_active_flag=False)
    assert "STARTPOSITION 1001 MAXRESULTS 1000" in q and "Active" not in q


def test_empty_page_ends_and_keeps_the_watermark():
    cursor = {"ts": "2026-01-01T00:00:00Z", "seen": ["9"]}
    fresh, watermark, done, dropped = advance(cursor, [], page_size=1000)
    assert fresh == [] and done and dropped == 0
    assert watermark == cursor


def test_paging_a_set_that_changes_between_pages_misses_nothing():
    """Simulate the server: records ordered by (ts, id); a record is updated while we page."""
    data = {str(i): 1000 + i // 3 for i in range(1, 31)}  # three records per second

    def serve(cursor, page_size):
        boundary = cursor["ts"]
        rows = sorted(((ts, int(i)) for i, ts in data.items() if ts >= boundary))
        start = len(cursor["seen"]) if len(cursor["seen"]) >= page_size else 0
        return [{"Id": str(i), "MetaData": {"LastUpdatedTime": ts}} for ts, i in rows[start:start + page_size]]

    def as_iso(seconds):
        return f"2026-01-01T00:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"

    data = {k: as_iso(v) for k, v in data.items()}
    got: list[str] = []
    cursor = {"ts": "2026-01-01T00:00:00Z", "seen": []}
    for step in range(100):
        if step == 2:
            data["2"] = as_iso(2000)  # record 2 (already taken) changes during paging
            data["29"] = as_iso(2001)  # record 29 (not yet taken) moves to the end
        fresh, watermark, done, _ = advance(cursor, serve(cursor, 4), page_size=4)
        got += [r["Id"] for r in fresh]
        cursor = watermark
        if done:
            break
    assert set(got) == set(data)  # nothing skipped
    assert got.count("29") == 1  # the moved record arrives once
    assert got.count("2") == 2  # the changed record arrives again, as its new version


def test_a_record_without_a_readable_last_updated_time_is_passed_on_and_does_not_move_the_keyset():
    cursor = {"ts": "2026-01-01T10:00:00-08:00", "seen": []}
    page = [rec("1", "2026-01-01T10:00:01-08:00"), {"Id": "2", "MetaData": {}}, {"Id": "3"},
            {"Id": "4", "MetaData": {"LastUpdatedTime": "yesterday"}}]
    fresh, watermark, done, dropped = advance(cursor, page, page_size=1000)
    # Loading quarantines the three with their reason; the keyset goes on from the last readable one.
    assert [r["Id"] for r in fresh] == ["1", "2", "3", "4"] and dropped == 0 and done
    assert watermark == {"ts": "2026-01-01T10:00:01-08:00", "seen": ["1"]}
