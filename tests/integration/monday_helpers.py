"""Shared pieces of the monday end-to-end tests: a simulator and a connection to it, starting syncs through the
HTTP starter, and the simulator's truth next to the database's view of it."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection
from tests.api_calls import start_sync
from tests.sim_server import serve

TOKEN = "demo-monday-token"
SECRET = "monday-e2e-token"
TABLES = ("monday_workspace", "monday_board", "monday_group", "monday_column", "monday_item", "monday_column_value",
          "monday_user", "monday_team", "monday_tag", "monday_update", "monday_activity_log")


@dataclass
class Sim:
    state: Any
    url: str
    account: Any


def make_state(*, start: str = "2026-05-04T09:00:00Z", **sizes: int) -> Any:
    """A simulator of one generated account whose clock starts at `start` (webhook tests: now, for the receiver
    takes only events of the last hours)."""
    from sandbox.monday import MondayAccount, MondayState, SimClock

    account = MondayAccount.generate(seed=sizes.pop("seed", 7), **sizes)
    return MondayState(accounts=[account], clock=SimClock(start=start), tokens={TOKEN: account.id},
                       plan="standard", copy_accounts=False)


@pytest.fixture
def monday_sim() -> Iterator[Sim]:
    """A small demo account (same generator as the CLI's, fewer boards and items, so the suite stays fast)."""
    from sandbox.monday import create_app

    state = make_state(workspaces=2, boards=4, items_per_board=40, subitems_per_item=2)
    with serve(create_app(state)) as url:
        yield Sim(state, url, state.account())


def add_connection(pg_dsn: str, connection_id: str, url: str, **config: Any) -> str:
    """A monday connection with its own budget key; rows of an earlier test under that id are removed."""
    with psycopg.connect(pg_dsn) as conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (connection_id,))
        for table in ("stream_state", "api_usage", "quarantine"):
            conn.execute(f"DELETE FROM {table} WHERE connection_id = %s", (connection_id,))
        # A connection names only a secret of its own namespace: it holds the token the test put in SECRET (the
        # simulator's, or a revoked one).
        secret = f"conn-{connection_id}-token"
        os.environ[env_name(secret)] = os.environ.get(env_name(SECRET), TOKEN)
        # These tests are about syncing, not the daily cap: with the Standard plan's 1,000 calls the budget planner
        # would project a test's back-to-back runs over the hours left until 00:00 UTC and defer the directory on
        # some hours of the day only. A test about the cap passes its own daily_call_cap.
        settings = {"api_token_secret": secret, "base_url": url, "account_id": f"acct-{uuid.uuid4().hex[:8]}",
                    "retry_base_delay": 0.01, "daily_call_cap": 1_000_000, **config}
        upsert_connection(conn, Connection(connection_id, "monday", "monday e2e", settings))
        conn.commit()
    return connection_id


