"""When business happens: a landscaping company's year (busy spring and summer, quiet winter), steady
growth, and quiet weekends. Deterministic given the RNG."""

from __future__ import annotations

import bisect
import random
from datetime import date, timedelta

# Relative activity per calendar month (January first).
MONTH_WEIGHT = (0.45, 0.55, 0.9, 1.3, 1.55, 1.6, 1.5, 1.4, 1.2, 0.95, 0.6, 0.5)
WEEKDAY_WEIGHT = (1.0, 1.05, 1.05, 1.0, 0.95, 0.35, 0.15)
GROWTH_PER_YEAR = 0.25


class DaySampler:
    """Draws business dates in [first, last] with probability proportional to season x growth x weekday."""

    def __init__(self, first: date, last: date) -> None:
        self.days: list[date] = []
        cumulative: list[float] = []
        total = 0.0
        day = first
        while day <= last:
            years = (day - first).days / 365.25
            total += MONTH_WEIGHT[day.month - 1] * WEEKDAY_WEIGHT[day.weekday()] * (1 + GROWTH_PER_YEAR) ** years
            self.days.append(day)
            cumulative.append(total)
            day += timedelta(days=1)
        self._cumulative = cumulative
        self._total = total

    def draw(self, rng: random.Random) -> date:
        return self.days[bisect.bisect_left(self._cumulative, rng.random() * self._total)]
