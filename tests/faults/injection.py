"""Simulator middlewares for the fault suite: faults at a steady rate, and edits made while an entity is paged.

Both sit in front of a simulator's own middleware (tests/faults/sources.py `serving`): they queue a fault in the
simulator's fault queue (sandbox/*/faults.py) just before the request reaches it, or change its data between two
pages, on the simulator's own event loop."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Any]


class FaultRate:
    """Strikes `rate` of the API requests (seeded, so a run is repeatable), the kinds in turn."""

    def __init__(self, rate: float, kinds: tuple[str, ...], inject: Callable[[str, web.Request], None],
                 is_api: Callable[[web.Request], bool], seed: int = 13) -> None:
        self.rate, self.kinds, self._inject, self._is_api = rate, kinds, inject, is_api
        self._random = random.Random(seed)
        self.requests = 0
        self.struck: Counter[str] = Counter()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._is_api(request):
            self.requests += 1
            if self._random.random() < self.rate:
                kind = self.kinds[sum(self.struck.values()) % len(self.kinds)]
                self._inject(kind, request)
                self.struck[kind] += 1
        return await handler(request)


def qbo_fault_rate(state: Any, rate: float) -> FaultRate:
    """QuickBooks: 500 and 503, a 200 whose body stops half-way, and 429 (the gateway's throttle)."""
    return FaultRate(rate, ("500", "truncated", "429", "503"),
                     lambda kind, request: state.faults.inject(kind, 1, path_contains=request.path),
                     lambda request: request.path.startswith("/v3/company/"))


def monday_fault_rate(state: Any, rate: float) -> FaultRate:
    """monday: 500, a 200 whose JSON stops half-way, and 429 (the per-minute limit, retry in 1 s)."""

    def inject(kind: str, _: web.Request) -> None:
        state.faults.inject(kind, 1, retry_in_seconds=1 if kind == "rate_limited" else None)

    return FaultRate(rate, ("500", "malformed", "rate_limited"), inject,
                     lambda request: request.path.rstrip("/") == "/v2")


class EditWhilePaging:
    """Once armed, runs `edit` after the `after`-th request that `matches` (between two pages of an entity)."""

    def __init__(self, matches: Callable[[web.Request], bool], edit: Callable[[], None]) -> None:
        self._matches, self._edit = matches, edit
        self._after: int | None = None
        self.seen = 0
        self.done = False

    def arm(self, after: int) -> None:
        self._after, self.seen = after, 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if self._after is not None and not self.done and self._matches(request):
            self.seen += 1
            if self.seen == self._after:
                self._edit()
                self.done = True
        return response
