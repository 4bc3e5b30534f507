"""The ids a landed record holds, per target table, as a complete read's sweep counts them.

One rule for both places that collect them: the load, for a record it cannot type (it keeps the ids of the
records it typed from their rows), and the sweep, for a page whose load kept no ids (shared/db/pages.py
keep_seen_ids). A sweep must see the same ids whichever of the two collected them.
"""

from __future__ import annotations

from typing import Any

from plugins.base import SourcePlugin
from shared.db.storable import UNSTORABLE

# What a plugin's record_id (or to_raw) raises for a record it cannot read.
UNREADABLE = (ValueError, TypeError, KeyError, AttributeError)


def record_ids(plugin: SourcePlugin, stream: str, record: Any) -> list[tuple[str, str]] | None:
    """(target, id) of each part the record loads into; None when a part has no id at all (a sweep that cannot
    tell which rows it saw must not tombstone any). Raises what the plugin's split raises."""
    seen: list[tuple[str, str]] = []
    complete = True
    for target, part in plugin.split(stream, record):  # read to its end: a split that raises late still raises
        try:
            # Only the id: typing each record again (to_raw) was half of a sweep's time.
            seen.append((target, plugin.record_id(target, part)))
        except UNREADABLE:
            raw_id = part.get("Id", part.get("id")) if isinstance(part, dict) else None
            if raw_id in (None, ""):
                complete = False
            else:
                seen.append((target, str(raw_id)))
    # An id holding a character PostgreSQL cannot store is no stored row's (such a record is quarantined): the sweep
    # has nothing to keep for it, and could not send it to the database.
    return [(target, found) for target, found in seen if not UNSTORABLE.search(found)] if complete else None
