"""Shared state of one demo-company generation: the seeded RNG, the company clock and the drafts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from .clock import format_timestamp

USD = {"value": "USD", "name": "United States Dollar"}


@dataclass
class Draft:
    """A record being generated, with its history kept apart until ids and metadata are final."""

    entity: str
    record: dict[str, Any]
    created: datetime
    updated: datetime
    sync: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # QBO's ExchangeRate carries only LastUpdatedTime in its MetaData.
    only_last_updated: bool = False

    def touch(self, moment: datetime) -> None:
        # A side effect (e.g. a customer's balance moving) bumps LastUpdatedTime but not SyncToken,
        # as the recorded customer "Amy's Bird Sanctuary" shows.
        if moment > self.updated:
            self.updated = moment

    def edit(self, moment: datetime) -> None:
        self.sync += 1
        self.touch(moment)

    @property
    def id(self) -> str:
        return str(self.record["Id"])


@dataclass
class GenContext:
    """Moments are kept in UTC: adding a timedelta to a zone-aware datetime moves wall time, which is
    an hour off across a daylight-saving change. The company zone is applied only when formatting."""

    rng: random.Random
    tz: tzinfo
    as_of: datetime
    history_start: datetime
    _address_id: int = 0

    def __post_init__(self) -> None:
        self.as_of = self.as_of.astimezone(UTC)
        self.history_start = self.history_start.astimezone(UTC)

    def local_moment(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)

    def ts(self, moment: datetime) -> str:
        return format_timestamp(moment, self.tz)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def at_business_hours(self, day: date) -> datetime:
        """A moment during the working day (07:30-18:30 local) of `day`, never after `as_of`."""
        seconds = self.rng.randint(7 * 3600 + 1800, 18 * 3600 + 1800)
        moment = self.local_moment(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60))
        latest = self.as_of - timedelta(minutes=1)
        if moment > latest:
            # Spread what would land in the future over the last hours instead of piling it on one instant.
            return self.moment_between(latest - timedelta(hours=12), latest)
        return moment

    def moment_between(self, low: datetime, high: datetime) -> datetime:
        low, high = low.astimezone(UTC), high.astimezone(UTC)
        if high <= low:
            return low
        span = int((high - low).total_seconds())
        return low + timedelta(seconds=self.rng.randint(0, span))

    def after(self, moment: datetime, *, at_least: timedelta = timedelta(hours=1),
              within: timedelta = timedelta(days=30)) -> datetime:
        """A later moment for an edit of something that happened at `moment`, still before `as_of`."""
        latest = self.as_of - timedelta(seconds=1)
        low = min(moment + at_least, latest)
        return self.moment_between(low, max(low, min(moment + within, latest)))

    def next_address_id(self) -> str:
        self._address_id += 1
        return str(self._address_id)

    def meta(self, draft: Draft) -> dict[str, str]:
        if draft.only_last_updated:
            return {"LastUpdatedTime": self.ts(draft.updated)}
        return {"CreateTime": self.ts(draft.created), "LastUpdatedTime": self.ts(draft.updated)}


def base_fields() -> dict[str, Any]:
    """The IntuitEntity fields every record carries; Id/SyncToken/MetaData are filled at the end."""
    return {"domain": "QBO", "sparse": False, "Id": None, "SyncToken": "0", "MetaData": {}}


def assign_ids(drafts: list[Draft], start: int = 1) -> None:
    """Number drafts in creation order, as QBO's counters do."""
    for index, draft in enumerate(sorted(drafts, key=lambda d: d.created)):
        draft.record["Id"] = str(start + index)


def finalize(ctx: GenContext, drafts: list[Draft]) -> None:
    for draft in drafts:
        # The pseudo tax codes TAX and NON come without a SyncToken, as QBO lists them.
        if "SyncToken" in draft.record:
            draft.record["SyncToken"] = str(draft.sync)
        draft.record["MetaData"] = ctx.meta(draft)


def insert_after(record: dict[str, Any], anchor: str, key: str, value: Any) -> None:
    """Place `key` right after `anchor` (or at the end), keeping the field order QBO writes."""
    items = [(k, v) for k, v in record.items() if k != key]
    record.clear()
    placed = False
    for k, v in items:
        record[k] = v
        if k == anchor:
            record[key] = value
            placed = True
    if not placed:
        record[key] = value
