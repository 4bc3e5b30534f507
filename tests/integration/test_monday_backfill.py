"""A monday backfill end to end: every board's items updated since the date are read again (a stale row since then
is corrected, an older one is not read), with no account-wide stream, no log and no watermark written, and the next
incremental run goes on from each board's own watermark."""

from __future__ import annotations

import datetime as dt

import psycopg

from tests.api_calls import start_sync
from tests.integration import monday_helpers
from tests.integration.monday_helpers import assert_database_equals_simulator, streams_of, sync

monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection
OVERLAP = dt.timedelta(hours=1)  # the item filter's overlap (items.updated_rule), the same as an incremental run's


def watermarks(pg_dsn: str, connection_id: str) -> dict:
    with psycopg.connect(pg_dsn) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT stream, watermark, last_run_id FROM stream_state WHERE connection_id = %s", (connection_id,))}


def stale(pg_dsn: str, connection_id: str, item_id: str) -> None:
    """An older version of the item's row that says something else: what a lost change leaves behind."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE monday_item SET name = 'stale', updated_at = updated_at - interval '1 second', "
                     "payload = jsonb_set(payload, '{record,name}', '\"stale\"') "
                     "WHERE connection_id = %s AND id = %s", (connection_id, item_id))


def name_of(pg_dsn: str, connection_id: str, item_id: str) -> str:
    with psycopg.connect(pg_dsn) as conn:
        return conn.execute("SELECT name FROM monday_item WHERE connection_id = %s AND id = %s",
                            (connection_id, item_id)).fetchone()[0]


def test_a_backfill_rereads_the_items_updated_since_the_date_on_every_board_and_moves_no_watermark(
        host, monday_sim, monday_connection, pg_dsn):
    account = monday_sim.account
    sync(host, monday_connection, "full")
    live = sorted((i for i in account.items.values() if i.state == "active"
                   and account.boards[i.board_id].state != "deleted"), key=lambda i: i.updated_at)
    day = live[len(live) * 3 // 4].updated_at.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    floor = dt.datetime.combine(day, dt.time(), dt.UTC) - OVERLAP
    expected = {i.id for i in live if i.updated_at >= floor}
    recent, older = next(i.id for i in live if i.updated_at >= floor), live[0].id
    stale(pg_dsn, monday_connection, recent)
    stale(pg_dsn, monday_connection, older)
    marks = watermarks(pg_dsn, monday_connection)

    instance_id, run_id = start_sync(host, {"connection_id": monday_connection, "mode": "backfill",
                                            "since": day.isoformat()})
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
    streams = streams_of(run_id)

    # Item streams only, one per board that is not deleted; exactly the items updated since the date came back.
    boards = {b.id for b in account.boards.values() if b.state != "deleted"}
    assert set(streams) == {f"items:{b}" for b in boards}
    assert 0 < len(expected) < len(live)
    assert sum(s["fetched"] for s in streams.values()) == len(expected)
    assert sum(s["updated"] for s in streams.values()) == 1 and sum(s["deleted"] for s in streams.values()) == 0
    assert name_of(pg_dsn, monday_connection, recent) == account.items[recent].name  # corrected
    assert name_of(pg_dsn, monday_connection, older) == "stale"  # not read
    assert watermarks(pg_dsn, monday_connection) == marks

    # The next incremental run continues from the boards' own watermarks and brings the rest back in line.
    monday_sim.state.clock.advance(2 * 3600)
    monday_sim.state.rename_item(older, "renamed after the backfill")
    after = sync(host, monday_connection, "incremental")
    assert sum(s["updated"] for s in after.values()) >= 1
    assert name_of(pg_dsn, monday_connection, older) == "renamed after the backfill"
    assert_database_equals_simulator(pg_dsn, monday_connection, account)
