"""monday.com metrics end to end: a small demo account synced through the simulator and the local Durable host, then
items completed, reopened, regrouped, archived, deleted and created in the simulator and synced incrementally.
After every sync each monday metric bucket equals a from-scratch rebuild and the pandas oracle, bucketed by the
local date in the connection's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from plugins.registry import metric_catalogs
from shared.metrics import rebuild, refresh_dirty
from tests.integration import monday_helpers
from tests.integration.monday_helpers import Sim, add_connection, expected_items, sync
from tests.metrics.conftest import points
from tests.metrics.oracle import monday_expected_points

CATALOGS = metric_catalogs()

ZONE = "Pacific/Auckland"  # UTC+12/+13: most afternoon (UTC) timestamps fall on the next local day
ITEM_COLUMNS = ("id", "created_at", "done_at", "is_done", "state", "deleted_at", "parent_item_id", "board_id",
                "group_id", "creator_id")
MONDAY = {"monday.items_created", "monday.items_completed", "monday.open_items", "monday.cycle_time",
          "monday.cycle_time_median"}

monday_sim = monday_helpers.monday_sim


@pytest.fixture
def host(tmp_path):
    from devhost import LocalDurableHost
    from function_app import app

    return LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True)


@pytest.fixture
def connection(monday_sim: Sim, pg_dsn: str, cid: str, landing_container: str,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    yield add_connection(pg_dsn, cid, monday_sim.url, item_page_size=25, timezone=ZONE)


def _items(conn: psycopg.Connection, cid: str) -> list[dict]:
    rows = conn.execute(f"SELECT {', '.join(ITEM_COLUMNS)} FROM monday_item WHERE connection_id = %s",
                        (cid,)).fetchall()
    return [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows]


def _check(pg_dsn: str, cid: str, tz: str = ZONE) -> set[tuple]:
    """The stored points equal the oracle over the raw rows, then a from-scratch rebuild (rolled back)."""
    with psycopg.connect(pg_dsn) as conn:
        stored = points(conn, cid)
        assert {p[0] for p in stored} == MONDAY
        expected = monday_expected_points(_items(conn, cid), tz)
        assert stored - expected == set() and expected - stored == set()
        rebuild(conn, cid, CATALOGS)
        assert points(conn, cid) == stored
        conn.rollback()
    return stored


def _top_level(account, board, state="active"):
    return [account.items[i] for i in board.item_ids
            if account.items[i].state == state and account.items[i].parent_id is None]


def test_monday_metrics_follow_incremental_syncs_and_equal_a_rebuild_and_the_oracle(host, monday_sim, connection,
                                                                                   pg_dsn):
    state, account = monday_sim.state, monday_sim.account
    sync(host, connection, "full")
    with psycopg.connect(pg_dsn) as conn:
        items = _items(conn, connection)
        live_top = {i["id"] for i in items if i["deleted_at"] is None and i["parent_item_id"] is None}
        sim_live, _ = expected_items(account)
        assert live_top == {k for k, v in sim_live.items() if v[2] is None}  # the oracle's input is the sim's truth
        assert any(i["parent_item_id"] for i in items) and any(i["is_done"] for i in items)
        # The zone matters for this data: some timestamps fall on another local day than their UTC day.
        assert any(i["created_at"].astimezone(ZoneInfo(ZONE)).date()
                   != i["created_at"].date() for i in items)
        built = dict(conn.execute("SELECT metric, built_at FROM metric_state WHERE connection_id = %s",
                                  (connection,)).fetchall())
    assert set(built) == MONDAY
    first = _check(pg_dsn, connection)
    assert any(p[3] == "group" for p in first) and any(p[0] == "monday.cycle_time_median" for p in first)

    boards = sorted((b for b in account.boards.values() if b.object_type == "board" and b.state == "active"),
                    key=lambda b: int(b.id))
    first_board, second_board = boards[:2]
    done_now, regrouped, with_subitems, archived, deleted = _top_level(account, first_board)[:5]
    reopened = next(account.items[i] for i in second_board.item_ids
                    if account.items[i].parent_id is None and account.items[i].state == "active"
                    and any(x["id"] == i and x["is_done"] for x in items))
    state.change_column_value(done_now.id, "status", "Done")
    state.change_column_value(reopened.id, "status", "Stuck")
    state.move_item_to_group(regrouped.id, next(g.id for g in first_board.groups if g.id != regrouped.group_id))
    state.delete_item(with_subitems.subitem_ids[0])
    state.archive_item(archived.id)
    state.delete_item(deleted.id)
    created = state.create_item(first_board.id, "Created after the first sync", column_values={"status": "Done"})
    state.create_subitem(created.id, "A subitem counts nowhere")

    sync(host, connection, "incremental")
    with psycopg.connect(pg_dsn) as conn:
        rows = {i["id"]: i for i in _items(conn, connection)}
        after = dict(conn.execute("SELECT metric, built_at FROM metric_state WHERE connection_id = %s",
                                  (connection,)).fetchall())
    assert rows[done_now.id]["is_done"] and not rows[reopened.id]["is_done"]
    assert rows[deleted.id]["deleted_at"] is not None and rows[archived.id]["state"] == "archived"
    assert rows[created.id]["is_done"]
    assert after == built  # restated incrementally, not rebuilt
    second = _check(pg_dsn, connection)
    assert second != first

    # A new time zone changes every metric's signature: they are rebuilt in it.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("""UPDATE connections SET config = config || '{"timezone": "UTC"}'::jsonb
                        WHERE connection_id = %s""", (connection,))
        assert refresh_dirty(conn, connection, CATALOGS).rebuilt == len(MONDAY)
        conn.commit()
    in_utc = _check(pg_dsn, connection, "UTC")
    assert in_utc != second
