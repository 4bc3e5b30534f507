"""Simulated time shared by every API simulator."""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class SimClock:
    """Simulated time: starts at a fixed instant, runs at real speed unless frozen, and can be advanced.

    Everything time-dependent in a simulator reads its clock, so a test can jump over a throttle window,
    a token lifetime, a cursor's hour or a day instantly.
    """

    def __init__(self, start: datetime, *, frozen: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start needs a UTC offset")
        self._start = start
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
