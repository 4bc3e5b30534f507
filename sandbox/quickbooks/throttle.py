"""QBO's per-realm request limits as sliding windows over simulated time."""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from dataclasses import dataclass

from .clock import SimClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottleLimits:
    """Requests admitted per realm per window; None switches a window off."""

    per_second: int | None = 10
    per_minute: int | None = 500
    # The windows' lengths in seconds: QBO's are 1 and 60; a test scales them down to take seconds, not minutes.
    second_window: float = 1.0
    minute_window: float = 60.0


class Throttle:
    def __init__(self, limits: ThrottleLimits, clock: SimClock) -> None:
        self.limits = limits
        self._clock = clock
        self._admitted: dict[str, deque[float]] = defaultdict(deque)
        self.rejected: dict[str, int] = defaultdict(int)

    def admit(self, realm: str) -> bool:
        """Record the request and say whether it fits both windows; refused ones do not use a slot."""
        now = self._clock.elapsed()
        times = self._admitted[realm]
        while times and times[0] <= now - self.limits.minute_window:
            times.popleft()
        minute, second = self.limits.per_minute, self.limits.per_second
        over_minute = minute is not None and len(times) >= minute
        over_second = False
        if second is not None:
            recent = 0
            for stamp in reversed(times):
                if stamp <= now - self.limits.second_window:
                    break
                recent += 1
            over_second = recent >= second
        if over_minute or over_second:
            self.rejected[realm] += 1
            # Which arrivals filled the window, to tell a client's bunched sends from its rate (bench/).
            recent_gaps = [round(now - stamp, 3) for stamp in list(times)[-(second or 10):]]
            log.info("realm %s throttled (%s window): the latest admitted arrived %s s before this one",
                     realm, "minute" if over_minute else "second", recent_gaps)
            return False
        times.append(now)
        return True

    def reset(self) -> None:
        self._admitted.clear()
