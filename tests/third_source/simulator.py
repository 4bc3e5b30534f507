"""A tiny helpdesk API for the example source: one paged REST endpoint, in memory, served in-process.

    GET /v1/tickets?page_size=N[&updated_since=ISO][&include_deleted=true][&page_token=T]
    Authorization: Bearer <token>
    -> 200 {"tickets": [...], "next_page_token": "..." | null}

Tickets come in (updated_at, id) order; `updated_since` is inclusive; the page token is a keyset position
(the last ticket's updated_at and id), so a ticket changed while a read pages on moves behind the read
instead of shifting the rest. A hard delete leaves a tombstone ({"id", "deleted": true, "updated_at"}) that
only reads with include_deleted=true return; `purge` removes a ticket without one (a delete no feed reports).
Faults: `throttle(count, retry_after)` answers the next requests 429 with Retry-After.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

STATUSES = ("open", "pending", "solved")
MAX_PAGE = 500


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class HelpdeskState:
    """Every ticket by id (tombstones included), the valid tokens, the clock and the pending faults."""

    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    now: dt.datetime = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    requests: int = 0
    _throttles: list[int] = field(default_factory=list)

    @classmethod
    def generate(cls, *, tickets: int, token: str, seed: int = 3, days: int = 40) -> HelpdeskState:
        """`tickets` tickets created over `days` days before the clock's start, some updated since."""
        state = cls(tokens={token})
        rng = random.Random(seed)
        start = state.now - dt.timedelta(days=days)
        for number in range(1, tickets + 1):
            created = start + dt.timedelta(seconds=rng.randrange(days * 86400))
            updated = created + dt.timedelta(seconds=rng.randrange(3 * 86400))
            state.tickets[number] = {
                "id": number, "title": f"Ticket {number}", "status": rng.choice(STATUSES),
                "amount": str(Decimal(rng.randrange(0, 50000)) / 100),
                "created_at": _iso(created), "updated_at": _iso(min(updated, state.now)),
            }
        return state

    def _tick(self) -> str:
        self.now += dt.timedelta(seconds=1)
        return _iso(self.now)

    # -- what a test does to the data -------------------------------------------------------------------
    def create(self, title: str, *, status: str = "open", amount: str = "0.00") -> dict[str, Any]:
        number = max(self.tickets, default=0) + 1
        stamp = self._tick()
        self.tickets[number] = {"id": number, "title": title, "status": status, "amount": amount,
                                "created_at": stamp, "updated_at": stamp}
        return self.tickets[number]

    def update(self, number: int, **changes: Any) -> dict[str, Any]:
        self.tickets[number] = {**self.tickets[number], **changes, "updated_at": self._tick()}
        return self.tickets[number]

    def delete(self, number: int) -> None:
        self.tickets[number] = {"id": number, "deleted": True, "updated_at": self._tick()}

    def purge(self, number: int) -> None:
        del self.tickets[number]

    def live(self) -> dict[str, dict[str, Any]]:
        """The tickets that exist, by id as text (how the database keys them)."""
        return {str(n): t for n, t in self.tickets.items() if not t.get("deleted")}

    def throttle(self, count: int, retry_after: int) -> None:
        self._throttles += [retry_after] * count

    # -- the API -----------------------------------------------------------------------------------------
    def page(self, params: dict[str, str]) -> dict[str, Any]:
        size = int(params.get("page_size", "100"))
        if not 1 <= size <= MAX_PAGE:
            raise web.HTTPBadRequest(text=json.dumps({"error": f"page_size must be 1-{MAX_PAGE}"}))
        since = params.get("updated_since")
        after = _decode(params["page_token"]) if params.get("page_token") else None
        rows = sorted((t for t in self.tickets.values()
                       if params.get("include_deleted") == "true" or not t.get("deleted")),
                      key=_position)
        rows = [t for t in rows if (since is None or _moment(t["updated_at"]) >= _moment(since))
                and (after is None or _position(t) > after)]
        page = rows[:size]
        more = len(rows) > size
        return {"tickets": page, "next_page_token": _encode(_position(page[-1])) if more else None}


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _position(ticket: dict[str, Any]) -> tuple[dt.datetime, int]:
    return _moment(ticket["updated_at"]), int(ticket["id"])


def _encode(position: tuple[dt.datetime, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps([_iso(position[0]), position[1]]).encode()).decode()


def _decode(token: str) -> tuple[dt.datetime, int]:
    try:
        stamp, number = json.loads(base64.urlsafe_b64decode(token.encode()))
        return _moment(stamp), int(number)
    except (ValueError, TypeError) as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": "invalid page_token"})) from exc


def create_app(state: HelpdeskState) -> web.Application:
    async def tickets(request: web.Request) -> web.Response:
        state.requests += 1
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in state.tokens:
            return web.json_response({"error": "invalid token"}, status=401)
        if state._throttles:
            retry_after = state._throttles.pop(0)
            return web.json_response({"error": "rate limited"}, status=429,
                                     headers={"Retry-After": str(retry_after)})
        return web.json_response(state.page(dict(request.query)))

    app = web.Application()
    app.router.add_get("/v1/tickets", tickets)
    return app
