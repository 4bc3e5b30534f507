"""Change data capture windows and how a run is planned from the stored watermarks."""

from __future__ import annotations

import datetime as dt

from plugins.quickbooks import PLUGIN, cdc
from plugins.quickbooks.streams import STREAMS
from shared.db.connections import Connection

CONN = Connection("qbo-x", "quickbooks", "X", {"realm_id": "1", "access_token_secret": "s"})


def env(entity: str, id_: str, ts: str) -> tuple[str, dict]:
    return entity, {"Id": id_, "MetaData": {"LastUpdatedTime": ts}}


def test_a_full_cdc_response_moves_the_window_to_its_newest_change():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice", "Payment"])
    objects = [env("Invoice", str(i), f"2026-11-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(1, 1000)]
    objects.append(env("Payment", "5000", "2026-11-01T00:16:39Z"))  # same instant as invoice 999
    fresh, mark, done, dropped = cdc.advance(cursor, objects, "2026-11-02T00:00:00Z")
    assert len(fresh) == 1000 and not done and dropped == 0
    assert mark["since"] == "2026-11-01T00:16:39Z"
    assert mark["seen"] == {"Invoice": ["999"], "Payment": ["5000"]}
    # The next window starts at that instant and drops what was already taken there.
    again, _, done2, dropped2 = cdc.advance(mark, [*objects[-2:], env("Invoice", "1001", "2026-11-01T01:00:00Z")],
                                            None)
    assert [e["record"]["Id"] for e in again] == ["1001"] and dropped2 == 2 and done2


def test_an_empty_window_creeps_up_to_the_server_clock_less_a_margin():
    cursor = cdc.start_cursor("2026-11-01T00:00:00+00:00", ["Invoice"])
    fresh, mark, done, _ = cdc.advance(cursor, [], "2026-11-03T12:00:00-08:00")
    assert fresh == [] and done
    assert dt.datetime.fromisoformat(mark["since"]) == dt.datetime(2026, 11, 3, 19, 55, tzinfo=dt.UTC)


def test_deleted_objects_pass_through_as_tombstones():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice"])
    deleted = ("Invoice", {"Id": "7", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2026-11-02T00:00:00Z"}})
    fresh, _, _, _ = cdc.advance(cursor, [deleted], None)
    (target, record), = PLUGIN.split("cdc", fresh[0])
    raw = PLUGIN.to_raw(target, record)
    assert target == "Invoice" and raw.deleted and raw.id == "7"


def now_iso(days_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()


def test_first_run_reads_everything_and_sweeps():
    plan = PLUGIN.plan(CONN, "incremental", {}, calls_this_month=0)
    assert {p.stream for p in plan.streams} == {*STREAMS, "reports"}
    assert all(p.sweep == (STREAMS[p.stream].kind in ("txn", "list")) for p in plan.streams if p.stream in STREAMS)
    assert plan.context == {"establishes_cdc": True} and plan.notes


def test_incremental_with_a_recent_watermark_uses_one_cdc_stream_plus_the_entities_cdc_misses():
    marks = {"cdc": {"since": now_iso(2), "seen": {"Invoice": ["3"]}}, "TaxCode": {"ts": now_iso(3), "seen": []}}
    plan = PLUGIN.plan(CONN, "incremental", marks, calls_this_month=0)
    streams = {p.stream: p for p in plan.streams}
    assert set(streams) == {"cdc", "TaxCode", "TaxRate", "CompanyInfo", "Preferences", "ExchangeRate", "reports"}
    assert streams["cdc"].cursor["seen"] == {"Invoice": ["3"]}
    assert "TaxCode" not in streams["cdc"].cursor["entities"]
    assert streams["TaxCode"].cursor["ts"] == marks["TaxCode"]["ts"]
    assert not any(p.sweep for p in plan.streams)


def test_a_gap_over_thirty_days_falls_back_to_a_complete_read():
    plan = PLUGIN.plan(CONN, "incremental", {"cdc": {"since": now_iso(31), "seen": {}}}, calls_this_month=0)
    assert "cdc" not in {p.stream for p in plan.streams}
    assert plan.context["establishes_cdc"] and "gap over 30 days" in plan.notes[0]


def test_a_sync_past_the_quota_share_is_refused_with_what_to_do():
    plan = PLUGIN.plan(CONN, "full", {}, calls_this_month=450_000)
    assert plan.streams == [] and "450,000 of 500,000" in plan.refused and "QBO_MONTHLY_READ_QUOTA" in plan.refused


def test_after_a_complete_read_cdc_starts_at_the_earliest_server_time_less_a_margin():
    results = [{"server_time": "2026-11-20T10:00:00-08:00"}, {"server_time": "2026-11-20T09:00:00-08:00"}, {}]
    marks = PLUGIN.after_run(CONN, {"establishes_cdc": True}, results)
    assert dt.datetime.fromisoformat(marks["cdc"]["since"]) == dt.datetime(2026, 11, 20, 16, 55, tzinfo=dt.UTC)
    assert PLUGIN.after_run(CONN, {"establishes_cdc": False}, results) == {}


def test_reports_cover_two_years_on_a_complete_read_and_the_latest_window_after(monkeypatch):
    full = next(p for p in PLUGIN.plan(CONN, "full", {}, 0).streams if p.stream == "reports")
    marks = {"cdc": {"since": now_iso(1), "seen": {}}}
    latest = next(p for p in PLUGIN.plan(CONN, "incremental", marks, 0).streams if p.stream == "reports")
    assert len(full.cursor["jobs"]) == 2 * 2 * 4 and len(latest.cursor["jobs"]) == 2 * 2
    for report, basis, start, end in full.cursor["jobs"]:
        assert report in ("ProfitAndLoss", "BalanceSheet") and basis in ("Accrual", "Cash")
        months = (int(end[:4]) - int(start[:4])) * 12 + int(end[5:7]) - int(start[5:7]) + 1
        assert months <= 6
    no_reports = Connection("qbo-x", "quickbooks", "X", {**CONN.config, "reports": False})
    assert "reports" not in {p.stream for p in PLUGIN.plan(no_reports, "full", {}, 0).streams}
