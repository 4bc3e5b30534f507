"""The fault queue every simulator shares: failures a test queues by kind and count, each taken by the first
request it matches, first in, first out, and the hang a "timeout" fault holds a request in.

A simulator supplies its fault kinds, what a queued fault matches on (a path, a board, a field), and what
each kind answers; sandbox/admin.py serves the queue under /_sim/faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Generic, TypeVar

from aiohttp import web


@dataclass
class QueuedFault:
    """A queued fault: its kind and how many more requests it strikes. A simulator adds what it matches on."""

    kind: str
    remaining: int

    def describe(self) -> dict[str, object]:
        return asdict(self)


Fault = TypeVar("Fault", bound=QueuedFault)


class FaultQueue(Generic[Fault]):
    """Queued faults of a simulator's `kinds`, consumed one request at a time."""

    def __init__(self, kinds: frozenset[str], hang_seconds: float) -> None:
        self.kinds = kinds
        self.hang_seconds = hang_seconds
        self._pending: list[Fault] = []
        self._released = asyncio.Event()

    def _queue(self, fault: Fault) -> None:
        if fault.kind not in self.kinds:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {sorted(self.kinds)}")
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        self._check(fault)
        self._pending.append(fault)

    def _check(self, fault: Fault) -> None:
        """A simulator's own rule for a fault's fields; raise ValueError to refuse it."""

    def _take_first(self, matches: Callable[[Fault], bool]) -> Fault | None:
        """Consume one strike of the first queued fault that `matches` (first in, first out)."""
        fault = next((f for f in self._pending if matches(f)), None)
        if fault is not None:
            fault.remaining -= 1
            if fault.remaining == 0:
                self._pending.remove(fault)
        return fault

    def pending(self) -> list[dict[str, object]]:
        return [fault.describe() for fault in self._pending]

    def clear(self) -> None:
        self._pending.clear()

    async def hang(self) -> None:
        """Hold a request open like a stuck upstream; ends early when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout=self.hang_seconds)

    def release(self) -> None:
        self._released.set()

    def release_on_shutdown(self, app: web.Application) -> None:
        """Let "timeout" faults end when `app` stops instead of holding its shutdown for the whole hang."""

        async def release(_: web.Application) -> None:
            self.release()

        app.on_shutdown.append(release)
