"""How many times an NCRONTAB schedule (the Functions timer's six fields: second minute hour day month weekday)
fires between two instants, so the planner knows how many scheduled runs will spend a budget before it resets.

Times are UTC, as the Functions timer reads its schedule unless WEBSITE_TIME_ZONE says otherwise. Fields take
`*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, and three-letter month and weekday names (weekday 0 and 7
are Sunday). As in cron, when both the day of month and the weekday are restricted, a day matching either fires.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (lowest, highest, names mapped to numbers from `first`)
_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
           ("weekday", 0, 7))


@dataclass(frozen=True)
class Schedule:
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def fires_on(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, (day.isoweekday() % 7) in self.weekdays
        if not self.any_day and not self.any_weekday:
            return by_day or by_weekday
        return by_day and by_weekday

    def per_day(self) -> int:
        return len(self.seconds) * len(self.minutes) * len(self.hours)


def _number(text: str, name: str) -> int:
    lowered = text.lower()
    if name == "month" and lowered in _MONTHS:
        return _MONTHS.index(lowered) + 1
    if name == "weekday" and lowered in _DAYS:
        return _DAYS.index(lowered)
    if not text.isdigit():
        raise ValueError(f"schedule field {name}: {text!r} is not a number")
    return int(text)


def _field(text: str, name: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name) if step_text else 1
        if step < 1:
            raise ValueError(f"schedule field {name}: step must be at least 1")
        if span in ("*", "?"):
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-", 1)
            first, last = _number(a, name), _number(b, name)
        else:
            first = _number(span, name)
            last = high if step_text else first
        if not low <= first <= last <= high:
            raise ValueError(f"schedule field {name}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def parse(expression: str) -> Schedule:
    """A six-field NCRONTAB expression; ValueError naming the field that is wrong."""
    parts = expression.split()
    if len(parts) != 6:
        raise ValueError(f"schedule {expression!r} must have six fields: second minute hour day month weekday")
    sets = [_field(text, name, low, high) for text, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in sets[5])
    return Schedule(seconds=tuple(sorted(sets[0])), minutes=tuple(sorted(sets[1])), hours=tuple(sorted(sets[2])),
                    days=frozenset(sets[3]), months=frozenset(sets[4]), weekdays=weekdays,
                    any_day=parts[3] in ("*", "?"), any_weekday=parts[5] in ("*", "?"))


def _fires_within_day(schedule: Schedule, day: dt.date, after: dt.datetime, until: dt.datetime) -> int:
    """Fires on `day` in (after, until], counted per (hour, minute) with the seconds found by bisection."""
    count = 0
    for hour in schedule.hours:
        for minute in schedule.minutes:
            base = dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)
            low = (after - base).total_seconds()
            high = (until - base).total_seconds()
            if high < 0 or low >= 59:
                continue
            # seconds s with low < s <= high
            count += bisect.bisect_right(schedule.seconds, high) - bisect.bisect_right(schedule.seconds, low)
    return count


def fires_between(expression: str | Schedule, after: dt.datetime, until: dt.datetime) -> int:
    """How many times the schedule fires in (after, until]."""
    schedule = parse(expression) if isinstance(expression, str) else expression
    after, until = after.astimezone(dt.UTC), until.astimezone(dt.UTC)
    if until <= after:
        return 0
    count = 0
    day = after.date()
    while day <= until.date():
        if schedule.fires_on(day):
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            whole = after <= start - dt.timedelta(microseconds=1) and start + dt.timedelta(days=1) <= until
            count += schedule.per_day() if whole else _fires_within_day(schedule, day, after, until)
        day += dt.timedelta(days=1)
    return count
