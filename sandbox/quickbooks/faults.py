"""Failures a test can queue up: the ways QBO and its gateway are seen to fail."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.faults import FaultQueue, QueuedFault

# "401" answers one request as unauthenticated and leaves the token valid; "expire_token" ends the presented
# access token's life there and then (as an hour passing would), so only a refreshed token works again.
FAULT_KINDS = frozenset({"429", "429_xml", "500", "503", "timeout", "truncated", "fault_in_200", "401",
                         "expire_token"})
DEFAULT_HANG_SECONDS = 130.0  # longer than QBO's own 120 s limit, so a client timeout must fire first


@dataclass
class PendingFault(QueuedFault):
    path_contains: str | None


class FaultInjector(FaultQueue[PendingFault]):
    def __init__(self, hang_seconds: float = DEFAULT_HANG_SECONDS) -> None:
        super().__init__(FAULT_KINDS, hang_seconds)

    def inject(self, kind: str, count: int = 1, path_contains: str | None = None) -> None:
        """Queue `count` failures of `kind` for requests whose path contains `path_contains` (any if None)."""
        self._queue(PendingFault(kind, count, path_contains))

    def take(self, path: str) -> str | None:
        """Consume the first queued fault matching this request path (first in, first out)."""
        fault = self._take_first(lambda f: f.path_contains is None or f.path_contains in path)
        return fault.kind if fault is not None else None
