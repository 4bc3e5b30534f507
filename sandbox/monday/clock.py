"""The simulator's clock and the timestamp formats monday.com uses."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

DEFAULT_START = "2026-05-04T09:00:00Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO date or date-time ("Z" allowed) into an aware UTC instant; ValueError if it is not one."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # monday reads offset-less timestamps as UTC
    return value.astimezone(UTC)


class SimClock:
    """Simulated time: starts at a fixed instant, runs at real speed unless frozen, and can be advanced.

    Everything time-dependent in the simulator (updated_at stamps, cursor expiry, per-minute windows,
    the daily reset at 00:00 UTC) reads this clock, so a test can jump over an hour or a day instantly.
    """

    def __init__(self, start: str | datetime = DEFAULT_START, *, frozen: bool = False) -> None:
        begin = parse_instant(start) if isinstance(start, str) else start
        if begin.tzinfo is None:
            raise ValueError("SimClock start needs a UTC offset")
        self._start = begin.astimezone(UTC)
        self._frozen = frozen
        self._offset = 0.0
        self._t0 = time.monotonic()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def elapsed(self) -> float:
        """Simulated seconds since the clock started (monotonic: it never goes back)."""
        running = 0.0 if self._frozen else time.monotonic() - self._t0
        return self._offset + running

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    def seconds_to_midnight_utc(self) -> int:
        now = self.now()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return max(1, int((midnight - now).total_seconds() + 0.999))


def iso_z(moment: datetime) -> str:
    """Entity timestamps as monday writes them: UTC, whole seconds, "Z" ("2025-10-24T18:26:35Z")."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(moment: datetime) -> str:
    """`changed_at` inside column value JSON carries milliseconds ("2024-07-24T06:52:06.013Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def log_stamp(moment: datetime) -> str:
    """Activity log `created_at`: a 17-digit count of 100 ns units since the epoch (api-facts)."""
    return str(int(moment.timestamp()) * 10_000_000 + moment.microsecond * 10)


def day_text(day: date) -> str:
    return day.isoformat()
