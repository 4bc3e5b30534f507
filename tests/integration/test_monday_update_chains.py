"""A complete read of monday's updates through several chains of created ranges (plugins/monday/update_chains.py),
end to end: HTTP starter -> local Durable host (real SDK) -> monday simulator -> Azurite -> PostgreSQL.

Small pages (3 updates) make the demo account's updates long enough to split. A middleware in front of the
simulator sees each `updates` query (what the chains asked) and can change the account while the read runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
from aiohttp import web

from shared.db.watermarks import get_watermark
from tests.integration.monday_helpers import (
    TOKEN,
    Sim,
    add_connection,
    assert_database_equals_simulator,
    make_state,
    sync,
)
from tests.sim_server import serve

PAGE = 3
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Watcher:
    """The variables of every Updates query the simulator answered, and a change to make at the n-th range page."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []
        self.on_range_page: dict[int, Callable[[], None]] = {}
        self.range_pages = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v2"):
            body = json.loads(await request.read() or b"{}")
            if "query Updates" in str(body.get("query")):
                variables = body.get("variables") or {}
                self.asked.append(variables)
                if variables.get("to") and variables.get("limit") == PAGE:  # a range chain's page, not a probe
                    self.range_pages += 1
                    change = self.on_range_page.pop(self.range_pages, None)
                    if change is not None:
                        change()  # before this page is answered: the read is under way
        return await handler(request)


@pytest.fixture
def watched() -> Iterator[tuple[Sim, Watcher]]:
    from sandbox.monday import create_app

    state = make_state(workspaces=1, boards=4, items_per_board=60, subitems_per_item=0)
    watcher = Watcher()
    app = create_app(state)
    app.middlewares.append(watcher.middleware)
    with serve(app) as url:
        yield Sim(state, url, state.account()), watcher


@pytest.fixture
def chained(watched: tuple[Sim, Watcher], pg_dsn: str, landing_container: str,
            monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    return add_connection(pg_dsn, "monday-chains", watched[0].url, list_page_size=PAGE, updates_chains=4)


def _updates(pg_dsn: str, connection_id: str) -> dict[str, bool]:
    """Loaded update ids -> tombstoned."""
    with psycopg.connect(pg_dsn) as conn:
        return {r[0]: r[1] for r in conn.execute(
            "SELECT id, deleted_at IS NOT NULL FROM monday_update WHERE connection_id = %s", (connection_id,))}


def _since(pg_dsn: str, connection_id: str) -> str | None:
    with psycopg.connect(pg_dsn) as conn:
        return (get_watermark(conn, connection_id, "updates") or {}).get("since")


def _newest(account: Any) -> str:
    return max(u.created_at for u in account.updates.values()).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ranges(watcher: Watcher) -> list[dict[str, Any]]:
    return [v for v in watcher.asked if v.get("to") and v.get("limit") == PAGE]


def test_a_complete_read_through_range_chains_lands_every_update_once_and_tombstones_one_deleted_before(
        host, watched, chained, pg_dsn):
    sim, watcher = watched
    account = sim.account
    assert len(account.updates) >= 8 * PAGE * 2  # long enough to split
    first = sync(host, chained, "full")
    assert first["updates"]["status"] == "succeeded"
    # Every update landed once: as many fetched as there are, none twice (ranges meet without overlap).
    assert first["updates"]["fetched"] == first["updates"]["inserted"] == len(account.updates)
    assert _updates(pg_dsn, chained) == dict.fromkeys(account.updates, False)
    # It was read through range chains: several lower bounds, and one chain open below.
    lows = {v.get("from") for v in _ranges(watcher)}
    assert None in lows and len(lows - {None}) >= 2
    assert _since(pg_dsn, chained) == _newest(account)
    assert_database_equals_simulator(pg_dsn, chained, account)

    gone = sorted(account.updates.values(), key=lambda u: u.created_at)[len(account.updates) // 2].id
    sim.state.delete_update(gone)
    second = sync(host, chained, "full")
    assert second["updates"]["deleted"] == 1 and second["updates"]["inserted"] == 0
    loaded = _updates(pg_dsn, chained)
    assert loaded[gone] is True and [u for u, dead in loaded.items() if dead] == [gone]
    assert_database_equals_simulator(pg_dsn, chained, account)


def test_an_update_created_during_the_read_is_left_for_the_next_run_and_one_deleted_during_it_shifts_nothing(
        host, watched, chained, pg_dsn):
    sim, watcher = watched
    state, account = sim.state, sim.account
    sync(host, chained, "full")
    newest_before = _newest(account)
    oldest = min(account.updates.values(), key=lambda u: u.created_at)
    item = next(iter(account.items))
    created: list[str] = []
    # While the second complete read's range chains run: one update is created, and the oldest (at the bottom of
    # the last chain, not read yet) is deleted. A page-numbered read would then miss the update at a page boundary
    # and its sweep would tombstone it.
    def change() -> None:
        created.append(state.add_update(item, "written during the read").id)
        state.delete_update(oldest.id)

    watcher.on_range_page[watcher.range_pages + 1] = change
    second = sync(host, chained, "full")
    assert created and second["updates"]["status"] == "succeeded"
    loaded = _updates(pg_dsn, chained)
    assert created[0] not in loaded  # above the read's to_date: not landed, so nothing to tombstone
    assert [u for u, dead in loaded.items() if dead] == [oldest.id]
    assert {u for u, dead in loaded.items() if not dead} == set(account.updates) - {created[0]}
    # The watermark is the newest created of the read (its first page), not the one created during it.
    assert _since(pg_dsn, chained) == newest_before

    third = sync(host, chained, "incremental")
    assert third["updates"]["inserted"] == 1
    assert _updates(pg_dsn, chained)[created[0]] is False
    assert _since(pg_dsn, chained) == account.updates[created[0]].created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    # (The item streams of this incremental run skip the boards, whose updated_at an update does not move.)
    assert {u for u, dead in _updates(pg_dsn, chained).items() if not dead} == set(account.updates)


def test_one_chain_when_asked_reads_by_page_number_as_before(host, watched, pg_dsn, landing_container, monkeypatch):
    sim, watcher = watched
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", TOKEN)
    single = add_connection(pg_dsn, "monday-one-chain", sim.url, list_page_size=PAGE, updates_chains=1)
    streams = sync(host, single, "full")
    assert streams["updates"]["fetched"] == len(sim.account.updates)
    assert not _ranges(watcher) and not any(v.get("to") for v in watcher.asked)
    assert _since(pg_dsn, single) == _newest(sim.account)
