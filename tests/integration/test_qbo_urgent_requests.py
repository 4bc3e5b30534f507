"""Which QuickBooks requests ask the realm's governor to go first (governor.ORDINARY_HORIZON): a split's COUNT and
probes and the pages of the chains it starts, the longest path of a complete read; not a stream's own pages."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from plugins.quickbooks import PLUGIN, paging, partition
from shared.db.connections import Connection
from tests.integration.helpers import REALM, TOKEN
from tests.sim_server import serve


class RecordingGovernor:
    """Lets every request go at once and notes whether it asked to be urgent."""

    def __init__(self) -> None:
        self.asked: list[bool] = []

    async def acquire(self, *, urgent: bool = False) -> None:
        self.asked.append(urgent)


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


def test_a_splits_requests_and_its_chains_pages_are_urgent_the_streams_own_pages_are_not(invoices):
    first, asked = asyncio.run(_fetch(invoices, partition.first_cursor(paging.start_cursor(None))))
    assert len(first.chains) >= 2, first  # 120 invoices in pages of 10: split
    # The first page as any stream's, then the COUNT and one probe per cut, all urgent.
    assert asked[0] is False and len(asked) == 2 + len(first.chains) and all(asked[1:])
    _, asked = asyncio.run(_fetch(invoices, first.chains[1]))
    assert asked == [True]  # a chain's page
    _, asked = asyncio.run(_fetch(invoices, first.next_cursor))
    assert asked == [False]  # the stream's own chain, after the split: read as any page
