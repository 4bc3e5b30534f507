"""The simulator's clock and the timestamp formats monday.com uses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sandbox.clock import SimClock as BaseSimClock

DEFAULT_START = "2026-05-04T09:00:00Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO date or date-time ("Z" allowed) into an aware UTC instant; ValueError if it is not one."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # monday reads offset-less timestamps as UTC
    return value.astimezone(UTC)


class SimClock(BaseSimClock):
    """The monday simulator's clock (updated_at stamps, cursor expiry, per-minute windows, the daily reset)."""

    def __init__(self, start: str | datetime = DEFAULT_START, *, frozen: bool = False) -> None:
        begin = parse_instant(start) if isinstance(start, str) else start
        if begin.tzinfo is None:
            raise ValueError("SimClock start needs a UTC offset")
        super().__init__(begin.astimezone(UTC), frozen=frozen)

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
