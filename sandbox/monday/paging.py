"""Cursor paging of items: `items_page`, `next_items_page` and `items_page_by_column_values`.

Like monday, the first page fixes the result set (the matching item ids, in board order) and the cursor
points into it. A recorded cursor decodes to "1,<board>,<set key>,<total>,<offset>,|<checksum>"; the
simulator's cursors have the same layout. A cursor expires 60 minutes after the first page of its set was
requested; `cursor` is null after the last page. Items deleted, archived or moved away after the first
page are skipped when a later page is read, so a page can be shorter than `limit`.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .clock import SimClock
from .model import Item, MondayAccount

PAGE_DEFAULT = 25
PAGE_MAX = 500
CURSOR_TTL_SECONDS = 3600.0
_FORGET_AFTER_SECONDS = 86_400.0  # an expired set is still recognised (as expired) for a day
_SALT = "monday-sim"


@dataclass
class ResultSet:
    key: str
    account_id: str
    board_id: str
    item_ids: list[str]
    opened_at: float  # SimClock.elapsed() when the first page was requested


def check_limit(limit: int | None, *, maximum: int = PAGE_MAX) -> int:
    value = PAGE_DEFAULT if limit is None else limit
    if value < 1 or value > maximum:
        raise errors.invalid_argument(f"limit must be between 1 and {maximum}", limit=value)
    return value


class CursorStore:
    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._sets: dict[str, ResultSet] = {}
        self._serial = 0

    def open(self, account_id: str, board_id: str, item_ids: list[str]) -> ResultSet:
        now = self._clock.elapsed()
        for key in [k for k, s in self._sets.items() if now - s.opened_at > _FORGET_AFTER_SECONDS]:
            del self._sets[key]
        self._serial += 1
        key = base64.urlsafe_b64encode(hashlib.sha1(f"{_SALT}:{self._serial}".encode()).digest()).decode()[:21]
        result = ResultSet(key, account_id, board_id, list(item_ids), now)
        self._sets[key] = result
        return result

    def encode(self, result: ResultSet, offset: int) -> str | None:
        if offset >= len(result.item_ids):
            return None
        payload = f"1,{result.board_id},{result.key},{len(result.item_ids)},{offset},"
        check = zlib.crc32(f"{payload}{_SALT}".encode())
        return base64.urlsafe_b64encode(f"{payload}|{check}".encode()).decode().rstrip("=")

    def decode(self, cursor: str, account_id: str) -> tuple[ResultSet, int]:
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            payload, check = text.rsplit("|", 1)
            _, _board, key, _total, offset, _ = payload.split(",")
            valid = zlib.crc32(f"{payload}{_SALT}".encode()) == int(check)
        except ValueError:
            raise errors.cursor_invalid() from None
        result = self._sets.get(key)
        if not valid or result is None or result.account_id != account_id:
            raise errors.cursor_invalid()
        if self._clock.elapsed() - result.opened_at >= CURSOR_TTL_SECONDS:
            raise errors.cursor_expired()
        return result, int(offset)

    def expire_all(self) -> None:
        """Age every open result set past its lifetime (the "cursor_expired" fault)."""
        for result in self._sets.values():
            result.opened_at = min(result.opened_at, self._clock.elapsed() - CURSOR_TTL_SECONDS)


def _visible(account: MondayAccount, board_id: str) -> Callable[[str], Item | None]:
    def lookup(item_id: str) -> Item | None:
        item = account.items.get(item_id)
        return item if item is not None and item.state == "active" and item.board_id == board_id else None
    return lookup


def read_page(store: CursorStore, account: MondayAccount, result: ResultSet, offset: int, limit: int) -> dict[str, Any]:
    end = min(offset + limit, len(result.item_ids))
    lookup = _visible(account, result.board_id)
    items = [item for item in (lookup(i) for i in result.item_ids[offset:end]) if item is not None]
    return {"cursor": store.encode(result, end), "items": items}


def first_page(store: CursorStore, account: MondayAccount, board_id: str, item_ids: list[str],
               limit: int) -> dict[str, Any]:
    result = store.open(account.id, board_id, item_ids)
    return read_page(store, account, result, 0, limit)


def next_page(store: CursorStore, account: MondayAccount, cursor: str, limit: int) -> dict[str, Any]:
    result, offset = store.decode(cursor, account.id)
    return read_page(store, account, result, offset, limit)
