"""A failed stream stops only what depends on it: the directory (users, workspaces, teams, tags) or the updates
(read beside the items) failing leaves every board's items synced; the boards stream failing leaves the items
unread, and the run names each board it did not sync, while the updates are still read. Either way the run says
what was not synced and why."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.integration import monday_helpers
from tests.integration.monday_helpers import (
    database_items,
    expected_items,
    start,
    streams_of,
    sync,
    synced_boards,
)

monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection
pytestmark = pytest.mark.integration
ITEMS = "items:"


def _run(host: Any, connection: str, pg_dsn: str) -> tuple[dict[str, Any], dict[str, dict], list[str]]:
    """(the connection's output, the run's streams, the run's notes)."""
    instance_id, run_id = start(host, connection, "full")
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    with psycopg.connect(pg_dsn) as conn:
        (notes,) = conn.execute("SELECT notes FROM sync_runs WHERE run_id = %s", (run_id,)).fetchone()
    return status["output"], streams_of(run_id), [n["note"] for n in notes]


def test_a_failing_users_read_fails_the_directory_and_every_boards_items_still_sync(host, monday_sim,
                                                                                    monday_connection, pg_dsn):
    # As for a token without the users:read scope: every users() request is refused.
    monday_sim.state.faults.inject("unauthorized_field", count=50, field="users")
    output, streams, notes = _run(host, monday_connection, pg_dsn)
    account = monday_sim.account
    assert output["status"] == "failed"
    assert streams["directory"]["status"] == "failed" and "USER_UNAUTHORIZED" in streams["directory"]["error"]
    assert "directory:" in output["errors"][0]["error"]
    items = {name: s for name, s in streams.items() if name.startswith(ITEMS)}
    assert {name.removeprefix(ITEMS) for name in items} == synced_boards(account)
    assert all(s["status"] == "succeeded" for s in items.values())
    assert streams["boards"]["status"] == streams["updates"]["status"] == "succeeded"
    with psycopg.connect(pg_dsn) as conn:
        loaded, _ = database_items(conn, monday_connection)
        users = conn.execute("SELECT count(*) FROM monday_user WHERE connection_id = %s",
                             (monday_connection,)).fetchone()[0]
    assert loaded == expected_items(account)[0] and users == 0
    [note] = [n for n in notes if "directory" in n]
    assert note.startswith("workspaces, users, teams and tags not synced: the directory stream failed (")
    assert "USER_UNAUTHORIZED" in note or "unauthorized" in note.lower()


def test_a_failing_boards_stream_leaves_the_items_unread_and_names_every_board_it_skipped(host, monday_sim,
                                                                                         monday_connection, pg_dsn):
    sync(host, monday_connection, "full")
    monday_sim.state.faults.inject("unauthorized_field", count=50, field="boards")
    output, streams, notes = _run(host, monday_connection, pg_dsn)
    assert output["status"] == "failed" and streams["boards"]["status"] == "failed"
    assert not [name for name in streams if name.startswith(ITEMS)]
    # The streams that do not depend on the boards still ran, the updates in the items' phase.
    assert streams["directory"]["status"] == streams["updates"]["status"] == "succeeded"
    skipped = " ".join(n for n in notes if "boards stream failed" in n)
    boards = synced_boards(monday_sim.account)
    assert f"items of {len(boards)} boards not synced: the boards stream failed (" in skipped
    assert all(board_id in skipped for board_id in boards)


def test_a_failing_updates_stream_beside_the_items_leaves_every_boards_items_synced_and_the_run_says_so(
        host, monday_sim, monday_connection, pg_dsn):
    monday_sim.state.faults.inject("unauthorized_field", count=50, field="updates")
    output, streams, notes = _run(host, monday_connection, pg_dsn)
    account = monday_sim.account
    assert output["status"] == "failed"
    assert streams["updates"]["status"] == "failed" and "USER_UNAUTHORIZED" in streams["updates"]["error"]
    items = {name: s for name, s in streams.items() if name.startswith(ITEMS)}
    assert {name.removeprefix(ITEMS) for name in items} == synced_boards(account)
    assert all(s["status"] == "succeeded" for s in items.values())
    assert streams["directory"]["status"] == streams["boards"]["status"] == "succeeded"
    with psycopg.connect(pg_dsn) as conn:
        loaded, _ = database_items(conn, monday_connection)
        updates = conn.execute("SELECT count(*) FROM monday_update WHERE connection_id = %s",
                               (monday_connection,)).fetchone()[0]
    assert loaded == expected_items(account)[0] and updates == 0
    # The updates ran in the items' phase: the phase after it, which reads nothing, says what they left out.
    [note] = [n for n in notes if "updates" in n]
    assert note.startswith("updates not synced: the updates stream failed (") and "USER_UNAUTHORIZED" in note
