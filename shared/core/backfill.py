"""The start date of a backfill run (mode "backfill"): read once here by the API, the CLI and the plugins alike.

A backfill re-reads what changed since 00:00 UTC of a calendar date, without a complete read. The date is written
YYYY-MM-DD (nothing else: a time or a zone would suggest a precision the sources' filters do not promise), may
not lie in the future (there is nothing to read), and not before EARLIEST: neither source holds business data
from before it, so an earlier date is a typo (e.g. 0026 for 2026) rather than a wish.
"""

from __future__ import annotations

import datetime as dt
import re

MODE = "backfill"
EARLIEST = dt.date(2000, 1, 1)
_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_since(text: object, today: dt.date | None = None) -> dt.date:
    """The date `text` names; ValueError saying what is wrong with it otherwise (`today`: UTC, for tests)."""
    if not isinstance(text, str) or not _FORMAT.fullmatch(text):
        raise ValueError(f"since must be a date written YYYY-MM-DD (e.g. 2026-01-01), not {str(text)[:40]!r}")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"since {text!r} is not a calendar date") from None
    today = today or dt.datetime.now(dt.UTC).date()
    if day > today:
        raise ValueError(f"since {text} is in the future (today is {today.isoformat()} UTC): nothing changed there yet")
    if day < EARLIEST:
        raise ValueError(f"since {text} is before {EARLIEST.isoformat()}, the earliest date a backfill reads from")
    return day


def since_instant(day: dt.date) -> dt.datetime:
    """Where a backfill from `day` starts: 00:00 UTC of that day."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)
