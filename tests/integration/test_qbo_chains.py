"""A large entity's complete read through several keyset chains at once, and fetches overlapping loads
(plugins/quickbooks/partition.py, orchestrators/sync_stream.py), through the local host and the simulator."""

from __future__ import annotations

import psycopg
import pytest

import activities.load as load_activity
from orchestrators.sync_stream import LANE_STRIDE
from plugins.quickbooks import partition
from plugins.quickbooks.fields import parse_ts
from plugins.quickbooks.plugin import QuickBooksPlugin
from tests.integration.helpers import (
    CONNECTION,
    REALM,
    TABLES,
    assert_database_equals_simulator,
    database,
    start,
    streams_of,
    sync,
    truth,
)

PAGE_SIZE = 100  # 1,100 invoices: a first page, then five chains of two pages and the stream's own chain


@pytest.fixture
def small_pages(connection, pg_dsn):
    """The e2e connection, reading pages of 100 (so Invoice and Payment are large enough to split)."""
    return _configure(pg_dsn, page_size=PAGE_SIZE)


def _configure(pg_dsn: str, **settings) -> str:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET config = config || %s::jsonb WHERE connection_id = %s",
                     (psycopg.types.json.Jsonb(settings), CONNECTION))
    return CONNECTION


def _loaded_pages(pg_dsn: str, run_id: str, stream: str) -> list[int]:
    """Sequence numbers of the pages of `stream` the run loaded."""
    prefix = f"{CONNECTION}/{stream}/{run_id}/"
    with psycopg.connect(pg_dsn) as conn:
        refs = [r[0] for r in conn.execute("SELECT page_ref FROM loaded_pages WHERE run_id = %s AND "
                                           "starts_with(page_ref, %s)", (run_id, prefix))]
    return sorted(int(ref.removeprefix(prefix).split(".")[0]) for ref in refs)


def _sync_run(host, mode: str, **options) -> tuple[str, dict]:
    instance_id, run_id = start(host, mode, **options)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    return run_id, status["output"]


def _in_keyset_order(state, entity: str) -> list[str]:
    records = truth(state, entity).values()
    return [r["Id"] for r in sorted(records, key=lambda r: (parse_ts(r["MetaData"]["LastUpdatedTime"]), r["Id"]))]


