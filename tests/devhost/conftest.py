"""Fixtures: local hosts on a temporary store, driving the sample app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost import LocalDurableHost
from tests.devhost.sample_app import app

HostFactory = Callable[..., LocalDurableHost]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "devhost.sqlite"


@pytest.fixture
def make_host(store_path: Path) -> Iterator[HostFactory]:
    hosts: list[LocalDurableHost] = []

    def make(**options: Any) -> LocalDurableHost:
        options.setdefault("virtual_time", True)
        host = LocalDurableHost(app, store_path, **options)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


@pytest.fixture
def host(make_host: HostFactory) -> LocalDurableHost:
    return make_host()


def events(history: list[dict[str, Any]]) -> list[tuple[int, int | None]]:
    """(EventType, id) per event: EventId for scheduling events, the referenced task id for completions."""
    out = []
    for e in history:
        ref = e.get("TaskScheduledId", e.get("TimerId"))
        out.append((e["EventType"], e["EventId"] if e["EventId"] >= 0 else ref))
    return out


def without_episode_markers(history: list[dict[str, Any]]) -> list[tuple[int, int | None]]:
    """events() minus OrchestratorStarted/Completed, which only delimit episodes."""
    return [pair for pair in events(history) if pair[0] not in (12, 13)]


def episodes(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history cut into episodes (each starts with OrchestratorStarted)."""
    out: list[list[dict[str, Any]]] = []
    for e in history:
        if e["EventType"] == 12:
            out.append([])
        if out:
            out[-1].append(e)
    return out
