"""Pending changes in PostgreSQL (shared/db/pending_changes.py): who drives a connection is decided under its row lock,
so a notice racing the driver's release is either seen by that driver or starts the next one."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import psycopg
import pytest

from shared.changes.notice import ChangeNotice
from shared.db import pending_changes
from shared.db.connections import Connection, upsert_connection

CID = "pending-test"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def connection(pg_dsn) -> Iterator[str]:
    with psycopg.connect(pg_dsn) as conn:
        upsert_connection(conn, Connection(CID, "quickbooks", "Pending test", {"realm_id": "1"}))
        conn.execute("DELETE FROM pending_changes WHERE connection_id = %s", (CID,))
        conn.commit()
    yield CID
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM connections WHERE connection_id = %s", (CID,))
        conn.commit()


def notice(*changed: str) -> ChangeNotice:
    return ChangeNotice(CID, "quickbooks", "evt", NOW.isoformat(), list(changed))


def note(dsn: str, *changed: str, at: dt.datetime = NOW) -> pending_changes.Noted:
    with psycopg.connect(dsn) as conn, conn.transaction():
        return pending_changes.note(conn, notice(*changed), at)


def test_the_first_notice_makes_a_driver_and_later_ones_join_its_pending_hints(pg_dsn, connection):
    first = note(pg_dsn, "Invoice")
    second = note(pg_dsn, "Customer", "Invoice", at=NOW + dt.timedelta(seconds=5))
    assert first.start == first.driver == f"changes-{CID}-1"
    assert second.start is None and second.driver == first.driver
    with psycopg.connect(pg_dsn) as conn:
        waiting = pending_changes.pending(conn, CID)
    assert (waiting.events, waiting.changed, waiting.hints()) == (2, ["Customer", "Invoice"], ["Customer", "Invoice"])
    assert (waiting.first_event_at, waiting.last_event_at) == (NOW, NOW + dt.timedelta(seconds=5))


def test_a_notice_without_hints_or_too_many_hints_asks_for_every_stream(pg_dsn, connection):
    note(pg_dsn, "Invoice")
    note(pg_dsn)
    note(pg_dsn, "Customer")
    with psycopg.connect(pg_dsn) as conn:
        assert pending_changes.take(conn, CID).hints() == []  # "everything" stays until claimed
        conn.commit()
    note(pg_dsn, *(f"board-{i}" for i in range(pending_changes.MAX_HINTS + 1)))
    with psycopg.connect(pg_dsn) as conn:
        waiting = pending_changes.pending(conn, CID)
    assert waiting.everything and waiting.hints() == []


def test_release_lets_go_only_when_nothing_is_pending_and_only_for_the_driver(pg_dsn, connection):
    driver = note(pg_dsn, "Invoice").driver
    with psycopg.connect(pg_dsn) as conn:
        assert not pending_changes.release(conn, CID, driver)  # a notice waits: a follow-up is due
        pending_changes.take(conn, CID)
        assert not pending_changes.release(conn, CID, "changes-someone-else-9")
        assert pending_changes.release(conn, CID, driver)
        conn.commit()
    assert note(pg_dsn, "Invoice").start == f"changes-{CID}-2"  # the next notice starts the next driver


def test_a_notice_racing_the_release_is_seen_by_the_driver_when_it_locks_the_row_first(pg_dsn, connection):
    driver = note(pg_dsn, "Invoice").driver
    with psycopg.connect(pg_dsn) as conn:
        pending_changes.take(conn, CID)
        conn.commit()
    racing = psycopg.connect(pg_dsn)
    with racing.transaction():
        noted = pending_changes.note(racing, notice("Customer"), NOW)  # holds the row until it commits
        released: list[bool] = []
        releaser = threading.Thread(target=lambda: released.append(_release(pg_dsn, driver)))
        releaser.start()
        releaser.join(timeout=1)
        assert releaser.is_alive()  # the release waits for the notice's transaction
    releaser.join(timeout=10)
    racing.close()
    assert noted.start is None and released == [False]  # the driver goes on: a follow-up run for the notice


def test_a_notice_racing_the_release_starts_the_next_driver_when_the_release_locks_the_row_first(
        pg_dsn, connection):
    driver = note(pg_dsn, "Invoice").driver
    with psycopg.connect(pg_dsn) as conn:
        pending_changes.take(conn, CID)
        conn.commit()
    releasing = psycopg.connect(pg_dsn)
    with releasing.transaction():
        assert pending_changes.release(releasing, CID, driver)
        noted: list[pending_changes.Noted] = []
        noter = threading.Thread(target=lambda: noted.append(note(pg_dsn, "Customer")))
        noter.start()
        noter.join(timeout=1)
        assert noter.is_alive()  # the notice waits for the release's transaction
    noter.join(timeout=10)
    releasing.close()
    assert noted[0].start == f"changes-{CID}-2"  # nobody drove it any more: this notice starts a driver


def test_a_dead_driver_is_replaced_once(pg_dsn, connection):
    dead = note(pg_dsn, "Invoice").driver
    with psycopg.connect(pg_dsn) as conn:
        replacement = pending_changes.replace_driver(conn, CID, dead)
        assert pending_changes.replace_driver(conn, CID, dead) is None  # a second notice finds it replaced
        conn.commit()
    assert replacement == f"changes-{CID}-2"
    with psycopg.connect(pg_dsn) as conn:
        assert pending_changes.pending(conn, CID).events == 1  # its notices wait for the replacement


def _release(dsn: str, driver: str) -> bool:
    with psycopg.connect(dsn) as conn, conn.transaction():
        return pending_changes.release(conn, CID, driver)
