"""QuickBooks keeps the server time at the start of a complete read in its own keyset watermarks.

Change data capture after a complete read starts at the earliest such time (less a margin), so the time must
be the FIRST page's, carried page to page, and must not leak into the next read.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import aiohttp
import pytest

from plugins.quickbooks import PLUGIN, paging
from plugins.quickbooks.fields import parse_ts
from shared.db.connections import Connection
from tests.integration.helpers import REALM, TOKEN
from tests.sim_server import serve

START = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen_simulator(monkeypatch):
    from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=5, customers=25, invoices=10, payments=5)
    state = SimulatorState(companies=[company], clock=SimClock(start=START, frozen=True), access_tokens={TOKEN})
    monkeypatch.setenv("SECRET_CONN_QBO_READ_START_TOKEN", TOKEN)
    with serve(create_app(state)) as url:
        yield state, Connection("qbo-read-start", "quickbooks", "Read start", {
            "realm_id": REALM, "base_url": url, "access_token_secret": "conn-qbo-read-start-token", "page_size": 10,
            "minor_version": 75, "retry_base_delay": 0.01})


async def read_pages(connection: Connection, cursor: dict, clock) -> list:
    """Every page of the Customer stream from `cursor`, the simulator's clock moving an hour between pages."""
    pages = []
    async with aiohttp.ClientSession() as session:
        api = await PLUGIN.open_api(connection, session)
        while cursor is not None:
            page = await PLUGIN.fetch_page(api, connection, "Customer", cursor)
            pages.append(page)
            cursor = page.next_cursor
            clock.advance(3600)
    return pages


def test_each_page_watermark_keeps_the_server_time_of_the_reads_first_page(frozen_simulator):
    state, connection = frozen_simulator
    pages = asyncio.run(read_pages(connection, paging.start_cursor(None), state.clock))
    assert len(pages) == 3  # 25 customers in pages of 10
    assert {parse_ts(p.watermark["read_started"]) for p in pages} == {START}
    # After a complete read, change data capture starts from there, less the margin.
    marks = PLUGIN.after_run(connection, {"establishes_cdc": True}, {"Customer": pages[-1].watermark})
    assert parse_ts(marks["cdc"]["since"]) == START - dt.timedelta(minutes=5)


def test_a_read_starting_from_a_stored_watermark_stamps_its_own_start(frozen_simulator):
    state, connection = frozen_simulator
    first = asyncio.run(read_pages(connection, paging.start_cursor(None), state.clock))
    later = asyncio.run(read_pages(connection, paging.start_cursor(first[-1].watermark), state.clock))
    assert parse_ts(later[0].watermark["read_started"]) == START + dt.timedelta(hours=len(first))
