"""A backfill run: the transaction entities changed since a date, read by keyset query, without a complete read.

Each transaction entity the connection reads is paged exactly as a complete read pages it (paging.py: from
Metadata.LastUpdatedTime >= 00:00 UTC of the date, keyset on (LastUpdatedTime, Id), the boundary rules of
shared/core/incremental.py), only starting at the date instead of the beginning of time. What it does not do:

- No delete sweep: it does not see every row, so a row it did not see is not gone. Hard deletes stay the change
  feed's (CDC reports them) and the next complete read's.
- Name lists, the tax lists, CompanyInfo/Preferences/ExchangeRate and the reports are left to the next incremental
  run: lists are few and CDC or their own watermark keeps them current; the reports' latest window is refreshed
  by every incremental run. A backfill is for transactions whose stored rows must be read again.
- It stores no watermark and moves no CDC window. Its pages carry no watermark (the loader then writes none), so
  neither an entity's keyset watermark nor the "cdc" window can move backwards or forwards because of it:
  * the CDC window (after_run) says up to where every change has been taken; a backfill reads only some entities
    and no deletes, so moving it would skip what it did not read, and it has no reason to lower it;
  * an entity's keyset watermark holds the time a complete read started, from which after_run starts CDC; a
    backfill's newest record may even be older than the stored one (that one deleted since), so storing its
    position could move it back.
  Loading is a version-guarded upsert, so records read again load as unchanged, a row whose stored copy differs
  from the source at the same version is corrected, and a newer stored version is never replaced by an older one.
"""

from __future__ import annotations

from typing import Any

from plugins.base import Page, Plan, StreamPlan
from plugins.quickbooks.streams import STREAMS
from shared.core.backfill import MODE, parse_since, since_instant

__all__ = ["FLAG", "MODE", "is_backfill", "page", "plan"]

# In a backfill stream's cursor: this read keeps no watermark (see above). Carried from page to page.
FLAG = "backfill"


def plan(entities: list[str], since: str | None) -> Plan:
    """One keyset stream per transaction entity the connection reads, from 00:00 UTC of `since`; no sweep."""
    try:
        day = parse_since(since)
    except ValueError as exc:
        return Plan(streams=[], refused=f"QuickBooks backfill: {exc}")
    chosen = [entity for entity in entities if STREAMS[entity].kind == "txn"]
    if not chosen:
        return Plan(streams=[], refused="QuickBooks backfill: this connection reads no transaction entity "
                                        "(config.streams), and a backfill re-reads transactions only")
    start = {"ts": since_instant(day).isoformat(), "seen": [], FLAG: True}
    note = (f"backfill from {day.isoformat()}: re-read {len(chosen)} transaction entities changed since then; "
            "lists, reports and deletes are left to the next incremental run, and no watermark moved")
    # establishes_cdc False: after_run leaves the change-data-capture window where it is.
    return Plan(streams=[StreamPlan(entity, dict(start)) for entity in chosen], context={"establishes_cdc": False},
                notes=[note])


def is_backfill(cursor: dict[str, Any]) -> bool:
    return bool(cursor.get(FLAG))


def page(records: list[dict[str, Any]], position: dict[str, Any], done: bool) -> Page:
    """A backfill page: the records, the next cursor (the keyset position, still flagged), and no watermark."""
    return Page(records=records, next_cursor=None if done else {**position, FLAG: True}, watermark=None)
