"""monday misbehaving during a sync: expired cursors, server errors, limits, a board the token may not read, a
version monday does not serve as pinned, a rejected token, an unreadable record."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.integration import monday_helpers
from tests.integration.monday_helpers import (
    TOKEN,
    add_connection,
    assert_database_equals_simulator,
    database_items,
    expected_items,
    run,
    start,
    streams_of,
    sync,
)

# The monday fixtures, shared with the other monday test modules.
monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection
ITEMS = "items:"


def item_streams(streams: dict) -> dict:
    return {name: s for name, s in streams.items() if name.startswith(ITEMS)}


def test_an_expired_cursor_restarts_its_board_and_every_item_is_loaded_once(host, monday_sim, monday_connection,
                                                                             pg_dsn):
    # The simulator's fault strikes the next request that presents a cursor and ages every cursor open at that
    # moment (boards are read in parallel), so one or more boards start over. test_monday_items_chain shows a
    # single board's cursor expiring on the clock while another board's chain goes on.
    monday_sim.state.faults.inject("cursor_expired", count=1)
    streams = item_streams(sync(host, monday_connection, "full"))
    assert monday_sim.state.faults.pending() == []
    assert_database_equals_simulator(pg_dsn, monday_connection, monday_sim.account)
    live, _ = expected_items(monday_sim.account)
    with psycopg.connect(pg_dsn) as conn:
        loaded, _ = database_items(conn, monday_connection)
        rows = conn.execute("SELECT count(*), count(DISTINCT id) FROM monday_item WHERE connection_id = %s",
                            (monday_connection,)).fetchone()
    assert set(loaded) == set(live) and rows[0] == rows[1]
    # A restarted board read part of its items twice: they came back unchanged, nothing was written twice.
    assert any(s["unchanged"] > 0 for s in streams.values())
    assert all(s["updated"] == 0 for s in streams.values())


def test_server_errors_timeouts_limits_and_cut_bodies_still_end_with_the_simulators_truth(
        host, monday_sim, monday_connection, pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || '{\"request_timeout\": 0.5}' "
                     "WHERE connection_id = %s", (monday_connection,))
        conn.commit()
    faults = monday_sim.state.faults
    faults.hang_seconds = 1.5
    for kind in ("500", "error_in_200", "malformed", "timeout"):
        faults.inject(kind, count=1)
    faults.inject("rate_limited", count=1, retry_in_seconds=1)
    faults.inject("complexity_exhausted", count=1, retry_in_seconds=1)
    streams = sync(host, monday_connection, "full")
    assert faults.pending() == []
    assert sum(s["throttle_waits"] for s in streams.values()) >= 2
    assert_database_equals_simulator(pg_dsn, monday_connection, monday_sim.account)


def test_a_board_the_token_may_not_read_fails_its_stream_with_the_reason_and_the_others_load(
        host, monday_sim, monday_connection, pg_dsn, monkeypatch):
    from sandbox.monday import errors as sim_errors
    from sandbox.monday import object_fields

    account = monday_sim.account
    denied = next(b for b in account.boards.values() if b.object_type == "board" and b.state == "active")
    real_items_page = object_fields._items_page

    def items_page(ctx, board, args, group_id):
        # The simulator's unauthorized_board fault strikes the next request that lists the board (phase one's
        # boards stream); this board refuses only its items, as a board shared without item access would.
        if board.id == denied.id:
            raise sim_errors.unauthorized()
        return real_items_page(ctx, board, args, group_id)

    monkeypatch.setattr(object_fields, "_items_page", items_page)
    output, streams = run(host, monday_connection, "full")
    assert output["status"] == "failed"
    failed = streams[ITEMS + denied.id]
    assert failed["status"] == "failed" and "USER_UNAUTHORIZED" in failed["error"]
    assert "share the board" in failed["error"] and f"{ITEMS}{denied.id}" in json.dumps(output)
    others = {n: s for n, s in item_streams(streams).items() if n != ITEMS + denied.id}
    assert others and all(s["status"] == "succeeded" and s["inserted"] > 0 for s in others.values())


def test_a_version_monday_does_not_serve_as_pinned_is_an_error_on_the_run(host, monday_sim, pg_dsn,
                                                                          landing_container, monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    # The day monday retires 2026-07, a request for it is answered by the oldest version still served (2026-10).
    monday_sim.state.retired_versions.add("2026-07")
    connection = add_connection(pg_dsn, "monday-version", monday_sim.url, api_version="2026-07")
    output, streams = run(host, connection, "full")
    assert output["status"] == "failed"
    assert all(s["status"] == "failed" for s in streams.values())
    error = output["errors"][0]["error"]
    assert "monday served API version 2026-10 although the connection pins 2026-07" in error
    assert "Set the connection's api_version to one this plugin supports (2026-07, 2026-10)" in error


def test_a_rejected_token_fails_with_an_actionable_error_that_never_shows_the_token(host, monday_sim, pg_dsn,
                                                                                   landing_container, monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", "revoked-token-4711")
    connection = add_connection(pg_dsn, "monday-revoked", monday_sim.url)
    instance_id, run_id = start(host, connection, "full")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["output"]["status"] == "failed"
    assert "refused the API token" in json.dumps(status["output"])
    everything = json.dumps([status, host.history(instance_id), streams_of(run_id)], default=str)
    assert "revoked-token-4711" not in everything and TOKEN not in everything


def test_an_unreadable_item_is_quarantined_with_its_reason_and_the_rest_of_its_page_loads(
        host, monday_sim, monday_connection, pg_dsn):
    account = monday_sim.account
    board = next(b for b in account.boards.values() if b.object_type == "board" and b.state == "active")
    broken = next(account.items[i] for i in board.item_ids if account.items[i].state == "active")
    broken.created_at = "the day before yesterday"  # monday's Date scalar passes it through; the plugin cannot
    streams = sync(host, monday_connection, "full")
    assert streams[ITEMS + board.id]["quarantined"] == 1
    with psycopg.connect(pg_dsn) as conn:
        record_id, reason = conn.execute(
            "SELECT record_id, reason FROM quarantine WHERE connection_id = %s", (monday_connection,)).fetchone()
        loaded, _ = database_items(conn, monday_connection)
    assert record_id == broken.id and "the day before yesterday" in reason
    live, _ = expected_items(account)
    assert set(loaded) == set(live) - {broken.id}


@pytest.mark.parametrize("mode", ["full"])
def test_every_call_is_counted_for_the_day_and_the_month(host, monday_sim, monday_connection, pg_dsn, mode):
    streams = sync(host, monday_connection, mode)
    with psycopg.connect(pg_dsn) as conn:
        key = conn.execute("SELECT config->>'account_id' FROM connections WHERE connection_id = %s",
                           (monday_connection,)).fetchone()[0]
        (daily,) = conn.execute("SELECT calls FROM monday_api_calls_daily WHERE account_key = %s", (key,)).fetchone()
        (monthly,) = conn.execute("SELECT calls FROM api_usage WHERE connection_id = %s",
                                  (monday_connection,)).fetchone()
    served = monday_sim.state.calls_today()
    assert daily == monthly == served == sum(s["api_calls"] for s in streams.values())


def test_the_daily_call_cap_stops_the_sync_before_monday_has_to_refuse_a_call(host, monday_sim, pg_dsn,
                                                                              landing_container, monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    board = next(b for b in monday_sim.account.boards.values() if b.object_type == "board" and b.state == "active")
    # Three calls a day: the first phase (the directory, and the boards in two pages) takes them all, the updates
    # and the board's streams beside them must wait for tomorrow.
    connection = add_connection(pg_dsn, "monday-capped", monday_sim.url, boards=[board.id], daily_call_cap=3,
                                daily_call_share=1.0)
    output, streams = run(host, connection, "full")
    assert output["status"] == "failed"
    assert streams["directory"]["api_calls"] + streams["boards"]["api_calls"] == 3
    board_streams = item_streams(streams)
    assert set(board_streams) == {ITEMS + board.id, ITEMS + board.subitems_board_id}
    for stream in [*board_streams.values(), streams["updates"]]:
        assert stream["status"] == "failed" and stream["api_calls"] == 0 and stream["throttle_waits"] > 1
        assert "daily call cap is used up (3 of 3 calls); syncing resumes after 00:00 UTC" in stream["error"]
    stats = monday_sim.state.stats()
    assert stats["calls_today"] == 3 and stats["refused"] == 0 and "429" not in stats["by_status"]
