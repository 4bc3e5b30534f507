"""The small protocol every source plugin implements; activities only talk to plugins through it.

A plugin names its streams, plans where each starts, fetches one page at a time (QuickBooks by
query position, monday by GraphQL cursor: both fit an opaque JSON cursor), and turns a record into
a RawRecord for its raw table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.db.connections import Connection
from shared.db.loader import RawRecord, TableSpec
from shared.http import ApiClient


@dataclass(frozen=True)
class StreamPlan:
    """Where one stream starts in this run; `cursor` is plugin-defined JSON."""

    stream: str
    cursor: dict[str, Any]


@dataclass
class Page:
    """One fetched page: its records, where the next page starts (None at the end) and the watermark after it."""

    records: list[dict[str, Any]]
    next_cursor: dict[str, Any] | None
    watermark: dict[str, Any] | None = None
    dropped_duplicates: int = 0
    notes: list[str] = field(default_factory=list)


class SourcePlugin(Protocol):
    """What a source plugin provides."""

    name: str

    def streams(self, connection: Connection) -> list[str]: ...

    def plan(self, connection: Connection, stream: str, mode: str, watermark: dict[str, Any] | None) -> StreamPlan:
        """Start of a full run, or of an incremental run from the stored watermark."""
        ...

    def api_client(self, connection: Connection, session: Any) -> ApiClient: ...

    async def fetch_page(self, api: ApiClient, connection: Connection, stream: str,
                         cursor: dict[str, Any]) -> Page: ...

    def table(self, stream: str) -> TableSpec: ...

    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        """The (table stream, record) pairs one landed record loads into: itself, or its parts."""
        ...

    def to_raw(self, stream: str, record: dict[str, Any]) -> RawRecord: ...


class BasePlugin:
    """Defaults a plugin may inherit: a landed record loads as itself into its own stream's table."""

    def split(self, stream: str, record: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        return ((stream, record),)


def load_plugin(name: str) -> SourcePlugin:
    """The plugin package `plugins.<name>` exposes PLUGIN; no central registry to edit."""
    import importlib

    if not name.isidentifier():
        raise ValueError(f"Plugin name {name!r} is not a valid package name")
    try:
        module = importlib.import_module(f"plugins.{name}")
    except ModuleNotFoundError as exc:
        raise ValueError(f"No plugin named {name!r} (expected package plugins/{name}/)") from exc
    return module.PLUGIN
__all__ = ["BasePlugin", "Connection", "Page", "SourcePlugin", "StreamPlan", "load_plugin"]
