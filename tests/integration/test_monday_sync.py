"""monday end to end: HTTP starter -> local Durable host (real SDK replay) -> monday simulator -> Azurite ->
PostgreSQL, compared with the simulator's own records."""

from __future__ import annotations

import psycopg

from tests.integration import monday_helpers
from tests.integration.monday_helpers import (
    assert_database_equals_simulator,
    sync,
)

# The monday fixtures, shared with the other monday test modules.
monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection
ITEMS = "items:"


def main_boards(account, state="active"):
    return sorted((b for b in account.boards.values() if b.object_type == "board" and b.state == state),
                  key=lambda b: int(b.id))


def active_items(account, board, *, top_level=True):
    return [account.items[i] for i in board.item_ids
            if account.items[i].state == "active" and (account.items[i].parent_id is None) == top_level]


def test_full_sync_loads_the_demo_account_as_the_simulator_has_it(host, monday_sim, monday_connection, pg_dsn):
    streams = sync(host, monday_connection, "full")
    account = monday_sim.account
    assert_database_equals_simulator(pg_dsn, monday_connection, account)
    assert all(s["status"] == "succeeded" and s["quarantined"] == 0 for s in streams.values()), streams
    readable = {b.id for b in account.boards.values() if b.state != "deleted"}
    assert {s.removeprefix(ITEMS) for s in streams if s.startswith(ITEMS)} == readable
    with psycopg.connect(pg_dsn) as conn:
        archived = conn.execute("SELECT count(*) FROM monday_item WHERE connection_id = %s AND state = 'archived' "
                                "AND deleted_at IS NULL", (monday_connection,)).fetchone()[0]
        subitems = conn.execute("SELECT count(*) FROM monday_item WHERE connection_id = %s AND parent_item_id "
                                "IS NOT NULL AND deleted_at IS NULL", (monday_connection,)).fetchone()[0]
    assert archived > 0 and subitems > 0  # archived ones are found through the activity log
    again = sync(host, monday_connection, "full")
    assert all(s["inserted"] == s["updated"] == s["deleted"] == 0 for s in again.values()), again


def test_changes_moves_archives_and_deletes_reach_the_database_incrementally(host, monday_sim, monday_connection,
                                                                             pg_dsn):
    state, account = monday_sim.state, monday_sim.account
    sync(host, monday_connection, "full")
    first, second = main_boards(account)[:2]
    done_item, renamed, regrouped, moved, with_subitems = active_items(account, first)[:5]
    archived, deleted = active_items(account, second)[:2]
    state.change_column_value(done_item.id, "status", "Done")
    state.change_column_value(done_item.id, "numbers", 1234.5)
    state.rename_item(renamed.id, "Renamed by the incremental test")
    other_group = next(g.id for g in first.groups if g.id != regrouped.group_id)
    state.move_item_to_group(regrouped.id, other_group)
    state.move_item_to_board(moved.id, second.id)
    state.delete_item(with_subitems.subitem_ids[0])
    state.archive_item(archived.id)
    state.delete_item(deleted.id)
    created = state.create_item(first.id, "Created after the first sync", column_values={"status": "Stuck"})
    child = state.create_subitem(created.id, "Its first subitem")
    doomed = main_boards(account, "archived")[0]
    readable = {b.id for b in account.boards.values() if b.state != "deleted"} - {doomed.id}
    was_archived = next(i for i in account.items.values()
                        if i.state == "archived" and i.parent_id is None and i.board_id in readable)
    state.restore_item(was_archived.id)
    state.delete_board(doomed.id)
    state.add_update(created.id, "An update written after the first sync")

    streams = sync(host, monday_connection, "incremental")
    assert_database_equals_simulator(pg_dsn, monday_connection, account)
    touched = {first.id, second.id, first.subitems_board_id, second.subitems_board_id, was_archived.board_id,
               account.boards[was_archived.board_id].subitems_board_id, doomed.id, doomed.subitems_board_id}
    assert {s.removeprefix(ITEMS) for s in streams if s.startswith(ITEMS)} == touched  # quiet boards are skipped
    read = [s for name, s in streams.items()
            if name.startswith(ITEMS) and name.removeprefix(ITEMS) not in (doomed.id, doomed.subitems_board_id)]
    assert sum(s["fetched"] for s in read) < 60  # what changed (and its log), not the boards again
    # The deleted board and its subitems board cost no call: their loaded items became tombstones.
    assert streams[ITEMS + doomed.id]["api_calls"] == 0 and streams[ITEMS + doomed.id]["deleted"] > 0
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT status_label, is_done, done_at FROM monday_item "
                           "WHERE connection_id = %s AND id = %s", (monday_connection, done_item.id)).fetchone()
        number = conn.execute("SELECT number FROM monday_column_value WHERE connection_id = %s AND item_id = %s "
                              "AND column_id = 'numbers'", (monday_connection, done_item.id)).fetchone()[0]
        completion = conn.execute("SELECT done_at FROM monday_item_completion "
                                  "WHERE connection_id = %s AND item_id = %s",
                                  (monday_connection, done_item.id)).fetchone()[0]
        tombstones = {r[0] for r in conn.execute(
            "SELECT id FROM monday_item WHERE connection_id = %s AND deleted_at IS NOT NULL", (monday_connection,))}
        parent = conn.execute("SELECT parent_item_id FROM monday_item WHERE connection_id = %s AND id = %s",
                              (monday_connection, child.id)).fetchone()[0]
    assert row[0] == "Done" and row[1] is True and row[2] == done_item.changed_at["status"]
    assert completion == done_item.changed_at["status"] and float(number) == 1234.5
    assert {deleted.id, with_subitems.subitem_ids[0], *deleted.subitem_ids} <= tombstones
    assert set(doomed.item_ids) <= tombstones  # a deleted board's items can no longer be read
    assert parent == created.id

    again = sync(host, monday_connection, "incremental")
    assert not [s for s in again if s.startswith(ITEMS)]  # nothing changed: no board is read
