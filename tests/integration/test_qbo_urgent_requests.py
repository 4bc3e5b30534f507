"""Which QuickBooks requests ask the realm's governor to go first (governor.ORDINARY_HORIZON): a split's COUNT and
probes urgently, every page by the calls known to follow it on its stream's path (partition.path_of): a complete
read's first page as a large entity's, a chain's page by the pages its range has left and the stream's last read,
the stream's own chain after the split as its last read."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from plugins.quickbooks import PLUGIN, paging, partition
from shared.db.connections import Connection
from tests.integration.helpers import REALM, TOKEN
from tests.sim_server import serve


class RecordingGovernor:
    """Lets every request go at once and notes how it asked: "urgent", or the path it named."""

    def __init__(self) -> None:
        self.asked: list[str | int] = []

    async def acquire(self, *, urgent: bool = False, path: int = 0) -> None:
        self.asked.append("urgent" if urgent else path)


@pytest.fixture
def invoices(monkeypatch):
    from sandbox.quickbooks import DemoCompany, SimulatorState, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=7, customers=5, invoices=120, payments=0)
    state = SimulatorState(companies=[company], access_tokens={TOKEN})
    monkeypatch.setenv("SECRET_CONN_QBO_URGENT_TOKEN", TOKEN)
    with serve(create_app(state)) as url:
        yield Connection("qbo-urgent", "quickbooks", "Urgent", {
            "realm_id": REALM, "base_url": url, "access_token_secret": "conn-qbo-urgent-token", "page_size": 10,
            "minor_version": 75, "retry_base_delay": 0.01})


async def _fetch(connection: Connection, cursor: dict) -> tuple:
    """The page fetched from `cursor` and the urgency of each request it made."""
    async with aiohttp.ClientSession() as session:
        api = await PLUGIN.open_api(connection, session)
        api.governor = governor = RecordingGovernor()
        page = await PLUGIN.fetch_page(api, connection, "Invoice", cursor)
    return page, governor.asked


def test_a_splits_requests_are_urgent_and_each_page_names_the_calls_left_on_its_path(invoices):
    first, asked = asyncio.run(_fetch(invoices, partition.first_cursor(paging.start_cursor(None))))
    assert len(first.chains) >= 2, first  # 120 invoices in pages of 10: split
    # The first page as a large entity's might be, then the COUNT and one probe per cut, all urgent.
    assert asked[0] == partition.MIN_PAGES and asked[1:] == ["urgent"] * (1 + len(first.chains))
    chain = first.chains[1]
    pages = -(-chain[partition.LEFT] // 9)  # pages of 10 bring 9 new records after a chain's first
    page, asked = asyncio.run(_fetch(invoices, chain))
    assert asked == [pages - 1 + 1]  # its pages after this one, then the stream's own last read
    assert page.next_cursor[partition.LEFT] == chain[partition.LEFT] - len(page.records)
    _, asked = asyncio.run(_fetch(invoices, first.next_cursor))
    assert asked == [0]  # the stream's own chain, after the split: its last read


def test_a_stream_too_small_to_split_counts_down_its_pages_and_says_when_the_next_is_its_last(invoices):
    first, _ = asyncio.run(_fetch(invoices, partition.first_cursor(paging.start_cursor(None), max_chains=1)))
    cursor = first.next_cursor
    assert partition.GUESS in cursor and partition.LEFT not in cursor  # no COUNT: guessed from the page's span
    page, asked = asyncio.run(_fetch(invoices, {**paging.start_cursor(None), partition.LEFT: 25}))
    assert asked == [2] and not page.last_next  # 25 left: this page and two more
    page, asked = asyncio.run(_fetch(invoices, page.next_cursor))
    assert asked == [1] and page.next_cursor[partition.LEFT] == 25 - 10 - 9 and page.last_next
