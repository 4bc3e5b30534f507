"""fetch_pages lands each page while it asks for the next one, and a page that fails to land fails the fetch.

Against the monday simulator and Azurite; only the landing's timing and one landing's failure are put in."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from activities.fetch import fetch_pages
from plugins.monday.items import start_cursor
from plugins.monday.plugin import MondayPlugin
from shared.blob.landing import LandingZone
from shared.core.config import load_settings
from tests.integration import monday_helpers
from tests.integration.monday_helpers import add_connection

LANDING_SECONDS = 0.4
monday_sim = monday_helpers.monday_sim


def _board_stream(monday_sim) -> tuple[str, dict]:
    board = next(b for b in monday_sim.account.boards.values() if b.object_type == "board" and b.state == "active")
    cursor = start_cursor(board.id, since=None, logs_from=None, status=None, columns=None, board_updated_at=None)
    return f"items:{board.id}", cursor


def _fetch(connection_id: str, stream: str, cursor: dict, pages: int) -> dict:
    return asyncio.run(fetch_pages({"run_id": f"run-{uuid.uuid4().hex[:8]}", "connection_id": connection_id,
                                    "stream": stream, "cursor": cursor, "max_pages": pages}))


def test_each_page_lands_while_the_next_is_asked_for(monday_sim, pg_dsn, landing_container, monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    connection_id = add_connection(pg_dsn, "monday-landing-overlap", monday_sim.url, item_page_size=5)
    stream, cursor = _board_stream(monday_sim)
    landed: dict[str, float] = {}  # ref -> when its landing ended
    asked: list[float] = []  # when each page was asked for
    lock = threading.Lock()
    real_put, real_fetch = LandingZone.put_page, MondayPlugin.fetch_page

    def slow_put(self, ref, records):
        time.sleep(LANDING_SECONDS)  # a slow store: the next page must not wait for it
        count = real_put(self, ref, records)
        with lock:
            landed[ref] = time.monotonic()
        return count

    async def timed_fetch(self, *args, **kwargs):
        asked.append(time.monotonic())
        return await real_fetch(self, *args, **kwargs)

    monkeypatch.setattr(LandingZone, "put_page", slow_put)
    monkeypatch.setattr(MondayPlugin, "fetch_page", timed_fetch)
    result = _fetch(connection_id, stream, cursor, 4)

    refs = [page["ref"] for page in result["pages"]]
    assert len(refs) == 4 and refs == sorted(refs)  # every page, in order, each landed before the fetch answered
    assert set(refs) == set(landed)
    for page, next_asked in zip(refs, asked[1:], strict=False):
        assert next_asked < landed[page]  # page k+1 went out while page k was still landing
    # Each landed page holds what its count says.
    settings = load_settings()
    container = LandingZone(settings.storage, settings.landing_container)
    for page in result["pages"]:
        assert len(list(container.read_page(page["ref"]))) == page["records"] > 0


def test_a_page_that_fails_to_land_fails_the_fetch_and_asks_for_nothing_more(monday_sim, pg_dsn, landing_container,
                                                                              monkeypatch):
    monkeypatch.setenv("SECRET_MONDAY_E2E_TOKEN", monday_helpers.TOKEN)
    connection_id = add_connection(pg_dsn, "monday-landing-fails", monday_sim.url, item_page_size=5)
    stream, cursor = _board_stream(monday_sim)
    real_put, real_fetch = LandingZone.put_page, MondayPlugin.fetch_page
    asked: list[float] = []

    def failing_put(self, ref, records):
        if ref.endswith("000001.jsonl.gz"):  # the second page
            raise OSError("the landing zone refused the page")
        return real_put(self, ref, records)

    async def counted_fetch(self, *args, **kwargs):
        page = await real_fetch(self, *args, **kwargs)
        await asyncio.sleep(0.2)  # the failed landing is known before the page after next is asked for
        asked.append(time.monotonic())
        return page

    monkeypatch.setattr(LandingZone, "put_page", failing_put)
    monkeypatch.setattr(MondayPlugin, "fetch_page", counted_fetch)
    with pytest.raises(OSError, match="refused the page"):
        _fetch(connection_id, stream, cursor, 6)
    # Pages 1 and 2, and at most the one asked for while page 2 was landing: not the six the fetch was sized for.
    assert 2 <= len(asked) <= 3
