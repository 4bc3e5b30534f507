"""The small protocol every source plugin implements; activities only talk to plugins through it.

A plugin plans a run (which streams, from where), fetches one page at a time (QuickBooks by query
position or CDC window, monday by GraphQL cursor: both fit an opaque JSON cursor), splits a landed
record into the tables it loads into, and turns each part into a RawRecord.

A plugin opens no database connection. What it keeps in storage of its own (tables it reads back, counters) it
reaches through `storage(db)`: the activity lends it one connection for a plan or a fetch, asks the plugin for
its store over it, and hands that store to plan() and open_api(). Only a plugin's storage module runs SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import psycopg

from shared.budgets.live import LiveBudget  # what live_budgets names, as the shared code reads it
from shared.core.http import ApiClient
from shared.core.messages import StreamPlan  # what plan_streams hands the orchestrator, as the plugin states it
from shared.db.connections import Connection
from shared.db.loader import RawRecord, TableSpec
from shared.metrics.catalog import PluginMetrics
from shared.metrics.dashboards import Dashboard
from shared.tokens.store import TokenInfo


@dataclass(frozen=True)
class DemoSource:
    """How `make demo` syncs a source against its local simulator (simulators are never deployed).

    secrets: name -> the simulator's demo credential (not a real secret), set only where nothing else is;
    queries: SQL the demo suggests for looking at the source's data;
    webhook: how the demo's last step shows a webhook moving a metric (None: the source's simulator sends none).
    """

    label: str
    simulator_url: str
    connections: tuple[Connection, ...]
    secrets: Mapping[str, str] = field(default_factory=dict)
    queries: tuple[str, ...] = ()
    webhook: WebhookDemo | None = None


@dataclass(frozen=True)
class DemoChange:
    """One change the demo is about to make in a simulator, and the metric point it moves (dimension '', the
    metric's total). `apply` makes it; until then nothing has changed."""

    description: str
    connection_id: str
    metric: str
    grain: str
    bucket: dt.date
    apply: Callable[[], None]


@dataclass(frozen=True)
class WebhookDemo:
    """How the demo shows a webhook moving a metric: the API route the simulator posts its signed webhooks to,
    pointing the simulator at it (a full URL of that route) and away again, and the change to make (given a database
    connection the demo lends, as activities lend theirs, for the plugin's storage module to read what is stored)."""

    route: str
    subscribe: Callable[[str], None]
    unsubscribe: Callable[[], None]
    prepare_change: Callable[[psycopg.Connection], DemoChange]


@dataclass
class Plan:
    """A run of one connection: its streams, what to remember for after_run, or why it must not run.

    next_phase: plan again once these streams are done (e.g. monday's item streams per board can only be
    planned after the boards stream has loaded the boards).
    """

    streams: list[StreamPlan]
    context: dict[str, Any] = field(default_factory=dict)
    refused: str | None = None
    notes: list[str] = field(default_factory=list)
    next_phase: bool = False


@dataclass
class Page:
    """One fetched page: its records, where the next page starts (None at the end) and the watermark after it."""

    records: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None
    watermark: dict[str, Any] | None = None
    # Cursors to read side by side before the stream goes on from next_cursor (e.g. ranges of a large entity's
    # keyset, one chain each): next_cursor is fetched only once every chain has been read to its end.
    chains: list[dict[str, Any]] = field(default_factory=list)
    # The page from next_cursor is, as far as the source has counted, the stream's last read (a hint: a wrong one
    # only moves when the metric rebuild starts, sync_stream's refresh_ahead, never what is read or loaded).
    last_next: bool = False


@dataclass(frozen=True)
class Budget:
    """A metered allowance of a source: how much of it is used and when it starts again.

    `shared_by` says who else spends it (e.g. every connection of one developer app), since a budget is often
    the account's or the app's rather than the connection's."""

    name: str
    used: int
    limit: int
    resets_at: dt.datetime
    shared_by: str = ""
    # Who owns the allowance, as the plugin's meter() names it (an Intuit app, a monday account); "" the connection.
    holder: str = ""
    # The share of `limit` syncs may spend; the rest is left to the holder's other clients.
    sync_share: float = 1.0
    # What an operator can change when the budget is short (a plan tier, a share, their own developer app).
    remedy: str = ""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def allowance(self) -> int:
        """What syncs may spend of the limit."""
        return int(self.limit * self.sync_share)


@dataclass(frozen=True)
class ReconciliationRow:
    """One month and measure of a source's own report against what the metrics computed (computed - reported)."""

    month: dt.date
    measure: str
    computed: Decimal
    reported: Decimal
    difference: Decimal


# Config keys that hold or name a credential: a connection's public settings leave them out.
SECRET_SETTING = re.compile(r"secret|token|password|credential|private|api_?key", re.IGNORECASE)


class SourcePlugin(Protocol):
    """What a source plugin provides."""

    name: str
    # What it contributes beyond syncing (BasePlugin's defaults: nothing).
    metrics: PluginMetrics | None  # its metric catalog (shared/metrics/README.md)
    dashboards: tuple[Dashboard, ...]  # its Grafana dashboards, rendered by grafana/
    migrations: Path | None  # its SQL migrations folder, applied after core's (shared/db/migrate.py)
    monthly_call_quota: int | None  # metered API calls a month by default (budgets() reports the actual limit)

    def storage(self, db: psycopg.Connection) -> Any:
        """This plugin's store over `db`, the connection the activity lends it for one plan or fetch (the activity
        opens and closes it; in a fetch it is in autocommit); None when the plugin keeps nothing of its own."""
        ...

    def plan(self, connection: Connection, mode: str, watermarks: dict[str, dict[str, Any]],
             calls_this_month: int, phase: int = 0, failed: Mapping[str, str] | None = None,
             store: Any = None) -> Plan:
        """What to read in this phase of a run; `failed` names the streams of earlier phases of the same run
        that failed, with their errors, so a later phase leaves out only what depends on them (and says so);
        `store` is what storage() returned.

        Two keywords arrive only when a run uses them, so a plugin that supports neither need not declare them:
        `changed` (list[str]): hints of what changed, as this plugin's webhook handling named them (an incremental
        run may read only the streams they touch); `since` (ISO date str, mode "backfill"): re-read from that
        date without a complete read."""
        ...

    async def open_api(self, connection: Connection, session: Any, store: Any = None) -> ApiClient:
        """A client for this connection (credentials resolved now, e.g. a fresh OAuth access token); `store`, what
        storage() returned, serves the fetches made through it."""
        ...

    async def fetch_page(self, api: ApiClient, connection: Connection, stream: str,
                         cursor: dict[str, Any]) -> Page: ...

    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        """The (table stream, record) pairs one landed record loads into: itself, or its parts."""
        ...

    def table(self, stream: str) -> TableSpec: ...

    def sweep_scope(self, stream: str) -> dict[str, dict[str, str]] | None:
        """The tables a complete read of `stream` covers, each narrowed to rows whose columns have these values
        (e.g. one board's items); None: every table its records load into, whole."""
        ...

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord: ...

    def record_id(self, stream: str, record: dict[str, Any]) -> str:
        """The id to_raw gives the record, without typing the rest of it (a complete read's sweep needs only the
        ids it saw); raises as to_raw does for a record without one."""
        ...

    def after_run(self, connection: Connection, context: dict[str, Any],
                  stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Watermarks to store once every stream of the run succeeded; `stored` holds the watermarks this run's
        streams stored (by stream), so what a plugin needs from its reads travels in its own watermarks."""
        ...

    # Optional: BasePlugin gives each a default (no routes, no warnings, not in the demo, nothing the API manages).
    router: Any
    # Credentials the API may take for a connection and keep encrypted (shared/tokens/connection_secrets.py).
    stored_credentials: tuple[str, ...]

    def connection_warnings(self, info: TokenInfo) -> list[str]: ...

    def demo(self) -> DemoSource | None: ...

    def check_settings(self, connection: Connection) -> None:
        """Raise ValueError saying which setting to fix; the API validates created and changed settings here."""
        ...

    def public_settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """What of a connection's config a caller may read: never a credential nor a credential's name."""
        ...

    def budgets(self, connection: Connection, store: Any, calls_this_month: int, now: dt.datetime) -> list[Budget]:
        """What the connection's metered allowances have left; `store` is what storage() returned over the caller's
        connection, `calls_this_month` the metered calls this month of every connection with the same meter()
        (shared.db.runs.calls_this_month)."""
        ...

    def meter(self, connection: Connection) -> str:
        """Who meters this connection's calls (an Intuit app, a monday account): connections with the same meter
        spend the same budgets, and calls are counted per meter. "" (the default): the plugin as a whole."""
        ...

    def live_budgets(self, connection: Connection) -> list[LiveBudget]:
        """The budgets the connection's source meters per minute or second (complexity points, requests, requests
        in flight) and that every worker keeps together in the shared tables (shared/db/shared_budget.py): which
        shared budget, what the source allows, what the workers keep to. The API and the dashboards read their state
        (shared/budgets/live.py). ValueError: settings to fix."""
        ...

    def deferrable(self, stream: str) -> bool:
        """Whether a run short of budget may leave this stream for a later run (reports, directories); the
        budget planner (shared/budgets/planner.py) defers these first."""
        ...

    def reconnect_path(self, connection: Connection) -> str | None:
        """The API path an operator opens to connect the account again (OAuth consent); None: not an OAuth source."""
        ...

    def reconciliation(self, db: psycopg.Connection, connection_id: str) -> list[ReconciliationRow] | None:
        """The metrics against the source's own reports, by month; None: the source has no such report."""
        ...


class BasePlugin:
    """Defaults a plugin may inherit."""

    # The plugin's own HTTP routes (a fastapi.APIRouter, e.g. OAuth consent); the API app includes it.
    router: Any = None

    def connection_warnings(self, info: TokenInfo) -> list[str]:
        """What needs attention soon about a connection's stored OAuth tokens (e.g. a consent about to lapse)."""
        return []

    def demo(self) -> DemoSource | None:
        """The demo connections against this source's simulator; None: the demo leaves the source out."""
        return None

    stored_credentials: tuple[str, ...] = ()

    def check_settings(self, connection: Connection) -> None:
        return None

    def public_settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in config.items() if not SECRET_SETTING.search(key)}

    def budgets(self, connection: Connection, store: Any, calls_this_month: int, now: dt.datetime) -> list[Budget]:
        """A plugin that only declares `monthly_call_quota` has that one budget, held by the plugin as a whole."""
        quota = getattr(self, "monthly_call_quota", None)
        if not quota:
            return []
        month = now.astimezone(dt.UTC).date().replace(day=1)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        return [Budget("calls_this_month", calls_this_month, quota, dt.datetime.combine(next_month, dt.time(), dt.UTC),
                       shared_by=f"every {getattr(self, 'name', 'such')} connection")]

    def meter(self, connection: Connection) -> str:
        return ""

    def live_budgets(self, connection: Connection) -> list[LiveBudget]:
        return []

    def deferrable(self, stream: str) -> bool:
        return False

    def reconnect_path(self, connection: Connection) -> str | None:
        return None

    def reconciliation(self, db: psycopg.Connection, connection_id: str) -> list[ReconciliationRow] | None:
        return None
    metrics: PluginMetrics | None = None
    dashboards: tuple[Dashboard, ...] = ()
    migrations: Path | None = None
    monthly_call_quota: int | None = None

    def storage(self, db: psycopg.Connection) -> Any:
        return None

    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        return ((stream, record),)

    def after_run(self, connection: Connection, context: dict[str, Any],
                  stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {}

    def sweep_scope(self, stream: str) -> dict[str, dict[str, str]] | None:
        return None

    def record_id(self, stream: str, record: dict[str, Any]) -> str:
        return self.to_raw(stream, record).id  # type: ignore[attr-defined]  # the subclass's to_raw


__all__ = ["BasePlugin", "Budget", "Connection", "DemoSource", "LiveBudget", "Page", "Plan", "ReconciliationRow",
           "SourcePlugin", "StreamPlan"]