@pytest.fixture
def monday_connection(monday_sim: Sim, pg_dsn: str, landing_container: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    return add_connection(pg_dsn, "monday-e2e", monday_sim.url, item_page_size=25)


def start(host: Any, connection_id: str, mode: str, **options: int) -> tuple[str, str]:
    body: dict[str, Any] = {"connection_id": connection_id, "mode": mode}
    if options:
        body["options"] = options
    return start_sync(host, body)


def run(host: Any, connection_id: str, mode: str, **options: int) -> tuple[dict[str, Any], dict[str, dict]]:
    """Run a sync to its end: (the orchestration's output, counts per stream)."""
    instance_id, run_id = start(host, connection_id, mode, **options)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    return status["output"], streams_of(run_id)


def sync(host: Any, connection_id: str, mode: str, **options: int) -> dict[str, dict]:
    output, streams = run(host, connection_id, mode, **options)
    assert output["status"] == "succeeded", output
    return streams


def streams_of(run_id: str) -> dict[str, dict]:
    with psycopg.connect(os.environ["BIZ_PG_DSN"]) as conn:
        rows = conn.execute(
            "SELECT stream, fetched, inserted, updated, unchanged, deleted, api_calls, status, throttle_waits, error, "
            "quarantined FROM sync_run_streams WHERE run_id = %s", (run_id,)).fetchall()
    keys = ("fetched", "inserted", "updated", "unchanged", "deleted", "api_calls", "status", "throttle_waits",
            "error", "quarantined")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


# -- the simulator's truth -------------------------------------------------------------------------------------
def _ts(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def synced_boards(account: Any) -> set[str]:
    """Boards whose items a sync reads: every board that is not deleted."""
    return {b.id for b in account.boards.values() if b.state != "deleted"}


def expected_items(account: Any) -> tuple[dict[str, tuple], set[str]]:
    """(live items by id -> what the row must say, ids that must be absent or tombstoned)."""
    boards = synced_boards(account)
    live, gone = {}, set()
    for item in account.items.values():
        if item.board_id not in boards:
            continue
        if item.state == "deleted":
            gone.add(item.id)
        else:
            live[item.id] = (item.board_id, item.group_id, item.parent_id, item.name, item.state,
                             _ts(item.updated_at))
    return live, gone


def database_items(conn: psycopg.Connection, connection_id: str) -> tuple[dict[str, tuple], set[str]]:
    rows = conn.execute(
        "SELECT id, board_id, group_id, parent_item_id, name, state, updated_at, deleted_at IS NOT NULL "
        "FROM monday_item WHERE connection_id = %s", (connection_id,)).fetchall()
    live = {r[0]: tuple(r[1:7]) for r in rows if not r[7]}
    return live, {r[0] for r in rows if r[7]}


def expected_values(account: Any, item_ids: set[str]) -> dict[tuple[str, str], str]:
    """(item, column) -> `text` as monday renders it, for every column value of the given items."""
    from sandbox.monday.column_values import render

    out = {}
    for item_id in item_ids:
        item = account.items[item_id]
        board = account.boards[item.board_id]
        for column in board.columns:
            if column.type != "name" and not column.archived:
                out[(item_id, column.id)] = render(account, board, column, item)["text"]
    return out


def assert_database_equals_simulator(pg_dsn: str, connection_id: str, account: Any) -> None:
    """Boards, groups, columns, items, subitems, column values, people, updates and logs as the simulator has them."""
    live, gone = expected_items(account)
    with psycopg.connect(pg_dsn) as conn:
        loaded, _ = database_items(conn, connection_id)
        assert loaded == live
        assert not (gone & set(loaded))
        values = dict(((r[0], r[1]), r[2]) for r in conn.execute(
            "SELECT v.item_id, v.column_id, v.text FROM monday_column_value v JOIN monday_item i "
            "ON i.connection_id = v.connection_id AND i.id = v.item_id "
            "WHERE v.connection_id = %s AND i.deleted_at IS NULL", (connection_id,)))
        assert values == expected_values(account, set(live))
        # Deleted boards are still answered (state "deleted"): their rows say so.
        boards = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT id, name, state FROM monday_board WHERE connection_id = %s AND deleted_at IS NULL",
            (connection_id,))}
        assert boards == {b.id: (b.name, b.state) for b in account.boards.values()}
        groups = {r[0] for r in conn.execute(
            "SELECT id FROM monday_group WHERE connection_id = %s AND deleted_at IS NULL", (connection_id,))}
        assert groups == {f"{b.id}:{g.id}" for b in account.boards.values() for g in b.groups
                          if not g.archived and not g.deleted}
        columns = {r[0] for r in conn.execute(
            "SELECT id FROM monday_column WHERE connection_id = %s AND deleted_at IS NULL", (connection_id,))}
        assert columns == {f"{b.id}:{c.id}" for b in account.boards.values() for c in b.columns if not c.archived}
        for table, expected in (("monday_user", account.users), ("monday_team", account.teams),
                                ("monday_tag", account.tags), ("monday_workspace", account.workspaces),
                                ("monday_update", account.updates)):
            found = {r[0] for r in conn.execute(
                f"SELECT id FROM {table} WHERE connection_id = %s AND deleted_at IS NULL", (connection_id,))}
            assert found == set(expected), table
        logs = {r[0] for r in conn.execute(
            "SELECT id FROM monday_activity_log WHERE connection_id = %s", (connection_id,))}
        # The log is history: every entry of the boards read now, and those of boards deleted since they were read.
        boards_read = synced_boards(account)
        assert {e.id for board_id, entries in account.activity.items() if board_id in boards_read
                for e in entries} <= logs <= {e.id for entries in account.activity.values() for e in entries}
