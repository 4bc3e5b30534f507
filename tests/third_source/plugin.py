"""The helpdesk plugin: one stream of tickets, read in pages; a complete read sweeps the deletes it no longer sees,
an incremental read asks for what changed since the last run (deletes included, as tombstones)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from plugins.base import BasePlugin, Connection, Page, Plan, StreamPlan
from shared.core.http import ApiClient, ApiError, Response, Verdict
from shared.core.secrets import secrets_provider
from shared.db.loader import RawRecord, TableSpec
from tests.third_source import paging, tables
from tests.third_source.dashboards import DASHBOARDS
from tests.third_source.metrics import CATALOG
from tests.third_source.settings import read_settings

STREAM = "tickets"
# The plan the simulator stands for allows this many API calls a month (shown on the sync-health dashboard).
MONTHLY_CALLS = 100_000


class HelpdeskPlugin(BasePlugin):
    name = "helpdesk"
    metrics = CATALOG
    dashboards = DASHBOARDS
    monthly_call_quota = MONTHLY_CALLS
    migrations = Path(__file__).with_name("migrations")

    # -- what to read ---------------------------------------------------------------------------------------
    def plan(self, connection: Connection, mode: str, watermarks: dict[str, dict[str, Any]],
             calls_this_month: int, phase: int = 0, failed: Mapping[str, str] | None = None,
             store: None = None) -> Plan:
        try:
            read_settings(connection)
        except ValueError as exc:
            return Plan(streams=[], refused=str(exc))
        mark = watermarks.get(STREAM) if mode == "incremental" else None
        # Without a watermark the read is complete, so what it does not see was deleted upstream.
        return Plan(streams=[StreamPlan(STREAM, paging.start_cursor(mark), sweep=mark is None)])

    # -- how to read ----------------------------------------------------------------------------------------
    async def open_api(self, connection: Connection, session: aiohttp.ClientSession, store: None = None) -> ApiClient:
        settings = read_settings(connection)
        token = await asyncio.to_thread(secrets_provider().get, settings.token_secret)
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

        def classify(response: Response) -> Verdict:
            return _classify(response, settings.token_secret)

        return ApiClient(session, classify=classify, policy=settings.retry, redact=(token,))

    async def fetch_page(self, api: ApiClient, connection: Connection, stream: str, cursor: dict[str, Any]) -> Page:
        if stream != STREAM:
            raise ValueError(f"the helpdesk has no stream {stream!r}; it has {STREAM!r}")
        settings = read_settings(connection)
        url = f"{settings.base_url}/v1/tickets?{urlencode(paging.query(cursor, settings.page_size))}"
        body = (await api.request("GET", url)).json()
        if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
            raise ApiError("the helpdesk answered without a list of tickets", transient=True)
        tickets, following, mark, _ = paging.advance(cursor, body["tickets"], body.get("next_page_token"))
        return Page(records=tickets, next_cursor=following, watermark=mark)

    # -- how to load ----------------------------------------------------------------------------------------
    def table(self, stream: str) -> TableSpec:
        if stream != STREAM:
            raise ValueError(f"the helpdesk has no table for {stream!r}")
        return tables.TICKETS

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord:
        self.table(stream)
        return tables.to_raw(record)


def _classify(response: Response, token_secret: str) -> Verdict:
    """Throttles become a durable wait (Retry-After seconds), server errors a retry, a refused token a clear fail."""
    if response.status == 200:
        return Verdict.ok()
    if response.status == 429:
        told = response.retry_after()
        wait = 60.0 if told is None else max(1.0, told)
        return Verdict("throttle", "the helpdesk asked to slow down", retry_after=wait)
    if response.status in (401, 403):
        return Verdict("fail", f"the helpdesk refused the API token (HTTP {response.status}): put a valid token in "
                               f"the secret {token_secret}")
    if response.status >= 500:
        return Verdict("retry", f"the helpdesk answered HTTP {response.status}")
    return Verdict("fail", f"the helpdesk answered HTTP {response.status}: {response.body[:300]!r}")
