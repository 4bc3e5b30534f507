"""Failures a test can queue up: the ways QBO and its gateway are seen to fail."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

# "401" answers one request as unauthenticated and leaves the token valid; "expire_token" ends the presented
# access token's life there and then (as an hour passing would), so only a refreshed token works again.
FAULT_KINDS = frozenset({"429", "429_xml", "500", "503", "timeout", "truncated", "fault_in_200", "401",
                         "expire_token"})
DEFAULT_HANG_SECONDS = 130.0  # longer than QBO's own 120 s limit, so a client timeout must fire first


@dataclass
class PendingFault:
    kind: str
    remaining: int
    path_contains: str | None


class FaultInjector:
    def __init__(self, hang_seconds: float = DEFAULT_HANG_SECONDS) -> None:
        self.hang_seconds = hang_seconds
        self._pending: list[PendingFault] = []
        self._released = asyncio.Event()

    def inject(self, kind: str, count: int = 1, path_contains: str | None = None) -> None:
        """Queue `count` failures of `kind` for requests whose path contains `path_contains` (any if None)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self._pending.append(PendingFault(kind, count, path_contains))

    def take(self, path: str) -> str | None:
        """Consume the first queued fault matching this request path (first in, first out)."""
        for pending in self._pending:
            if pending.path_contains is None or pending.path_contains in path:
                pending.remaining -= 1
                if pending.remaining == 0:
                    self._pending.remove(pending)
                return pending.kind
        return None

    def pending(self) -> list[dict[str, object]]:
        return [{"kind": p.kind, "remaining": p.remaining, "path_contains": p.path_contains} for p in self._pending]

    def clear(self) -> None:
        self._pending.clear()

    async def hang(self) -> None:
        """Hold a request open like a stuck upstream; ends early when the server shuts down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), timeout=self.hang_seconds)

    def release(self) -> None:
        self._released.set()
