"""Change data capture windows and how a run is planned from the stored watermarks."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.quickbooks import PLUGIN, cdc, paging, partition
from plugins.quickbooks.streams import STREAMS
from shared.db.connections import Connection

CONN = Connection("qbo-x", "quickbooks", "X", {"realm_id": "1", "access_token_secret": "conn-qbo-x-token"})


def env(entity: str, id_: str, ts: str) -> tuple[str, dict]:
    return entity, {"Id": id_, "MetaData": {"LastUpdatedTime": ts}}


def minutes(entity: str, ids: range, since_minute: int = 0) -> list[tuple[str, dict]]:
    """One change of `entity` per minute after 2026-11-01T00:00Z, the i-th at minute since_minute + i."""
    return [env(entity, str(i), (dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
                                 + dt.timedelta(minutes=since_minute + i)).isoformat()) for i in ids]


def test_an_answer_below_the_cap_is_complete_and_moves_the_window_to_its_newest_change():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice", "Payment"])
    objects = minutes("Invoice", range(1, 999))
    objects.append(env("Payment", "5000", objects[-1][1]["MetaData"]["LastUpdatedTime"]))  # same instant
    step = cdc.step(cursor, objects, "2026-11-02T00:00:00Z")
    assert len(step.records) == 999 and step.next_cursor is None and step.dropped == 0
    assert step.watermark == {"since": objects[-1][1]["MetaData"]["LastUpdatedTime"],
                              "seen": {"Invoice": ["998"], "Payment": ["5000"]}}
    # The next window starts at that instant and drops what was already taken there.
    again = cdc.step(cdc.start_cursor(step.watermark["since"], ["Invoice", "Payment"], step.watermark["seen"]),
                     [*objects[-2:], env("Invoice", "1001", "2026-11-01T20:00:00Z")], None)
    assert [e["record"]["Id"] for e in again.records] == ["1001"] and again.dropped == 2


def test_a_full_answer_moves_nothing_and_asks_each_entity_alone_from_the_same_instant():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice", "Payment"], {"Invoice": ["7"]})
    assert cdc.entities_to_ask(cursor) == ["Invoice", "Payment"]
    # Say the service kept the NEWEST 1,000 invoices: trusting their order would skip every older change.
    step = cdc.step(cursor, minutes("Invoice", range(500, 1500)), "2026-11-02T00:00:00Z")
    assert len(step.records) == 1000  # loaded anyway: version-guarded upserts make a re-read harmless
    assert step.watermark == {"since": "2026-11-01T00:00:00Z", "seen": {"Invoice": ["7"]}}
    assert cdc.entities_to_ask(step.next_cursor) == ["Invoice"]
    assert step.next_cursor["since"] == "2026-11-01T00:00:00Z"
    assert cdc.entities_to_ask(cdc.step(step.next_cursor, [], None).next_cursor) == ["Payment"]


def test_after_asking_alone_the_window_moves_to_the_earliest_entity_bound():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice", "Payment", "Customer"])
    asked = cdc.step(cursor, minutes("Invoice", range(1, 1001)), "2026-11-03T00:00:00Z").next_cursor
    invoices = cdc.step(asked, minutes("Invoice", range(1, 900)), "2026-11-03T00:00:00Z")
    payments = cdc.step(invoices.next_cursor, minutes("Payment", range(1, 101)), "2026-11-03T00:00:00Z")
    customers = cdc.step(payments.next_cursor, [], "2026-11-03T00:00:00Z")
    assert customers.next_cursor is None
    # Invoices are complete to minute 899, payments only to minute 100, customers to the server clock:
    # the window may move only to minute 100, with the payment taken there.
    last_payment = minutes("Payment", range(100, 101))[0][1]["MetaData"]["LastUpdatedTime"]
    assert customers.watermark["since"] == last_payment and customers.watermark["seen"] == {"Payment": ["100"]}
    assert customers.watermark["cap"] == {"entities_asked_alone": 3, "at_cap": []}
    assert "pending" not in customers.watermark
    # Until the last entity has answered, the stored window stays where it was.
    assert invoices.watermark == payments.watermark == {"since": "2026-11-01T00:00:00Z", "seen": {}}


def test_an_entity_at_the_cap_on_its_own_waits_for_a_complete_read_and_the_window_stays():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice", "Payment"])
    asked = cdc.step(cursor, minutes("Invoice", range(1, 1001)), "2026-11-03T00:00:00Z").next_cursor
    invoices = cdc.step(asked, minutes("Invoice", range(2000, 3000)), "2026-11-03T00:00:00Z")
    payments = cdc.step(invoices.next_cursor, minutes("Payment", range(1, 11)), "2026-11-03T00:00:00Z")
    mark = payments.watermark
    assert payments.next_cursor is None
    assert (mark["since"], mark["seen"]) == ("2026-11-01T00:00:00Z", {})
    assert mark["complete_reads"] == ["Invoice"] and mark["cap"]["at_cap"] == ["Invoice"]
    last_payment = minutes("Payment", range(10, 11))[0][1]["MetaData"]["LastUpdatedTime"]
    assert mark["pending"] == {"since": last_payment, "seen": {"Payment": ["10"]}}

    # The next planning phase reads Invoice completely with a sweep (in several chains if large) and says why.
    then = PLUGIN.plan(CONN, "incremental", {"cdc": mark}, calls_this_month=0, phase=1)
    assert [(p.stream, p.sweep, p.cursor) for p in then.streams] == [
        ("Invoice", True, partition.first_cursor(paging.start_cursor(None)))]
    assert "1,000-object cap" in then.notes[0] and "read completely with a delete sweep: Invoice" in then.notes[0]
    # Only once every stream succeeded does the pending window become the stored one.
    assert PLUGIN.after_run(CONN, {"establishes_cdc": False, **then.context}, []) == {"cdc": mark["pending"]}


def test_a_run_whose_cdc_stayed_below_the_cap_plans_nothing_more_and_notes_nothing():
    plan = PLUGIN.plan(CONN, "incremental", {"cdc": {"since": now_iso(1), "seen": {}}}, calls_this_month=0)
    assert plan.next_phase
    then = PLUGIN.plan(CONN, "incremental", {"cdc": {"since": now_iso(1), "seen": {}}}, calls_this_month=0, phase=1)
    assert then.streams == [] and then.notes == [] and then.context == {}


def test_a_cap_every_entity_could_complete_alone_is_noted_without_complete_reads():
    mark = {"since": now_iso(1), "seen": {}, "cap": {"entities_asked_alone": 20, "at_cap": []}}
    then = PLUGIN.plan(CONN, "incremental", {"cdc": mark}, calls_this_month=0, phase=1)
    assert then.streams == [] and then.context == {}
    assert then.notes == ["change data capture answered with its 1,000-object cap, which does not say what it "
                          "left out: asked again for each of 20 entities alone; every entity's own answer was "
                          "below the cap, so complete"]


def test_a_change_without_a_last_updated_time_passes_through_to_quarantine_without_moving_the_window():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice"])
    objects = [("Invoice", {"Id": "9", "MetaData": {}}), env("Invoice", "10", "2026-11-01T01:00:00Z")]
    step = cdc.step(cursor, objects, None)
    assert [e["record"]["Id"] for e in step.records] == ["9", "10"]
    assert step.watermark == {"since": "2026-11-01T01:00:00Z", "seen": {"Invoice": ["10"]}}
    (target, record), = PLUGIN.split("cdc", step.records[0])
    with pytest.raises(ValueError, match=r"Invoice 9 has no MetaData\.LastUpdatedTime"):
        PLUGIN.to_raw(target, record)


def test_deleted_objects_pass_through_as_tombstones():
    cursor = cdc.start_cursor("2026-11-01T00:00:00Z", ["Invoice"])
    deleted = ("Invoice", {"Id": "7", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2026-11-02T00:00:00Z"}})
    (target, record), = PLUGIN.split("cdc", cdc.step(cursor, [deleted], None).records[0])
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
    # What the run's streams stored: each keyset watermark keeps the server time of its read's first page.
    results = {"Invoice": {"ts": "2026-11-20T09:30:00-08:00", "seen": ["1"],
                           "read_started": "2026-11-20T10:00:00-08:00"},
               "Customer": {"ts": "2026-11-19T09:30:00-08:00", "seen": ["2"],
                            "read_started": "2026-11-20T09:00:00-08:00"},
               "TaxCode": {"ts": "2026-11-01T00:00:00Z", "seen": []}}
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


def test_no_complete_reads_follow_a_cdc_stream_that_failed_in_this_run():
    # The stored watermark is then an earlier run's, cap and all: the next run asks the change feed again.
    mark = {"since": now_iso(1), "seen": {}, "cap": {"entities_asked_alone": 3, "at_cap": ["Invoice"]},
            "complete_reads": ["Invoice"], "pending": {"since": now_iso(0), "seen": {}}}
    then = PLUGIN.plan(CONN, "incremental", {"cdc": mark}, calls_this_month=0, phase=1, failed={"cdc": "HTTP 500"})
    assert then.streams == [] and then.context == {} and then.notes == []


# -- runs a webhook asked for (changed: hints from plugins/quickbooks/webhooks.py) -----------------------------------
def test_an_entity_hint_keeps_change_data_capture_whole_and_spends_nothing_on_reports_or_other_entities():
    marks = {"cdc": {"since": now_iso(2), "seen": {"Invoice": ["3"]}}, "TaxCode": {"ts": now_iso(3), "seen": []}}
    plan = PLUGIN.plan(CONN, "incremental", marks, calls_this_month=0, changed=["entity:Invoice"])
    streams = {p.stream: p for p in plan.streams}
    assert set(streams) == {"cdc"} and plan.next_phase
    # One window for every entity: asking about Invoice alone would move it past the others' changes.
    assert streams["cdc"].cursor["entities"] == [e for e in STREAMS if STREAMS[e].cdc]
    assert streams["cdc"].cursor["since"] == marks["cdc"]["since"] and streams["cdc"].cursor["seen"] == {
        "Invoice": ["3"]}
    assert "TaxCode, TaxRate, CompanyInfo, Preferences, ExchangeRate, the reports wait" in plan.notes[0]


def test_hints_naming_a_query_read_entity_or_the_reports_read_those_too():
    marks = {"cdc": {"since": now_iso(2), "seen": {}}, "TaxCode": {"ts": now_iso(3), "seen": []}}
    plan = PLUGIN.plan(CONN, "incremental", marks, calls_this_month=0, changed=["entity:TaxCode", "reports"])
    streams = {p.stream: p for p in plan.streams}
    assert set(streams) == {"cdc", "TaxCode", "reports"}
    assert streams["TaxCode"].cursor["ts"] == marks["TaxCode"]["ts"]


def test_a_hint_this_plugin_does_not_name_plans_the_normal_incremental_run():
    marks = {"cdc": {"since": now_iso(2), "seen": {}}}
    plan = PLUGIN.plan(CONN, "incremental", marks, calls_this_month=0, changed=["board:1", "entity:Invoice"])
    assert {"cdc", "TaxCode", "reports"} <= {p.stream for p in plan.streams}
    assert "the normal incremental run" in plan.notes[0]


def test_hints_do_not_narrow_a_complete_read_or_a_run_after_a_gap():
    for marks in ({}, {"cdc": {"since": now_iso(31), "seen": {}}}):
        plan = PLUGIN.plan(CONN, "incremental", marks, calls_this_month=0, changed=["entity:Invoice"])
        assert plan.context["establishes_cdc"] and "Invoice" in {p.stream for p in plan.streams}
        assert any(p.sweep for p in plan.streams)


def test_the_note_of_a_notified_run_names_only_what_waits():
    marks = {"cdc": {"since": now_iso(2), "seen": {}}}
    no_reports = Connection("qbo-x", "quickbooks", "X", {**CONN.config, "reports": False, "streams": ["Invoice"]})
    plan = PLUGIN.plan(no_reports, "incremental", marks, calls_this_month=0, changed=["entity:Invoice"])
    assert plan.notes == ["changes announced: change data capture over every entity"]
