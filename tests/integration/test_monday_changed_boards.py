"""A monday run a webhook asked for ("board:<id>" hints), end to end on the local Durable host against the
simulator: it reads only the named board (and its subitems board), finds that board's creates, updates, archives
and deletes as a scheduled incremental run would, and leaves every other stream's watermark where it was."""

from __future__ import annotations

import uuid

import psycopg

from shared.core.messages import SyncRequest
from tests.integration import monday_helpers
from tests.integration.monday_helpers import (
    assert_database_equals_simulator,
    database_items,
    expected_items,
    streams_of,
    sync,
)

monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection
ITEMS = "items:"


def _watermarks(pg_dsn: str, connection_id: str) -> dict[str, dict]:
    with psycopg.connect(pg_dsn) as conn:
        return dict(conn.execute("SELECT stream, watermark FROM stream_state WHERE connection_id = %s",
                                 (connection_id,)).fetchall())


def _notified_sync(host, connection_id: str, changed: list[str]) -> tuple[str, dict[str, dict]]:
    """What the change-queue consumer starts: sync_all for one connection, incremental, with the hints; (run id,
    its streams)."""
    run_id = f"run-{uuid.uuid4().hex[:16]}"
    instance_id = host.start_new("sync_all", f"hooked-{run_id}", SyncRequest(
        run_id, connection_id, "incremental", "webhook", {}, changed=changed).to_json())
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed" and status["output"]["status"] == "succeeded", status
    return run_id, streams_of(run_id)


def _board_items(items: dict[str, tuple], boards: set[str]) -> dict[str, tuple]:
    return {item_id: row for item_id, row in items.items() if row[0] in boards}


def test_a_board_hint_syncs_that_boards_creates_updates_archives_and_deletes_and_moves_no_other_watermark(
        host, monday_sim, monday_connection, pg_dsn):
    state, account = monday_sim.state, monday_sim.account
    sync(host, monday_connection, "full")
    boards = sorted((b for b in account.boards.values() if b.object_type == "board" and b.state == "active"),
                    key=lambda b: int(b.id))
    hinted, quiet = boards[:2]
    items = [account.items[i] for i in hinted.item_ids
             if account.items[i].state == "active" and account.items[i].parent_id is None]
    changed_item, archived, deleted, with_subitems = items[:4]
    state.change_column_value(changed_item.id, "numbers", 4321.5)
    state.rename_item(changed_item.id, "Renamed before the webhook")
    state.archive_item(archived.id)
    state.delete_item(deleted.id)
    state.delete_item(with_subitems.subitem_ids[0])
    created = state.create_item(hinted.id, "Created before the webhook", column_values={"status": "Stuck"})
    quiet_item = next(account.items[i] for i in quiet.item_ids if account.items[i].state == "active")
    state.rename_item(quiet_item.id, "Changed on a board nobody named")
    before = _watermarks(pg_dsn, monday_connection)

    _, streams = _notified_sync(host, monday_connection, [f"board:{hinted.id}"])

    assert set(streams) == {ITEMS + hinted.id, ITEMS + hinted.subitems_board_id}
    named = {hinted.id, hinted.subitems_board_id}
    expected_live, expected_gone = expected_items(account)
    with psycopg.connect(pg_dsn) as conn:
        loaded, tombstoned = database_items(conn, monday_connection)
    assert _board_items(loaded, named) == _board_items(expected_live, named)
    assert {deleted.id, with_subitems.subitem_ids[0]} <= tombstoned and created.id in loaded
    assert loaded[archived.id][4] == "archived"
    # The board nobody named is as the first sync left it, and so is every watermark but the named boards'.
    assert loaded[quiet_item.id][3] != "Changed on a board nobody named"
    after = _watermarks(pg_dsn, monday_connection)
    assert {s: m for s, m in after.items() if s.removeprefix(ITEMS) not in named} == {
        s: m for s, m in before.items() if s.removeprefix(ITEMS) not in named}
    assert after[ITEMS + hinted.id] != before[ITEMS + hinted.id]
    assert not (expected_gone & set(_board_items(loaded, named)))

    # The next scheduled run brings the rest, and everything equals the simulator.
    sync(host, monday_connection, "incremental")
    assert_database_equals_simulator(pg_dsn, monday_connection, account)


def test_a_hint_for_a_board_created_since_the_last_sync_runs_the_normal_incremental_sync(host, monday_sim,
                                                                                          monday_connection, pg_dsn):
    sync(host, monday_connection, "full")
    run_id, streams = _notified_sync(host, monday_connection, ["board:999999999"])
    assert {"directory", "boards", "updates"} <= set(streams)
    with psycopg.connect(pg_dsn) as conn:
        notes = [n["note"] for n in conn.execute("SELECT notes FROM sync_runs WHERE run_id = %s",
                                                 (run_id,)).fetchone()[0]]
    assert any("board 999999999 is not loaded yet" in note for note in notes), notes
    assert_database_equals_simulator(pg_dsn, monday_connection, monday_sim.account)
