"""Records edited and deleted while their entity is being paged, on a connection already synced once: the paged
sync misses no record and reads the edited ones at their last version (QuickBooks' keyset re-reads a record that
moved to the end; monday's chain reads the board's log); the records deleted before their page came are swept,
those deleted after are caught by the next incremental run, and the database ends equal to the source with every
deleted record a tombstone."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.faults.conftest import run_to_success
from tests.faults.injection import EditWhilePaging
from tests.faults.sources import (
    monday_connection,
    monday_sim,
    monday_state,
    qbo_connection,
    qbo_state,
    serving,
    top_level_items,
)
from tests.faults.truth import assert_each_page_loaded_once, assert_monday_exact, assert_qbo_exact
from tests.integration import helpers, monday_helpers
from tests.integration.helpers import REALM

PAGE = 100


def invoice_page(request: web.Request) -> bool:
    query = request.query.get("query", "")
    return " FROM Invoice " in query and "COUNT(" not in query.upper()


def keyset_order(state) -> list[str]:
    """Invoice ids in the order the keyset query pages them."""
    rows = state.records(REALM, "Invoice")
    return [r["Id"] for r in sorted(rows, key=lambda r: (r["MetaData"]["LastUpdatedTime"], int(r["Id"])))]


@pytest.mark.parametrize("max_chains", [1, 4], ids=["one-keyset-chain", "split-read"])
def test_quickbooks_invoices_edited_and_deleted_while_paged(pg_dsn, landing_container, host, max_chains: int):
    """One chain reads the keyset in order, so "after 3 pages" means the first 300 invoices in keyset order; a split
    read (plugins/quickbooks/partition.py) reads its chains side by side, so which deleted invoices were read before
    they went is up to the interleaving: only those can stay live until the next run."""
    from sandbox.quickbooks import create_app

    state = qbo_state(2_000)
    order = keyset_order(state)
    # After 3 pages: 300 invoices read; edit and delete some of them and some of those still to come.
    read, unread = order[: 3 * PAGE], order[4 * PAGE:]
    edited = read[5::40] + unread[7::90]
    deleted = set(read[11::45] + unread[13::95])

    def edit() -> None:
        for ident in edited:
            state.update(REALM, "Invoice", ident, {"PrivateNote": "edited while paged"})
        for ident in deleted:
            state.delete(REALM, "Invoice", ident)

    during = EditWhilePaging(invoice_page, edit)
    with serving(create_app(state), during.middleware) as url:
        qbo_connection(pg_dsn, url, page_size=PAGE, max_chains=max_chains)
        run_to_success(host, "full")
        during.arm(3)  # the second full read is the one edited under its feet
        run_id, _ = run_to_success(host, "full")
        assert during.done
        assert_each_page_loaded_once(pg_dsn, run_id)
        live = helpers.database(pg_dsn, "qbo_invoice")
        truth = helpers.truth(state, "Invoice")
        # Nothing skipped, every edit read at its last version (the edited records came round again).
        assert {i: live[i] for i in truth} == truth
        # Deleted before their page came: swept. Deleted after their page: still live until the next run.
        if max_chains == 1:
            assert set(live) - set(truth) == deleted & set(read)
        else:
            assert set(live) - set(truth) <= deleted
        helpers.sync(host, "incremental")
    assert_qbo_exact(pg_dsn, state, tombstoned={"Invoice": deleted})


def items_page(request: web.Request) -> bool:
    return request.path.rstrip("/") == "/v2"


def test_monday_items_edited_and_deleted_while_paged(pg_dsn, landing_container, host):
    from sandbox.monday import create_app

    state = monday_state(800)
    account = state.account()
    items = top_level_items(account)
    renamed, deleted = items[3::17], set(items[5::13])

    def edit() -> None:
        for ident in renamed:
            state.rename_item(ident, "renamed while paged")
        for ident in deleted:
            state.delete_item(ident)

    during = EditWhilePaging(items_page, edit)
    with serving(create_app(state), during.middleware) as url:
        sim = monday_sim(state, url)
        connection = monday_connection(pg_dsn, url, item_page_size=25)
        monday_helpers.sync(host, connection, "full")
        during.arm(12)  # a few requests into the second run: boards are half-paged
        monday_helpers.sync(host, connection, "full")
        assert during.done
        with monday_helpers.psycopg.connect(pg_dsn) as conn:
            live, _ = monday_helpers.database_items(conn, connection)
        expected, _ = monday_helpers.expected_items(account)
        assert set(expected) <= set(live)  # nothing skipped
        monday_helpers.sync(host, connection, "incremental")
    assert_monday_exact(pg_dsn, connection, sim.account, tombstoned=deleted)
