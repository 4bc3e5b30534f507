"""Azurite restarted (SIGTERM, start again on the same folder) while a fetch is landing a page: the storage client's
own retries, or the host's retry of the activity, carry the fetch and the loads that meet the restart over it, and
the run ends with every record exactly once.

The Azurite is a throwaway one of this test's own (scripts/services.sh on its own folder and ports); the shared
one in .local serves other sessions and is never restarted."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from aiohttp import web

from shared.blob.service import blob_service
from shared.core.config import load_settings
from tests.faults.conftest import run_to_success
from tests.faults.services import OwnServices, own_services
from tests.faults.sources import qbo_connection, qbo_state, serving
from tests.faults.truth import assert_each_page_loaded_once, assert_qbo_exact, qbo_counts


@pytest.fixture
def own_azurite(monkeypatch: pytest.MonkeyPatch, pg_dsn: str) -> Iterator[OwnServices]:
    """An Azurite of this test's own with a landing container; the app's storage settings point at it."""
    with own_services("azurite") as services:
        monkeypatch.setenv("AzureWebJobsStorage", services.env()["AzureWebJobsStorage"])
        monkeypatch.delenv("LANDING_STORAGE_CONNECTION", raising=False)
        monkeypatch.setenv("LANDING_CONTAINER", f"faults-{uuid.uuid4().hex[:8]}")
        settings = load_settings()
        blob_service(settings.storage).create_container(settings.landing_container)
        yield services


def restart_during_a_page(services: OwnServices, at_request: int):
    """A simulator middleware: the `at_request`-th query stops Azurite before it is answered and starts it again
    while the fetch lands that page, so the upload meets a stopped (then starting) Azurite."""
    seen = {"queries": 0}
    restarted: list[float] = []  # when Azurite was up again (monotonic)

    def start() -> None:
        services.run("start", "azurite")
        restarted.append(time.monotonic())

    @web.middleware
    async def middleware(request: web.Request, handler):
        if "/query" in request.path:
            seen["queries"] += 1
            if seen["queries"] == at_request:
                await asyncio.to_thread(services.run, "stop", "azurite")
                threading.Thread(target=start, daemon=True).start()
        return await handler(request)

    return middleware, restarted


def test_an_azurite_restart_mid_fetch_is_retried_and_loads_every_record_once(own_azurite, pg_dsn, tmp_path):
    from devhost import LocalDurableHost
    from function_app import app
    from sandbox.quickbooks import create_app

    state = qbo_state(2_000)
    middleware, restarted = restart_during_a_page(own_azurite, at_request=5)
    with serving(create_app(state), middleware) as url:
        qbo_connection(pg_dsn, url, page_size=100)
        # Real time: the activity retry policy's 5 s waits carry a fetch over the restart, as in Azure.
        host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=False)
        run_id, streams = run_to_success(host, "full")
        ended = time.monotonic()
    # The run went on past the restart (the storage client retried for the seconds Azurite was down).
    assert restarted and restarted[0] < ended, "the restart must end while the sync runs"
    assert_qbo_exact(pg_dsn, state)
    assert {entity: s["inserted"] for entity, s in streams.items()} == qbo_counts(state)
    assert_each_page_loaded_once(pg_dsn, run_id)
