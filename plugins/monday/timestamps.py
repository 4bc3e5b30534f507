"""The time formats monday uses: ISO 8601 with "Z", plain dates, and activity logs' 17-digit 100 ns counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.core.convert import as_instant


def parse_ts(value: Any) -> dt.datetime | None:
    """An aware UTC instant from monday's ISO text ("2025-10-24T18:26:35Z"); None for empty values.

    The rules are shared.core.convert.as_instant's, with the zone monday documents for offset-less values: UTC.
    """
    parsed = as_instant(value, naive_zone=dt.UTC)
    return None if parsed is None else parsed.astimezone(dt.UTC)


def parse_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value not in (None, "") else None


def parse_log_stamp(value: Any) -> dt.datetime:
    """Activity log `created_at`: 100 ns units since the epoch, as a 17-digit string."""
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"activity log created_at {value!r} is not a count of 100 ns units")
    units = int(text)
    seconds, rest = divmod(units, 10_000_000)
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=rest // 10)


def iso(moment: dt.datetime) -> str:
    """The form the plugin writes into cursors, watermarks and query filters."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def latest(current: str | None, candidate: dt.datetime | None) -> str | None:
    """The later of a stored ISO instant and a new one, as ISO text."""
    if candidate is None:
        return current
    if current is None or parse_ts(current) < candidate:  # type: ignore[operator]
        return iso(candidate)
    return current
