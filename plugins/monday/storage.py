"""What the monday plugin keeps in PostgreSQL and reads back, and the only monday module that runs SQL.

MondayStore is what the rest of the plugin needs from storage: the boards the boards stream loaded (planning
the item streams), a board's live items (tombstoning them when the board is deleted) and the daily call
counter. MondayStorage implements it over the one connection an activity lends the plugin for a plan or a
fetch (plugins.base.SourcePlugin.storage); tests hand the plugin an in-memory store instead.

monday caps calls per account per UTC day (reset 00:00 UTC, failed calls count). Every process that calls an
account reserves each call here first, in one atomic statement on monday_api_calls_daily (migration 0020), so
several workers together never go past the cap. The lent connection is in autocommit: each reservation is
committed, and so seen by every other worker, before the call it admits is sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import psycopg

from plugins.monday.boards import BoardInfo
from shared.db.shared_budget import SharedBudgets
from shared.tokens.connection_secrets import load_secret
from shared.tokens.crypto import Keyring


class MondayStore(Protocol):
    """What the monday plugin reads and writes in storage."""

    def known_boards(self, connection_id: str) -> dict[str, BoardInfo]:
        """Every board row of the connection (what the boards stream loaded) with its status columns in order."""
        ...

    def live_items(self, connection_id: str, board_id: str) -> list[tuple[str, dt.datetime]]:
        """(id, updated_at) of the items loaded for a board and not tombstoned."""
        ...

    def calls_today(self, account_key: str) -> int: ...

    def reserve_call(self, account_key: str, cap: int) -> int | None:
        """Count one call against today's cap; the new count, or None when the cap is already reached."""
        ...

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        """monday said the daily cap is reached (someone else spent it): stop asking until tomorrow."""
        ...

    def api_token(self, connection_id: str, name: str, keyring: Keyring) -> str | None:
        """The API token given through the API, decrypted; None when none is stored."""
        ...

    def shared_budgets(self) -> SharedBudgets | None:
        """The minute budgets every worker shares (shared/db/shared_budget.py); None: this process keeps them."""
        ...


_BOARDS = """
SELECT id, state, board_type, to_char(board_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       deleted_at IS NOT NULL, subitems_board_id
FROM monday_board WHERE connection_id = %s"""

_STATUS_COLUMNS = """
SELECT board_id, column_id, settings FROM monday_column
WHERE connection_id = %s AND type = 'status' AND deleted_at IS NULL
ORDER BY board_id, position"""

_LIVE_ITEMS = """
SELECT id, updated_at FROM monday_item WHERE connection_id = %s AND board_id = %s AND deleted_at IS NULL"""

_TODAY = "(now() AT TIME ZONE 'UTC')::date"

_RESERVE = f"""
INSERT INTO monday_api_calls_daily AS d (account_key, day, calls)
VALUES (%(account)s, {_TODAY}, 1)
ON CONFLICT (account_key, day) DO UPDATE SET calls = d.calls + 1, updated_at = now()
WHERE d.calls < %(cap)s
RETURNING calls"""

_EXHAUSTED = f"""
INSERT INTO monday_api_calls_daily AS d (account_key, day, calls)
VALUES (%(account)s, {_TODAY}, %(cap)s)
ON CONFLICT (account_key, day) DO UPDATE SET calls = greatest(d.calls, %(cap)s), updated_at = now()"""

_CALLS_TODAY = f"SELECT calls FROM monday_api_calls_daily WHERE account_key = %s AND day = {_TODAY}"


class MondayStorage:
    """MondayStore over a connection the activity opened and will close (this class never opens one)."""

    def __init__(self, db: psycopg.Connection) -> None:
        self._db = db

    def known_boards(self, connection_id: str) -> dict[str, BoardInfo]:
        boards = {row[0]: BoardInfo(*row) for row in self._db.execute(_BOARDS, (connection_id,))}
        for board_id, column_id, settings in self._db.execute(_STATUS_COLUMNS, (connection_id,)):
            if board_id in boards:
                boards[board_id].status_columns.append((column_id, settings or {}))
        return boards

    def live_items(self, connection_id: str, board_id: str) -> list[tuple[str, dt.datetime]]:
        return self._db.execute(_LIVE_ITEMS, (connection_id, board_id)).fetchall()

    def calls_today(self, account_key: str) -> int:
        row = self._db.execute(_CALLS_TODAY, (account_key,)).fetchone()
        return int(row[0]) if row else 0

    def reserve_call(self, account_key: str, cap: int) -> int | None:
        if not self._db.autocommit:
            # Inside a transaction the reservation would hold the day's row lock, and so stall every other worker
            # of the account, until the caller commits; and a rollback would forget calls monday already counted.
            raise RuntimeError("monday daily-cap reservations need an autocommit connection")
        row = self._db.execute(_RESERVE, {"account": account_key, "cap": cap}).fetchone()
        return None if row is None else int(row[0])

    def mark_exhausted(self, account_key: str, cap: int) -> None:
        self._db.execute(_EXHAUSTED, {"account": account_key, "cap": cap})

    def api_token(self, connection_id: str, name: str, keyring: Keyring) -> str | None:
        return load_secret(self._db, connection_id, name, keyring)

    def shared_budgets(self) -> SharedBudgets:
        return SharedBudgets(self._db)
