"""A phase of many streams runs in shards (activities/plan_shards.py, orchestrators/sync_phase.py), end to end:
HTTP starter -> local Durable host (real SDK replay) -> simulators -> Azurite -> PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from tests.history_watch import HistoryWatch
from tests.integration import monday_helpers
from tests.integration.helpers import CONNECTION, REALM, assert_database_equals_simulator, truth
from tests.integration.helpers import sync as qbo_sync
from tests.integration.monday_helpers import Sim, add_connection, make_state, run, synced_boards
from tests.sim_server import serve

ITEMS = "items:"
SHARD, AT_ONCE = 40, 3


@pytest.fixture
def shards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIZ_SYNC_SHARD_STREAMS", str(SHARD))
    monkeypatch.setenv("BIZ_SYNC_SHARDS_AT_ONCE", str(AT_ONCE))


@pytest.fixture
def large_account():
    from sandbox.monday import create_app

    state = make_state(workspaces=3, boards=300, items_per_board=3, subitems_per_item=0)
    with serve(create_app(state)) as url:
        yield Sim(state, url, state.account())


def test_an_account_of_300_boards_loads_every_board_in_shards_with_every_history_bounded(
        host, large_account, pg_dsn, landing_container, monkeypatch, shards):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    # Small pages (each board holds 3 items): the complexity a query is estimated at stays small, so 120 boards
    # syncing at once fit the per-minute budget without waits, which the virtual clock would skip.
    connection_id = add_connection(pg_dsn, "monday-shards", large_account.url, item_page_size=10, log_page_size=50)
    watch = HistoryWatch(host)
    output, streams = run(host, connection_id, "full")
    assert output["status"] == "succeeded", output
    account = large_account.account
    readable = synced_boards(account)
    assert len(readable) == 299  # the generator deletes the last board
    assert {s.removeprefix(ITEMS) for s in streams if s.startswith(ITEMS)} == readable
    assert all(s["status"] == "succeeded" for s in streams.values()), streams
    monday_helpers.assert_database_equals_simulator(pg_dsn, connection_id, account)
    with psycopg.connect(pg_dsn) as conn:
        boards_with_items = conn.execute("SELECT count(DISTINCT board_id) FROM monday_item WHERE connection_id = %s",
                                         (connection_id,)).fetchone()[0]
    assert boards_with_items == sum(1 for b in account.boards.values() if b.id in readable and b.item_ids)

    names = {i.instance_id: i.name for i in host.store.list_instances()}
    shard_ids = sorted(iid for iid, name in names.items() if name == "sync_shard")
    # The items' phase holds the updates and the 299 boards' item streams: 8 shards of at most 40 streams.
    assert len(shard_ids) == -(-(len(readable) + 1) // SHARD)
    # The largest history of any execution (sync_all, sync_connection, sync_phase's waves, the shards, the streams)
    # is bounded by the shard size, not the number of boards: a fan-out of all 299 boards from one history held 598
    # events at least (each sub-orchestration started and ended).
    events, instance = watch.largest()
    assert events <= 4 * SHARD + 40, (events, instance)
    connection_history = max(size for iid, size in watch.sizes().items() if names.get(iid) == "sync_connection")
    assert connection_history < 100, connection_history


def test_a_sharded_phase_still_gives_finish_connection_every_stream_it_read(host, simulator, connection, pg_dsn,
                                                                            monkeypatch):
    # Three entities in shards of one, two at a time: the change feed's start is still derived from every entity's
    # complete read (after_run reads their watermarks), so the next incremental run reads the change feed only.
    monkeypatch.setenv("BIZ_SYNC_SHARD_STREAMS", "1")
    monkeypatch.setenv("BIZ_SYNC_SHARDS_AT_ONCE", "2")
    state, _ = simulator
    watch = HistoryWatch(host)
    first = qbo_sync(host, "full")
    assert {s["status"] for s in first.values()} == {"succeeded"}
    assert_database_equals_simulator(pg_dsn, state)
    assert any(name == "sync_shard" for name in (i.name for i in host.store.list_instances()))
    assert watch.largest()[0] < 200
    invoice_id = sorted(truth(state, "Invoice"), key=int)[0]
    state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed after a sharded full sync"})
    again = qbo_sync(host, "incremental")
    assert set(again) == {"cdc"} and again["cdc"]["updated"] == 1
    assert_database_equals_simulator(pg_dsn, state)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM stream_state WHERE connection_id = %s AND stream = 'cdc'",
                            (CONNECTION,)).fetchone()[0] == 1