def test_a_split_read_loads_every_record_once_with_changes_and_deletes_made_while_its_chains_run(
        host, simulator, small_pages, pg_dsn, monkeypatch):
    state, _ = simulator
    run_id, output = _sync_run(host, "full")
    assert output["status"] == "succeeded", output
    assert_database_equals_simulator(pg_dsn, state)
    pages = _loaded_pages(pg_dsn, run_id, "Invoice")
    assert len({page // LANE_STRIDE for page in pages}) >= 4, pages  # the stream's own chain and 3+ split off it
    counted = streams_of(run_id)["Invoice"]
    assert (counted["inserted"], counted["fetched"]) == (1100, 1100)  # every invoice once, none twice

    # Deleted since the last run: the sweep of the split read tombstones them.
    order = _in_keyset_order(state, "Invoice")
    gone_before = [order[40], order[700]]
    for invoice_id in gone_before:
        state.delete(REALM, "Invoice", invoice_id)
    # Changed and deleted while the chains run: right after the split is decided, before any chain reads.
    order = _in_keyset_order(state, "Invoice")
    changed = [order[5], order[450], order[1000]]  # in the first page, a middle chain, the last chain
    gone_during = order[620]
    original = QuickBooksPlugin.fetch_page
    mutated: list[str] = []

    async def fetch_then_change(self, api, connection, stream, cursor):
        page = await original(self, api, connection, stream, cursor)
        if stream == "Invoice" and page.chains and not mutated:
            for invoice_id in changed:
                state.update(REALM, "Invoice", invoice_id, {"PrivateNote": "changed while the chains ran"})
            state.delete(REALM, "Invoice", gone_during)
            mutated.extend([*changed, gone_during])
        return page

    monkeypatch.setattr(QuickBooksPlugin, "fetch_page", fetch_then_change)
    run_id, output = _sync_run(host, "full")
    assert output["status"] == "succeeded", output
    assert mutated, "the read was not split"
    # Invoice is exact: the changed ones at their newest version (the stream's own chain read them after the
    # others), the deleted ones tombstoned. (Other entities changed as a side effect wait for the next run.)
    assert database(pg_dsn, TABLES["Invoice"]) == truth(state, "Invoice")
    with psycopg.connect(pg_dsn) as conn:
        tombstoned = {r[0] for r in conn.execute(
            "SELECT id FROM qbo_invoice WHERE connection_id = %s AND deleted_at IS NOT NULL", (CONNECTION,))}
    assert tombstoned == {*gone_before, gone_during}
    assert streams_of(run_id)["Invoice"]["deleted"] == 3
    # Change data capture starts from the split read's first page: the next run finds what else changed.
    monkeypatch.setattr(QuickBooksPlugin, "fetch_page", original)
    sync(host, "incremental")
    assert_database_equals_simulator(pg_dsn, state)


def test_a_split_read_resumes_its_chains_after_continue_as_new(host, simulator, small_pages, pg_dsn):
    state, _ = simulator
    # One round per execution, one page per fetch: the chains (some parked) travel through continue_as_new.
    run_id, output = _sync_run(host, "full", iterations_per_execution=1, max_pages=1)
    assert output["status"] == "succeeded", output
    assert_database_equals_simulator(pg_dsn, state)
    pages = _loaded_pages(pg_dsn, run_id, "Invoice")
    assert len({page // LANE_STRIDE for page in pages}) >= 4, pages
    assert streams_of(run_id)["Invoice"]["fetched"] == 1100


def test_a_failed_load_stops_its_chain_before_the_page_fetched_beside_it_and_the_next_run_loads_everything(
        host, simulator, connection, pg_dsn, monkeypatch):
    state, _ = simulator
    _configure(pg_dsn, page_size=PAGE_SIZE, max_chains=1)  # one chain: page 4 is fetched while page 3 loads
    original = load_activity._read_parts

    def failing_read(plugin, stream, landing, ref, keep_ids):
        if stream == "Invoice" and ref.endswith("/000003.jsonl.gz"):
            raise RuntimeError("the landing zone went away while loading page 3")
        return original(plugin, stream, landing, ref, keep_ids)

    monkeypatch.setattr(load_activity, "_read_parts", failing_read)
    run_id, output = _sync_run(host, "full", max_pages=1)
    assert output["status"] != "succeeded" and "Invoice" in output["errors"][0]["error"], output
    assert streams_of(run_id)["Invoice"]["status"] == "failed"
    # Pages 0-2 loaded; page 4, fetched while page 3 was loading, was not loaded past the failed page.
    assert _loaded_pages(pg_dsn, run_id, "Invoice") == [0, 1, 2]
    with psycopg.connect(pg_dsn) as conn:
        mark = conn.execute("SELECT watermark FROM stream_state WHERE connection_id = %s AND stream = 'Invoice'",
                            (CONNECTION,)).fetchone()[0]
        newest, loaded = conn.execute("SELECT max(updated_at), count(*) FROM qbo_invoice WHERE connection_id = %s",
                                      (CONNECTION,)).fetchone()
    # Three pages' worth (the keyset drops each page's first record, the one at the boundary already taken) and the
    # watermark of page 2, not beyond it.
    assert 3 * (PAGE_SIZE - 1) <= loaded <= 3 * PAGE_SIZE and parse_ts(mark["ts"]) == newest

    monkeypatch.setattr(load_activity, "_read_parts", original)
    sync(host, "full")
    assert_database_equals_simulator(pg_dsn, state)


def test_the_plan_splits_only_complete_reads_of_entities_change_data_capture_covers():
    from plugins.base import Connection

    connection = Connection("c", "quickbooks", "c", {"realm_id": "1", "base_url": "http://127.0.0.1:9",
                                                      "access_token_secret": "conn-c-token", "reports": False,
                                                      "streams": ["Invoice", "Customer", "TaxCode"]})
    plan = QuickBooksPlugin().plan(connection, "full", {}, calls_this_month=0)
    split = {p.stream: p.cursor.get(partition.SPLIT) for p in plan.streams}
    assert split == {"Invoice": partition.MAX_CHAINS, "Customer": partition.MAX_CHAINS, "TaxCode": None}


def test_a_throttled_chain_waits_alone_and_the_split_read_still_loads_everything(
        host, simulator, small_pages, pg_dsn, monkeypatch):
    state, _ = simulator
    original = QuickBooksPlugin.fetch_page
    injected: list[str] = []

    async def fetch_then_throttle(self, api, connection, stream, cursor):
        page = await original(self, api, connection, stream, cursor)
        if stream == "Invoice" and page.chains and not injected:
            state.faults.inject("429")  # the next request, one chain's first page, is throttled
            injected.append("429")
        return page

    monkeypatch.setattr(QuickBooksPlugin, "fetch_page", fetch_then_throttle)
    run_id, output = _sync_run(host, "full")
    assert output["status"] == "succeeded", output
    assert injected and not state.faults.pending()
    assert_database_equals_simulator(pg_dsn, state)
    counted = streams_of(run_id)
    assert sum(s["throttle_waits"] for s in counted.values()) >= 1
    assert (counted["Invoice"]["fetched"], counted["Payment"]["fetched"]) == (1100, 700)  # each record once


class _SlowLoads:
    """A clock for activities.load under which every load_pages call took 5 s: loading is the slower (the fetches
    against the local simulator take milliseconds), as at QuickBooks' governor pace with several chains."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 2.5
        return self.now


def test_loads_slower_than_fetches_get_bigger_pages_per_call_and_load_everything_once_in_order(
        host, simulator, connection, pg_dsn, monkeypatch):
    state, _ = simulator
    _configure(pg_dsn, page_size=50, max_chains=1)  # Invoice: over 20 pages in one chain
    original = load_activity._load
    calls: list[tuple[str, list[str]]] = []

    def recorded(asked, settings, **options):
        calls.append((asked.stream, [page.ref for page in asked.pages]))
        return original(asked, settings, **options)

    monkeypatch.setattr(load_activity, "time", _SlowLoads())
    monkeypatch.setattr(load_activity, "_load", recorded)
    run_id, output = _sync_run(host, "full")
    assert output["status"] == "succeeded", output
    assert_database_equals_simulator(pg_dsn, state)
    invoice_loads = [refs for stream, refs in calls if stream == "Invoice"]
    sizes = [len(refs) for refs in invoice_loads if refs]
    assert max(sizes) > 2 and sizes[:3] == [2, 2, 4], sizes  # doubled after each load slower than its fetch
    loaded = [int(ref.rsplit("/", 1)[1].split(".")[0]) for refs in invoice_loads for ref in refs]
    assert loaded == list(range(len(loaded))) == _loaded_pages(pg_dsn, run_id, "Invoice")  # once each, in order
    assert len(loaded) > 20
    counted = streams_of(run_id)["Invoice"]
    assert (counted["inserted"], counted["fetched"]) == (1100, 1100)
