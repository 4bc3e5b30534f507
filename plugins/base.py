"""The small protocol every source plugin implements; activities only talk to plugins through it.

A plugin plans a run (which streams, from where), fetches one page at a time (QuickBooks by query
position or CDC window, monday by GraphQL cursor: both fit an opaque JSON cursor), splits a landed
record into the tables it loads into, and turns each part into a RawRecord.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.db.connections import Connection
from shared.db.loader import RawRecord, TableSpec
from shared.http import ApiClient
from shared.messages import StreamPlan  # what plan_streams hands the orchestrator, as the plugin states it


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


class SourcePlugin(Protocol):
    """What a source plugin provides."""

    name: str

    def plan(self, connection: Connection, mode: str, watermarks: dict[str, dict[str, Any]],
             calls_this_month: int, phase: int = 0, failed: Mapping[str, str] | None = None) -> Plan:
        """What to read in this phase of a run; `failed` names the streams of earlier phases of the same run
        that failed, with their errors, so a later phase leaves out only what depends on them (and says so)."""
        ...

    async def open_api(self, connection: Connection, session: Any) -> ApiClient:
        """A client for this connection (credentials resolved now, e.g. a fresh OAuth access token)."""
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

    def after_run(self, connection: Connection, context: dict[str, Any],
                  stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Watermarks to store once every stream of the run succeeded; `stored` holds the watermarks this run's
        streams stored (by stream), so what a plugin needs from its reads travels in its own watermarks."""
        ...


class BasePlugin:
    """Defaults a plugin may inherit."""

    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        return ((stream, record),)

    def after_run(self, connection: Connection, context: dict[str, Any],
                  stored: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {}

    def sweep_scope(self, stream: str) -> dict[str, dict[str, str]] | None:
        return None


__all__ = ["BasePlugin", "Connection", "Page", "Plan", "SourcePlugin", "StreamPlan"]
