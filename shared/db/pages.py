"""Landed pages as the loads see them: which ones are loaded (exactly once each), and records put aside."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def claim_page(conn: psycopg.Connection, page_ref: str, run_id: str, records: int) -> bool:
    """Record the page as loaded in the caller's transaction; False when an earlier load already committed it."""
    return conn.execute(
        """INSERT INTO loaded_pages (page_ref, run_id, records) VALUES (%s, %s, %s)
           ON CONFLICT (page_ref) DO NOTHING RETURNING 1""",
        (page_ref, run_id, records),
    ).fetchone() is not None


def keep_seen_ids(conn: psycopg.Connection, page_ref: str, ids: Mapping[str, list[str]]) -> None:
    """Keep the ids a page held (per target table) beside its claim, in the caller's (the load's) transaction:
    committed exactly when the page's rows are, so a retried or replayed load finds them or writes them again."""
    conn.execute("INSERT INTO page_seen_ids (page_ref, ids) VALUES (%s, %s) ON CONFLICT (page_ref) DO NOTHING",
                 (page_ref, Jsonb(ids)))


def seen_ids_of(conn: psycopg.Connection, run_id: str,
                prefix: str) -> list[tuple[str, dict[str, list[str]] | None]]:
    """The pages this run loaded under `prefix`, in order, each with the ids its load kept (None: none kept)."""
    return [(row[0], row[1]) for row in conn.execute(
        """SELECT p.page_ref, s.ids FROM loaded_pages p LEFT JOIN page_seen_ids s USING (page_ref)
           WHERE p.run_id = %s AND starts_with(p.page_ref, %s) ORDER BY p.page_ref""",
        (run_id, prefix))]


def forget_seen_ids(conn: psycopg.Connection, page_refs: list[str]) -> None:
    """Drop the kept ids of pages a sweep has read (in its transaction: a sweep that fails keeps them)."""
    conn.execute("DELETE FROM page_seen_ids WHERE page_ref = ANY(%s)", (page_refs,))


def quarantine(conn: psycopg.Connection, connection_id: str, stream: str, run_id: str, page_ref: str,
               position: int, record_id: str | None, reason: str, record: Any) -> None:
    """Put a record that cannot be loaded aside with its reason (once per page position), as PostgreSQL can store
    it (`storable`; the record is whole in its landed page, at `position`)."""
    conn.execute(
        """INSERT INTO quarantine (connection_id, stream, run_id, page_ref, position, record_id, reason, payload)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (page_ref, position) DO NOTHING""",
        (connection_id, stream, run_id, page_ref, position, storable(record_id), storable(reason),
         Jsonb(storable(record))),
    )


# What PostgreSQL stores in no text or jsonb: the character U+0000, a UTF-16 surrogate left alone (a source's JSON
# can send "\\ud800" escaped; UTF-8 has no bytes for it), and numbers that are not finite (Python's JSON reads NaN,
# Infinity and 1e999; jsonb refuses them). A record holding one failed its COPY, and with it every attempt of its
# load. A landed line holds such characters only escaped, and such numbers only as NaN or Infinity
# (shared.core.fastjson), so a record whose text has none of these is not walked.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SIGNS = (b"\\u0000", b"\\ud", b"NaN", b"Infinity")
_KEPT = "the landed page keeps the record whole"


def unstorable_at(record: Any, text: bytes) -> str | None:
    """What in `record` (parsed from the JSON `text`) PostgreSQL cannot store, and where, e.g. "Line[1].Description
    holds U+0000, which ..."; None when it holds nothing of the kind."""
    if not any(sign in text for sign in _SIGNS):
        return None
    return _find(record, "")


def _held(text: str) -> str | None:
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    what = code if code == "U+0000" else f"{code} (half of a UTF-16 surrogate pair, alone)"
    return (f"{what}, which PostgreSQL cannot store in text or jsonb (the quarantined copy shows it as U+FFFD; "
            f"{_KEPT})")


def _find(value: Any, path: str) -> str | None:
    where = path or "the record"
    if isinstance(value, str):
        held = _held(value)
        return None if held is None else f"{where} holds {held}"
    if isinstance(value, float) and not math.isfinite(value):
        return (f"{where} holds the number {_number(value)}, which PostgreSQL cannot store in jsonb (the quarantined "
                f"copy holds it as text; {_KEPT})")
    if isinstance(value, dict):
        for key, item in value.items():
            if (held := _held(str(key))) is not None:
                return f"a key of {where} holds {held}"
            if (found := _find(item, f"{path}.{key}" if path else str(key))) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _find(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def storable(value: Any) -> Any:
    """`value` as PostgreSQL can store it: U+FFFD for each character it cannot, a number that is not finite as its
    text ("Infinity")."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return _number(value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
