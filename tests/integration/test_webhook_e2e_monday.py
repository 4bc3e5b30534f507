"""monday.com end to end on the local stack: the monday simulator's signed JWT webhook (a board change) reaches
`make api`'s route (devhost.api_server), which verifies it and queues a notice on Azurite; the queue trigger starts
the debounced webhook run, which syncs only that board (and its subitems board), and the changed item lands in
PostgreSQL. A delivery signed with a wrong signing secret is refused (401) and starts nothing.

The server reads and writes a change queue of the test's own (tests/integration/webhook_e2e.py).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.integration.monday_helpers import TOKEN, Sim, add_connection, expected_values, make_state, streams_of
from tests.integration.webhook_e2e import (
    api_server,
    call,
    change_queue,
    change_queue_client,
    db_now,
    driving,
    settled,
    until,
    wait_for_run,
    webhook_runs,
)
from tests.sim_server import serve

pytestmark = pytest.mark.integration
SIGNING_SECRET = "signing-secret-of-the-monday-e2e-test-0123456789"
CONNECTION = "monday-hook-e2e"
__all__ = ["change_queue"]  # a fixture the tests here use


@pytest.fixture
def live_monday_sim() -> Iterator[Sim]:
    """The small demo account, its clock at the real time: the route takes only events of the last hours."""
    from sandbox.monday import create_app

    start = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    state = make_state(start=start, workspaces=2, boards=4, items_per_board=40, subitems_per_item=2)
    with serve(create_app(state)) as url:
        yield Sim(state, url, state.account())


@pytest.fixture
def server(live_monday_sim, pg_dsn, landing_container, tmp_path, change_queue,
           monkeypatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    # The JWT names the simulator's account: the connection's account_id must be that one.
    add_connection(pg_dsn, CONNECTION, live_monday_sim.url, item_page_size=25,
                   account_id=str(live_monday_sim.account.id))
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM pending_changes WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    with api_server(tmp_path, change_queue, SECRET_MONDAY_SIGNING_SECRET=SIGNING_SECRET,
                    BIZ_CHANGE_DEBOUNCE_SECONDS="1", BIZ_CHANGE_MAX_WAIT_SECONDS="5") as started:
        yield started


def _stored_values(pg_dsn: str, item_id: str) -> dict[tuple[str, str], str]:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT item_id, column_id, text FROM monday_column_value WHERE connection_id = %s "
                            "AND item_id = %s", (CONNECTION, item_id)).fetchall()
    return {(row[0], row[1]): row[2] for row in rows}


def _number_column(board) -> str:
    return next(c.id for c in board.columns if c.type == "numbers" and not c.archived)


def test_a_signed_board_webhook_syncs_only_that_board_and_a_wrongly_signed_one_starts_nothing(
        server, live_monday_sim, pg_dsn, change_queue):
    base, key = server
    state, account = live_monday_sim.state, live_monday_sim.account
    status, body = call(f"{base}/api/syncs", key, "POST", {"connection_id": CONNECTION, "mode": "full"})
    assert status == 202, body
    assert wait_for_run(base, key, body["run_id"])["status"] == "succeeded"

    board = min((b for b in account.boards.values() if b.object_type == "board" and b.state == "active"),
                key=lambda b: int(b.id))
    item = next(account.items[i] for i in board.item_ids
                if account.items[i].state == "active" and account.items[i].parent_id is None)
    column = _number_column(board)
    # monday's create_webhook: the route answers the challenge (the subscription fails otherwise).
    state.create_webhook(board.id, f"{base}/api/webhooks/monday/{CONNECTION}", "change_column_value",
                         signing_secret=SIGNING_SECRET)
    outbox = state.webhooks.outbox
    outbox.clear_log()
    since = db_now(pg_dsn)

    state.change_column_value(item.id, column, 4321.5)
    assert outbox.flush(10)
    assert [a.status for a in outbox.attempts()] == [200]
    runs = until(lambda: settled(pg_dsn, CONNECTION, since), timeout=120)
    assert runs and all(run["status"] == "succeeded" for run in runs), runs
    expected = expected_values(account, {item.id})
    assert expected[(item.id, column)] and _stored_values(pg_dsn, item.id) == expected
    # Only the board the webhook named was read, with its subitems board.
    assert {stream for run in runs for stream in streams_of(run["run_id"])} == {
        f"items:{board.id}", f"items:{board.subitems_board_id}"}

    # Signed with another secret: refused (401) at every attempt, nothing queued, no run, the row unchanged.
    settled_runs = webhook_runs(pg_dsn, CONNECTION)
    outbox.clear_log()
    outbox.faults.inject("bad_signature")
    state.change_column_value(item.id, column, 99.25)
    assert outbox.flush(10)
    attempts = outbox.attempts()
    assert attempts and all(a.status == 401 for a in attempts), [(a.status, a.error) for a in attempts]
    time.sleep(4)  # past the debounce window and the max wait's first step: a run would have been recorded
    assert webhook_runs(pg_dsn, CONNECTION) == settled_runs and not driving(pg_dsn, CONNECTION)
    assert change_queue_client(change_queue).peek_messages(max_messages=32) == []
    assert _stored_values(pg_dsn, item.id) == expected
