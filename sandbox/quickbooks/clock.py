"""The simulator's clock and the timestamp formats QuickBooks uses."""

from __future__ import annotations

import math
from datetime import date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from sandbox.clock import SimClock as BaseSimClock

DEFAULT_START = "2026-11-01T12:00:00-07:00"


class SimClock(BaseSimClock):
    """The QuickBooks simulator's clock (timestamps, the `time` field, throttle windows, token expiry)."""

    def __init__(self, start: str | datetime = DEFAULT_START, *, frozen: bool = False) -> None:
        super().__init__(parse_instant(start) if isinstance(start, str) else start, frozen=frozen)


def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def format_timestamp(moment: datetime, tz: tzinfo) -> str:
    """Entity timestamp as QBO writes it: whole seconds, company-local offset ("2015-07-24T10:48:22-07:00")."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def format_response_time(moment: datetime, tz: tzinfo) -> str:
    """The envelope's `time` field: milliseconds and offset ("2020-09-29T06:03:53.438-07:00")."""
    return moment.astimezone(tz).isoformat(timespec="milliseconds")


def epoch_millis(moment: datetime) -> int:
    # The gateway's lowercase 401 body carries `time` as epoch milliseconds, not ISO.
    return math.floor(moment.timestamp() * 1000)


def format_date(day: date) -> str:
    return day.isoformat()


@lru_cache(maxsize=65536)
def _parse_cached(text: str, tz_name: str | None) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        # QBO reads an offset-less literal in the company's own time zone.
        value = value.replace(tzinfo=ZoneInfo(tz_name) if tz_name else ZoneInfo("UTC"))
    return value


def parse_instant(text: str, tz_name: str | None = None) -> datetime:
    """Parse an ISO date or date-time into an aware instant; raises ValueError when it is not one."""
    return _parse_cached(text, tz_name)


def truncate_to_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
