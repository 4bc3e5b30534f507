"""The monday plugin's storage in PostgreSQL: the daily call cap stays exact however many workers reserve at
once, and a fetch counts every call over the one connection its activity lends the plugin, never a new
connection per call."""

from __future__ import annotations

import asyncio
import threading
import uuid

import psycopg
import pytest

from activities.fetch import fetch_pages
from plugins.monday.items import start_cursor
from plugins.monday.storage import MondayStorage
from shared.db import pool as pools
from tests.integration import monday_helpers
from tests.integration.monday_helpers import add_connection

monday_sim = monday_helpers.monday_sim
monday_connection = monday_helpers.monday_connection


def test_the_daily_cap_is_exact_when_many_workers_reserve_at_once(pg_dsn):
    account, cap, workers, tries = f"acct-{uuid.uuid4().hex[:8]}", 25, 8, 10
    granted: list[int] = []
    refused: list[None] = []
    start = threading.Barrier(workers)

    def worker() -> None:
        # Each worker is another activity (another process in production): a connection of its own.
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            store = MondayStorage(conn)
            start.wait()
            for _ in range(tries):
                count = store.reserve_call(account, cap)
                (refused if count is None else granted).append(count)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted) == list(range(1, cap + 1))  # every count handed out once, none past the cap
    assert len(refused) == workers * tries - cap
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert MondayStorage(conn).calls_today(account) == cap


def test_a_refusal_monday_sends_anyway_uses_up_the_day_for_every_worker(pg_dsn):
    account = f"acct-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as first, psycopg.connect(pg_dsn, autocommit=True) as second:
        assert MondayStorage(first).reserve_call(account, 900) == 1
        MondayStorage(first).mark_exhausted(account, 900)
        assert MondayStorage(second).reserve_call(account, 900) is None
        assert MondayStorage(second).calls_today(account) == 900


def test_a_reservation_inside_an_open_transaction_is_refused(pg_dsn):
    # It would hold the day's row lock, stalling every other worker of the account, until that transaction ends.
    with psycopg.connect(pg_dsn) as conn, pytest.raises(RuntimeError, match="autocommit"):
        MondayStorage(conn).reserve_call(f"acct-{uuid.uuid4().hex[:8]}", 900)


def test_a_fetch_counts_every_call_over_the_one_connection_its_activity_lends(monday_sim, pg_dsn, landing_container,
                                                                              monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    connection_id = add_connection(pg_dsn, "monday-one-conn", monday_sim.url, item_page_size=5)
    board = next(b for b in monday_sim.account.boards.values() if b.object_type == "board" and b.state == "active")
    opened: list[str] = []
    real_connect = psycopg.connect

    def counting_connect(*args, **kwargs):
        opened.append(repr(args or kwargs.get("conninfo")))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting_connect)
    monkeypatch.setattr(pools, "_lenders", {})  # no idle connection another activity could lend this fetch
    cursor = start_cursor(board.id, since=None, logs_from=None, status=None, columns=None, board_updated_at=None)
    result = asyncio.run(fetch_pages({"run_id": f"run-{uuid.uuid4().hex[:8]}", "connection_id": connection_id,
                                      "stream": f"items:{board.id}", "cursor": cursor, "max_pages": 6}))
    monkeypatch.setattr(psycopg, "connect", real_connect)
    assert len(result["pages"]) == 6  # one call a page: the daily count below must say 6 too
    # One for the whole fetch (the connection's settings, the plugin's storage, the call counts): not one per call.
    assert len(opened) == 1
    with psycopg.connect(pg_dsn) as conn:
        key = conn.execute("SELECT config->>'account_id' FROM connections WHERE connection_id = %s",
                           (connection_id,)).fetchone()[0]
        assert MondayStorage(conn).calls_today(key) == 6
