"""fetch_pages passes on what the source's count says of the stream's next read (FetchResult.last_next): sync_stream
runs the metric rebuild beside that read. Said only when the fetch ends with the stream's last read still ahead of it
(not when it read that page itself, nor at a split). The QuickBooks simulator, real PostgreSQL and Azurite."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from activities.fetch import fetch_pages
from activities.planning import plan_streams
from activities.runs import begin_sync
from plugins.quickbooks import paging, partition
from shared.core.messages import FetchResult
from shared.db.connections import Connection, upsert_connection
from tests.integration.helpers import REALM, TOKEN
from tests.sim_server import serve

CONNECTION = "qbo-last-read"


@pytest.fixture
def run_id(pg_dsn, landing_container, monkeypatch):
    from sandbox.quickbooks import DemoCompany, SimulatorState, create_app

    company = DemoCompany.generate(realm_id=REALM, seed=7, customers=5, invoices=25, payments=0)
    monkeypatch.setenv("SECRET_CONN_QBO_LAST_READ_TOKEN", TOKEN)
    with serve(create_app(SimulatorState(companies=[company], access_tokens={TOKEN}))) as url:
        with psycopg.connect(pg_dsn) as conn:
            upsert_connection(conn, Connection(CONNECTION, "quickbooks", "Last read", {
                "realm_id": REALM, "base_url": url, "access_token_secret": "conn-qbo-last-read-token",
                "page_size": 10, "minor_version": 75, "streams": ["Invoice"], "reports": False}))
        run = f"run-{uuid.uuid4().hex[:8]}"
        begin_sync({"run_id": run, "scope": CONNECTION, "mode": "full", "instance_id": "test"})
        plan_streams({"run_id": run, "connection_id": CONNECTION, "mode": "full"})
        yield run


def _fetch(run_id: str, cursor: dict, pages: int) -> FetchResult:
    return FetchResult.from_json(asyncio.run(fetch_pages({
        "run_id": run_id, "connection_id": CONNECTION, "stream": "Invoice", "cursor": cursor, "sequence": 0,
        "max_pages": pages})))


def test_a_fetch_says_when_the_streams_next_read_is_its_last(run_id):
    counted = {**paging.start_cursor(None), partition.LEFT: 25}  # 25 invoices in pages of 10
    first = _fetch(run_id, counted, 1)
    assert first.cursor and not first.last_next  # 15 left: two pages more
    second = _fetch(run_id, first.cursor, 1)
    assert second.cursor and second.last_next  # 6 left: the next page is short
    assert _fetch(run_id, second.cursor, 1).cursor is None
    both = _fetch(run_id, first.cursor, 2)  # read the last page itself: nothing ahead to say it of
    assert both.cursor is None and not both.last_next
