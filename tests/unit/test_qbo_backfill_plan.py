"""Planning a QuickBooks backfill: the transaction entities by keyset query from the date, no sweep, no reports,
and nothing that moves a watermark (the pages carry none, after_run leaves the change-data-capture window)."""

from __future__ import annotations

import datetime as dt

from plugins.quickbooks import PLUGIN, backfill, paging
from plugins.quickbooks.streams import STREAMS
from shared.db.connections import Connection

CONN = Connection("qbo-x", "quickbooks", "X", {"realm_id": "1", "access_token_secret": "conn-qbo-x-token"})
MARKS = {"cdc": {"since": "2026-11-30T00:00:00+00:00", "seen": {}},
         "Invoice": {"ts": "2026-11-29T10:00:00-08:00", "seen": ["9"], "read_started": "2026-11-01T00:00:00Z"}}


def test_a_backfill_reads_every_transaction_entity_from_midnight_utc_of_the_date_without_sweeping():
    plan = PLUGIN.plan(CONN, "backfill", MARKS, 0, since="2026-01-15")
    assert plan.refused is None and not plan.next_phase
    assert [p.stream for p in plan.streams] == [e for e, s in STREAMS.items() if s.kind == "txn"]
    assert all(not p.sweep for p in plan.streams)  # a partial read must not tombstone what it did not see
    cursor = plan.streams[0].cursor
    # From the date, not from the stored watermark, with the same keyset query a complete read pages with.
    assert cursor["ts"] == "2026-01-15T00:00:00+00:00" and cursor["seen"] == [] and backfill.is_backfill(cursor)
    assert paging.query_for("Invoice", cursor, has_active_flag=False).startswith(
        "SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '2026-01-15T00:00:00+00:00' ORDERBY")
    assert "backfill from 2026-01-15" in plan.notes[0]


def test_a_backfill_leaves_the_change_data_capture_window_where_it_is():
    plan = PLUGIN.plan(CONN, "backfill", MARKS, 0, since="2026-01-15")
    assert PLUGIN.after_run(CONN, plan.context, {"Invoice": {"ts": "2026-12-01T00:00:00Z", "seen": [],
                                                             "read_started": "2026-12-01T00:00:00Z"}}) == {}


def test_a_backfill_page_carries_the_keyset_position_on_and_no_watermark():
    position = {"ts": "2026-02-01T00:00:00Z", "seen": ["3"], "read_started": "2026-12-02T00:00:00Z"}
    more = backfill.page([{"Id": "3"}], position, done=False)
    assert more.watermark is None and more.next_cursor == {**position, "backfill": True}
    last = backfill.page([], position, done=True)
    assert last.watermark is None and last.next_cursor is None


def test_only_the_transaction_entities_the_connection_reads_are_backfilled():
    chosen = Connection("qbo-x", "quickbooks", "X", {**CONN.config, "streams": ["Customer", "Payment"]})
    assert [p.stream for p in PLUGIN.plan(chosen, "backfill", {}, 0, since="2026-01-15").streams] == ["Payment"]
    lists_only = Connection("qbo-x", "quickbooks", "X", {**CONN.config, "streams": ["Customer"]})
    refused = PLUGIN.plan(lists_only, "backfill", {}, 0, since="2026-01-15").refused
    assert refused and "no transaction entity" in refused


def test_a_missing_malformed_or_future_date_refuses_the_run_saying_why():
    assert "YYYY-MM-DD" in PLUGIN.plan(CONN, "backfill", {}, 0).refused
    assert "YYYY-MM-DD" in PLUGIN.plan(CONN, "backfill", {}, 0, since="15/01/2026").refused
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert "in the future" in PLUGIN.plan(CONN, "backfill", {}, 0, since=tomorrow).refused


def test_the_monthly_quota_still_refuses_a_backfill():
    refused = PLUGIN.plan(CONN, "backfill", {}, 10**9, since="2026-01-15").refused
    assert refused and "read quota" in refused
