"""The monday.com plugin: account-wide lists, then every board's items, subitems, column values and activity
log, within the account's budgets, in the API version the connection pins."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from plugins.base import BasePlugin, Budget, Connection, DemoSource, LiveBudget, Page, Plan
from plugins.monday import backfill, items, lists, planning
from plugins.monday.budget import AccountBudget, CallGate, live_budgets, shared_key
from plugins.monday.client import MondayClient, classifier_for
from plugins.monday.dashboards import DASHBOARDS
from plugins.monday.demo import demo_source
from plugins.monday.metrics import CATALOG
from plugins.monday.settings import API_TOKEN, MondaySettings, read_settings
from plugins.monday.storage import MondayStorage, MondayStore
from plugins.monday.tables import TABLES, split_board
from shared.core.secrets import secrets_provider
from shared.db.loader import RawRecord, TableSpec
from shared.tokens.crypto import Keyring

KIND_TABLES = {"workspace": "workspaces", "user": "users", "team": "teams", "tag": "tags", "update": "updates",
               "item": "items", "activity_log": "activity_logs"}
ACCOUNT_FETCHERS = {"directory": lists.fetch_directory, "boards": lists.fetch_boards, "updates": lists.fetch_updates}
SWEPT_TABLES = {"directory": ("workspaces", "users", "teams", "tags"), "boards": ("boards", "groups", "columns"),
                "updates": ("updates",)}


class MondayPlugin(BasePlugin):
    name = "monday"
    metrics = CATALOG
    dashboards = DASHBOARDS
    migrations = Path(__file__).with_name("migrations")

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        # One budget per monday account, shared by every activity of this process. Tests give a simulated clock.
        self._budgets: dict[str, AccountBudget] = {}
        self._clock = clock
        self._sleep = sleep

    def storage(self, db: psycopg.Connection) -> MondayStore:
        return MondayStorage(db)

    # -- what to read -------------------------------------------------------------------------------------------
    def plan(self, connection: Connection, mode: str, watermarks: dict[str, dict[str, Any]],
             calls_this_month: int, phase: int = 0, failed: Mapping[str, str] | None = None,
             store: MondayStore | None = None, changed: list[str] | None = None,
             since: str | None = None) -> Plan:
        """`changed` (hints from plugins/monday/webhooks.py) narrows an incremental run to the boards it names
        when that is safe (planning.focus); otherwise the run is the normal one and its notes say why."""
        try:
            settings = read_settings(connection)
        except ValueError as exc:
            return Plan(streams=[], refused=str(exc))
        store = _required(store)
        if mode == backfill.MODE:
            return backfill.plan(settings, since, store)
        if phase == 0:
            if changed and mode == "incremental":
                focused, why_not = planning.focus(settings, watermarks, list(changed), store)
                if focused is not None:
                    return focused
                plan = planning.account_phase(settings, store)
                plan.notes.append(f"changes announced, but {why_not}: the normal incremental run instead")
                return plan
            return planning.account_phase(settings, store)
        if phase == 1:
            return planning.items_phase(settings, mode, watermarks, failed or {}, store)
        return planning.closing_phase(failed or {})

    @property
    def router(self) -> Any:
        # Imported on demand: FastAPI is needed only where the API app includes routes.
        from plugins.monday.routes import router

        return router

    def sweep_scope(self, stream: str) -> dict[str, dict[str, str]]:
        """A complete read of a board covers that board's items only; the account streams cover their tables."""
        if stream.startswith(planning.ITEMS_PREFIX):
            return {"items": {"board_id": stream.removeprefix(planning.ITEMS_PREFIX)}}
        return {table: {} for table in SWEPT_TABLES.get(stream, ())}

    # -- how to read --------------------------------------------------------------------------------------------
    def budget_for(self, settings: MondaySettings) -> AccountBudget:
        budget = self._budgets.get(settings.account_key)
        if (budget is None or budget.limits != settings.limits or budget.max_sleep != settings.max_inline_wait
                or budget.minute_share != settings.minute_share):
            budget = AccountBudget(settings.account_key, settings.limits, daily_share=settings.daily_share,
                                   max_sleep=settings.max_inline_wait, clock=self._clock, sleep=self._sleep,
                                   minute_share=settings.minute_share)
            self._budgets[settings.account_key] = budget
        return budget

    async def open_api(self, connection: Connection, session: aiohttp.ClientSession,
                       store: MondayStore | None = None) -> MondayClient:
        """A client whose calls are counted against the daily cap in `store`, the storage this fetch was lent."""
        store = _required(store)
        settings = read_settings(connection)
        token = await _api_token(settings, store)
        # monday takes the bare token; the version is pinned on every request.
        session.headers.update({"Authorization": token, "API-Version": settings.api_version})
        budget = self.budget_for(settings)
        # A fetch's storage shares the account's minute budgets with every worker; a test's in-memory store (no
        # shared_budgets) leaves them to this process.
        shared = getattr(store, "shared_budgets", lambda: None)()
        if shared is not None:
            budget = budget.shared_by_workers(shared)
        gate = CallGate(budget, store)
        return MondayClient(
            session, classify=classifier_for(budget, store),
            policy=settings.retry,
            governor=gate, redact=(token,), settings=settings, budget=budget, gate=gate, store=store)

    async def fetch_page(self, api: Any, connection: Connection, stream: str, cursor: dict[str, Any]) -> Page:
        if not isinstance(api, MondayClient):
            raise TypeError("the monday plugin fetches through the client its open_api returned")
        if stream.startswith(planning.ITEMS_PREFIX):
            return await items.fetch(api, cursor)
        try:
            fetcher = ACCOUNT_FETCHERS[stream]
        except KeyError:
            raise ValueError(f"monday has no stream {stream!r}") from None
        return await fetcher(api, cursor)

    # -- how to load --------------------------------------------------------------------------------------------
    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        kind = record.get("kind") if isinstance(record, dict) else None
        if kind == "board":
            return split_board(record)
        if kind not in KIND_TABLES or not isinstance(record.get("record"), dict):
            raise ValueError(f"not a monday envelope (kind {kind!r})")
        return ((KIND_TABLES[kind], record),)

    def table(self, stream: str) -> TableSpec:
        if stream.startswith(planning.ITEMS_PREFIX):
            stream = "items"
        try:
            return TABLES[stream].spec
        except KeyError:
            raise ValueError(f"monday has no table for {stream!r}") from None

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord:
        if stream not in TABLES:
            raise ValueError(f"monday has no table for {stream!r}")
        return TABLES[stream].row(record)

    def demo(self) -> DemoSource:
        return demo_source()

    # -- what the API shows and manages -------------------------------------------------------------------------
    stored_credentials = (API_TOKEN,)

    def check_settings(self, connection: Connection) -> None:
        read_settings(connection)

    def budgets(self, connection: Connection, store: MondayStore | None, calls_this_month: int,
                now: dt.datetime) -> list[Budget]:
        """monday caps calls per account per UTC day; connections to one account share the cap."""
        settings = read_settings(connection)
        used = _required(store).calls_today(settings.account_key)
        tomorrow = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
        return [Budget("calls_today", used, settings.limits.daily_calls,
                       dt.datetime.combine(tomorrow, dt.time(), dt.UTC),
                       shared_by=f"every connection to monday account {settings.account_key}",
                       holder=self.meter(connection), sync_share=settings.daily_share,
                       remedy=f"raise daily_call_share (now {settings.daily_share:g}), move the account to a plan with "
                              f"more daily calls (plan {settings.plan}: {settings.limits.daily_calls:,}; pro 10,000, "
                              "enterprise 25,000), or make SYNC_SCHEDULE less frequent")]

    def meter(self, connection: Connection) -> str:
        """monday caps calls per account: connections to one account share its budgets."""
        return shared_key(read_settings(connection).account_key)

    def live_budgets(self, connection: Connection) -> list[LiveBudget]:
        """The account's complexity points, requests per minute and requests in flight, as its workers share them."""
        settings = read_settings(connection)
        return live_budgets(settings.account_key, settings.limits, settings.minute_share)

    def deferrable(self, stream: str) -> bool:
        # Workspaces, users, teams and tags change rarely; boards, items and updates are what the metrics read.
        return stream == "directory"


async def _api_token(settings: MondaySettings, store: MondayStore) -> str:
    """The token given through the API (stored encrypted with the connection), else the configured secret."""
    if settings.token_stored:
        keyring = await asyncio.to_thread(Keyring.from_secrets)
        token = store.api_token(settings.connection_id, API_TOKEN, keyring)
        if token:
            return token
        if settings.token_secret is None:
            raise ValueError(f"monday connection {settings.connection_id}: no API token is stored; give one "
                             "through the API (PATCH /api/connections/{id}) or set api_token_secret")
    assert settings.token_secret is not None  # read_settings requires one of the two
    return await asyncio.to_thread(secrets_provider().get, settings.token_secret)


def _required(store: MondayStore | None) -> MondayStore:
    if store is None:
        # Planning reads the loaded boards and every call is counted against the daily cap: both need storage.
        raise TypeError("the monday plugin plans and fetches with the storage its activity lends it (store=)")
    return store
