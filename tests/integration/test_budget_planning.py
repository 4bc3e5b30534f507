"""The budget planner through plan_streams on real PostgreSQL: a run short of budget defers its low-priority streams
(noted on the run, recorded, shown by the dashboard's queries), a scheduled run is skipped to stretch the schedule,
and a run that would run the budget out is refused saying when it works again and what to change."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from activities.planning import plan_streams
from activities.runs import begin_sync
from grafana.dashboards import DECISIONS_SQL, HELD_BACK_SQL
from grafana.macros import expand
from shared.budgets import forecast
from shared.core.messages import SyncRequest
from shared.db.connections import Connection, upsert_connection


@pytest.fixture
def account(pg_dsn, monkeypatch):
    """A Standard-plan monday connection of its own account, with twelve hours of hourly scheduled runs behind it
    (each read the directory for 50 calls and the rest for 10)."""
    monkeypatch.delenv(forecast.SCHEDULE_SETTING, raising=False)
    cid = f"mon-plan-{uuid.uuid4().hex[:6]}"
    key = f"acct-{cid}"
    monkeypatch.setenv(f"SECRET_CONN_{cid.upper().replace('-', '_')}_TOKEN", "not-a-real-token")
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(cid, "monday", "Planner test", {
            "api_token_secret": f"conn-{cid}-token", "plan": "standard", "account_id": key}))
        for hours in range(1, 13):
            run_id = f"hist-{cid}-{hours}"
            conn.execute("INSERT INTO sync_runs (run_id, scope, mode, trigger, instance_id, started_at, status) "
                         "VALUES (%s, 'all', 'incremental', 'timer', 'x', %s, 'succeeded')",
                         (run_id, now - dt.timedelta(hours=hours, seconds=-5)))
            for stream, calls in (("directory", 50), ("boards", 4), ("items:1", 6)):
                conn.execute("INSERT INTO sync_run_streams (run_id, connection_id, stream, api_calls, status) "
                             "VALUES (%s, %s, %s, %s, 'succeeded')", (run_id, cid, stream, calls))
        conn.commit()
    return cid, key


def used_today(pg_dsn: str, key: str, calls: int) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO monday_api_calls_daily (account_key, day, calls) "
                     "VALUES (%s, (now() AT TIME ZONE 'UTC')::date, %s) "
                     "ON CONFLICT (account_key, day) DO UPDATE SET calls = EXCLUDED.calls", (key, calls))
        conn.commit()


def start(cid: str, trigger: str) -> str:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    begin_sync({"run_id": run_id, "scope": cid, "mode": "incremental", "trigger": trigger, "instance_id": "test"})
    return run_id


def decision(pg_dsn: str, run_id: str) -> tuple:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT action, deferred, reason, used, allowance, projected FROM budget_decisions "
                            "WHERE run_id = %s", (run_id,)).fetchone()


def notes(pg_dsn: str, run_id: str) -> list[str]:
    with psycopg.connect(pg_dsn) as conn:
        return [n["note"] for n in conn.execute("SELECT notes FROM sync_runs WHERE run_id = %s",
                                                (run_id,)).fetchone()[0]]


def test_a_run_with_budget_to_spare_reads_everything_and_records_the_projection(pg_dsn, account):
    cid, key = account
    used_today(pg_dsn, key, 100)
    run_id = start(cid, "timer")
    plan = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})
    assert [s["stream"] for s in plan["streams"]] == ["directory", "boards"]
    assert decision(pg_dsn, run_id) == ("go", [], "", 100, 900, 160)  # used + one run like the last ones
    # The updates are read beside the boards' items (none loaded here), under the decision phase 0 made.
    items = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental", "phase": 1})
    assert [s["stream"] for s in items["streams"]] == ["updates"]


def test_a_run_short_of_budget_defers_the_directory_and_says_so_on_the_run_and_the_dashboard(pg_dsn, account):
    cid, key = account
    used_today(pg_dsn, key, 850)  # 910 with the directory, 860 without
    run_id = start(cid, "timer")
    plan = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})

    assert [s["stream"] for s in plan["streams"]] == ["boards"]
    assert plan.get("refused") is None and plan.get("skipped") is None
    action, deferred, reason, used, allowance, projected = decision(pg_dsn, run_id)
    assert (action, deferred, used, allowance, projected) == ("defer", ["directory"], 850, 900, 910)
    assert "projected 910 of 900" in reason
    [note] = notes(pg_dsn, run_id)
    assert note.startswith("budget planner: directory deferred: calls_today of monday-account:") and "910" in note
    # The next phase (the updates and the boards' items) is not held back: only deferrable streams are.
    items = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental", "phase": 1})
    assert items.get("refused") is None and items.get("skipped") is None
    assert [s["stream"] for s in items["streams"]] == ["updates"]

    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE bizmetrics_reader")
        rows = conn.execute(expand(DECISIONS_SQL, end - dt.timedelta(days=1), end)).fetchall()
        held = conn.execute(expand(HELD_BACK_SQL, end - dt.timedelta(days=1), end)).fetchall()
    assert any(r[1] == cid and r[3] == "defer" and r[4] == "directory" for r in rows)
    assert any(r[1] >= 1 for r in held)


def test_a_stream_deferred_for_longer_than_the_bound_is_read_anyway_and_the_run_says_why(pg_dsn, account,
                                                                                         monkeypatch):
    cid, key = account
    monkeypatch.setenv("BIZ_DEFER_MAX_HOURS", "6")
    # The directory's last good read was seven hours ago: the six newer runs failed it (or deferred it).
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE sync_run_streams SET status = 'failed' WHERE connection_id = %s AND stream = 'directory' "
                     "AND run_id = ANY(%s)", (cid, [f"hist-{cid}-{hours}" for hours in range(1, 7)]))
        conn.commit()
    used_today(pg_dsn, key, 850)  # short of budget, as when the directory is deferred
    run_id = start(cid, "timer")
    plan = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})

    assert [s["stream"] for s in plan["streams"]] == ["directory", "boards"]
    action, deferred, *_ = decision(pg_dsn, run_id)
    assert (action, deferred) == ("defer", [])
    assert any("directory read although the budget is short: not synced in the last 6 h (BIZ_DEFER_MAX_HOURS)"
               in note for note in notes(pg_dsn, run_id))


def test_a_deferral_bound_below_an_hour_is_refused_with_the_setting_named(pg_dsn, account, monkeypatch):
    cid, key = account
    monkeypatch.setenv("BIZ_DEFER_MAX_HOURS", "0")
    used_today(pg_dsn, key, 850)
    run_id = start(cid, "timer")
    with pytest.raises(ValueError, match="BIZ_DEFER_MAX_HOURS must be at least 1"):
        plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})


def test_a_scheduled_run_is_skipped_when_the_stretched_schedule_has_no_room_for_it_yet(pg_dsn, account, monkeypatch):
    cid, key = account
    # A timer every second: far more scheduled runs than the 20 calls left can pay for; the last one went seconds ago.
    monkeypatch.setenv(forecast.SCHEDULE_SETTING, "* * * * * *")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE sync_runs SET started_at = now() - interval '5 seconds' WHERE run_id = %s",
                     (f"hist-{cid}-1",))
        conn.commit()
    used_today(pg_dsn, key, 880)
    run_id = start(cid, "timer")
    plan = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})

    assert plan["streams"] == [] and "schedule stretched to one run every" in plan["skipped"]
    assert decision(pg_dsn, run_id)[0] == "skip"
    assert notes(pg_dsn, run_id)[0].startswith("budget planner skipped this scheduled run: ")


def test_a_run_that_would_run_the_budget_out_is_refused_saying_when_it_works_again_and_what_to_change(pg_dsn,
                                                                                                       account):
    cid, key = account
    used_today(pg_dsn, key, 895)
    run_id = start(cid, "http")
    plan = plan_streams({"run_id": run_id, "connection_id": cid, "mode": "incremental"})

    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert plan["streams"] == []
    assert "895 of 900 calls syncs may spend (limit 1,000) are used; this run needs about 10" in plan["refused"]
    assert f"works again after {tomorrow} 00:00 UTC" in plan["refused"]
    assert "raise daily_call_share (now 0.9)" in plan["refused"] and "plan standard: 1,000" in plan["refused"]
    assert decision(pg_dsn, run_id)[0] == "refuse"
    assert notes(pg_dsn, run_id)[0].startswith("budget planner refused this run: ")


def test_on_the_durable_host_a_stretched_schedule_skips_the_connection_and_the_run_says_why(pg_dsn, account, host,
                                                                                           monkeypatch,
                                                                                           landing_container):
    cid, key = account
    monkeypatch.setenv(forecast.SCHEDULE_SETTING, "* * * * * *")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE sync_runs SET started_at = now() - interval '5 seconds' WHERE run_id = %s",
                     (f"hist-{cid}-1",))
        conn.commit()
    used_today(pg_dsn, key, 880)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    instance = host.start_new("sync_all", f"timer-{run_id}",
                              SyncRequest(run_id, cid, "incremental", "timer").to_json())
    status = host.run_until_complete(instance, timeout=120)

    output = status["output"]
    assert output["status"] == "skipped"
    [result] = output["errors"]
    assert result["connection_id"] == cid and result["status"] == "skipped"
    assert "schedule stretched to one run every" in result["error"]
    assert decision(pg_dsn, run_id)[0] == "skip"


def test_on_the_durable_host_a_refused_run_fails_for_the_connection_with_the_planners_message(pg_dsn, account, host,
                                                                                             landing_container):
    cid, key = account
    used_today(pg_dsn, key, 900)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    instance = host.start_new("sync_all", f"manual-{run_id}",
                              SyncRequest(run_id, cid, "incremental", "http").to_json())
    status = host.run_until_complete(instance, timeout=120)

    [result] = status["output"]["errors"]
    assert status["output"]["status"] == "failed" and result["status"] == "failed"
    assert "900 of 900 calls syncs may spend" in result["error"] and "works again after" in result["error"]
