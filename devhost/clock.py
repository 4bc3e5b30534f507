"""Host clock: real UTC, or virtual UTC that can jump forward to the next durable timer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# The SDK writes fireAt with this format (azure.durable_functions.constants.DATETIME_STRING_FORMAT).
EVENT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# The extension's status payload uses seconds precision: CreatedTime.ToString("s") + "Z".
STATUS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_ts(moment: datetime) -> str:
    """ISO 8601 UTC text with microseconds, fixed width so stored values sort as text."""
    return to_utc(moment).strftime(EVENT_FORMAT)


def format_status_ts(moment: datetime) -> str:
    """Seconds-precision UTC text, as the extension's status API returns it."""
    return to_utc(moment).strftime(STATUS_FORMAT)


def parse_ts(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC."""
    return to_utc(datetime.fromisoformat(text))


def to_utc(moment: datetime) -> datetime:
    """Return an aware UTC datetime (naive input is assumed to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Clock:
    """UTC now, plus an offset that only grows when virtual time jumps to a timer."""

    def __init__(self, *, virtual: bool, offset_seconds: float = 0.0,
                 persist: Callable[[float], None] | None = None) -> None:
        self.virtual = virtual
        self._offset = timedelta(seconds=offset_seconds if virtual else 0.0)
        self._persist = persist
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current host time (aware UTC)."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance_to(self, moment: datetime) -> bool:
        """Jump virtual time forward to `moment`; returns False in real-time mode or if already past it."""
        if not self.virtual:
            return False
        with self._lock:
            gap = to_utc(moment) - (datetime.now(UTC) + self._offset)
            if gap <= timedelta(0):
                return False
            self._offset += gap
            offset = self._offset.total_seconds()
        if self._persist is not None:
            # Persisted so that a resumed host never hands the SDK a clock older than a fired timer.
            self._persist(offset)
        return True
