"""Where a read of the tickets starts (the run's watermark) and where its next page starts (the API's token).

The API filters `updated_since` inclusively, so a run asks again from the newest timestamp the last run saw and
drops the ids it already took at exactly that timestamp: a ticket changed in the same second as the last one
read is not skipped, and none is loaded twice. The watermark after each page is safe to resume from, because
the API returns tickets in (updated_at, id) order: a run that fails half-way starts the next one from there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.core.convert import as_instant
from shared.core.incremental import Boundary, split

_BEGINNING = dt.datetime.min.replace(tzinfo=dt.UTC)

# The cursor: {"since": ISO | None, "seen": [ids at since], "token": page token | None, "mark": watermark}.
# The watermark: {"since": ISO, "seen": [ids at since]}, stored per stream by the load that lands its page.


def parse_ts(value: Any) -> dt.datetime:
    """The API's timestamps are ISO 8601 with an offset or Z; one without is refused, not guessed (shared rules)."""
    parsed = as_instant(value)
    if parsed is None:
        raise ValueError("a ticket without a timestamp")
    return parsed


def start_cursor(watermark: dict[str, Any] | None) -> dict[str, Any]:
    """From the stored watermark (an incremental run), or from the beginning (a complete read)."""
    if watermark and watermark.get("since"):
        mark = {"since": watermark["since"], "seen": list(watermark.get("seen", []))}
        return {**mark, "token": None, "mark": mark}
    return {"since": None, "seen": [], "token": None, "mark": None}


def query(cursor: dict[str, Any], page_size: int) -> dict[str, str]:
    """The request parameters of the page at `cursor`; an incremental read also asks for the deleted tickets."""
    params = {"page_size": str(page_size)}
    if cursor.get("since"):
        params |= {"updated_since": cursor["since"], "include_deleted": "true"}
    if cursor.get("token"):
        params["page_token"] = cursor["token"]
    return params


def advance(cursor: dict[str, Any], tickets: list[dict[str, Any]],
            next_token: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None, int]:
    """(tickets to load, the next page's cursor or None, the watermark after this page, duplicates dropped).

    The boundary is the watermark of the read so far (the stored one at the start of an incremental read,
    nothing at the start of a complete one), so the shared boundary rule both drops what was taken and moves it.
    """
    mark = cursor.get("mark")
    boundary = Boundary(parse_ts(mark["since"]), frozenset(mark["seen"])) if mark else Boundary(_BEGINNING)
    page = split(tickets, boundary, value_of=lambda t: as_instant(t.get("updated_at")), id_of=lambda t: str(t["id"]))
    if page.after is not None and page.newest is not None:
        mark = {"since": page.newest["updated_at"], "seen": sorted(page.after.seen)}
    following = {**cursor, "token": next_token, "mark": mark} if next_token else None
    return page.fresh, following, mark, page.dropped
