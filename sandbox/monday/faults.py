"""Failures a test can queue up: the ways monday and its edge are seen (or documented) to fail.

Kinds and where they strike:
- complexity_exhausted, rate_limited, daily_limit: the request is refused as the real limit would
  refuse it (HTTP 429, Retry-After, the version's error shape); nothing is charged.
- 500: HTTP 500 with monday's internal error body. error_in_200: HTTP 200, the query runs, its first
  root field is replaced by an INTERNAL_SERVER_ERROR entry (partial data).
- malformed: HTTP 200 whose JSON stops half-way. timeout: the request hangs (longer than monday's own
  60 s limit), then 504.
- cursor_expired: the next request that presents a cursor gets CursorException.
- unauthorized_board: the next request that reads the board (`board_id`, or any board) gets
  USER_UNAUTHORIZED (403 in an HTTP 200) for that field.
- unauthorized_field: the next request that asks for the root field `field` (e.g. "users", as for a token
  without the users:read scope) gets USER_UNAUTHORIZED for it; the rest of the request answers.
`count` is how many requests a fault affects.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.faults import FaultQueue, QueuedFault

FAULT_KINDS = frozenset({"complexity_exhausted", "rate_limited", "daily_limit", "500", "error_in_200", "malformed",
                         "cursor_expired", "unauthorized_board", "unauthorized_field", "timeout"})
REQUEST_KINDS = frozenset({"complexity_exhausted", "rate_limited", "daily_limit", "500", "error_in_200", "malformed",
                           "timeout"})
DEFAULT_HANG_SECONDS = 75.0  # longer than monday's 60 s call timeout, so a client timeout must fire first


@dataclass
class PendingFault(QueuedFault):
    board_id: str | None = None
    retry_in_seconds: int | None = None
    field: str | None = None


class FaultInjector(FaultQueue[PendingFault]):
    def __init__(self, hang_seconds: float = DEFAULT_HANG_SECONDS) -> None:
        super().__init__(FAULT_KINDS, hang_seconds)

    def inject(self, kind: str, count: int = 1, *, board_id: str | int | None = None,
               retry_in_seconds: int | None = None, field: str | None = None) -> None:
        """Queue `count` failures of `kind`; `board_id` narrows unauthorized_board, `field` names the root field
        of unauthorized_field, `retry_in_seconds` sets what the limit faults tell the client."""
        self._queue(PendingFault(kind, count, None if board_id is None else str(board_id), retry_in_seconds, field))

    def _check(self, fault: PendingFault) -> None:
        if (fault.kind == "unauthorized_field") != (fault.field is not None):
            raise ValueError("unauthorized_field needs `field` (a root field such as users), and only it takes one")

    def take_request_fault(self) -> PendingFault | None:
        """The first queued fault that strikes a whole request (first in, first out)."""
        return self._take_first(lambda f: f.kind in REQUEST_KINDS)

    def take(self, kind: str, board_id: str | None = None, field: str | None = None) -> PendingFault | None:
        """Consume a queued fault of `kind` that applies to `board_id` (or to any board) and to `field`."""
        return self._take_first(lambda f: f.kind == kind and f.field == field
                                and (f.board_id is None or board_id is None or f.board_id == board_id))
