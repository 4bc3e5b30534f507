"""Activity log entries, in the shape `boards { activity_logs { id event entity data created_at user_id } }` reads.

Event names and `data` keys follow monday's (create_pulse, update_column_value, update_name,
move_pulse_into_group, move_pulse_into_board, move_pulse_from_board, archive_pulse, delete_pulse,
restore_pulse, create_update); ids are UUID-shaped and derived from a per-account counter so that
two generations of the same demo account are identical.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from .model import ActivityLog, Board, Item, MondayAccount


def _log_id(account: MondayAccount) -> str:
    serial = account.new_id("log")
    digest = hashlib.sha1(f"{account.id}:{serial}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _pulse(account: MondayAccount, board: Board, item: Item) -> dict[str, Any]:
    group = board.group(item.group_id)
    data: dict[str, Any] = {"board_id": int(board.id), "group_id": item.group_id,
                            "group_name": group.title if group else None, "pulse_id": int(item.id),
                            "pulse_name": item.name}
    if item.parent_id is not None:
        data["parent_item_id"] = int(item.parent_id)
    return data


def record(account: MondayAccount, board: Board, item: Item | None, event: str, moment: datetime, user_id: str,
           **extra: Any) -> ActivityLog:
    data = _pulse(account, board, item) if item is not None else {"board_id": int(board.id)}
    data.update(extra)
    entry = ActivityLog(id=_log_id(account), board_id=board.id, event=event,
                        entity="pulse" if item is not None else "board", data=data, created_at=moment,
                        user_id=user_id)
    account.log(entry)
    return entry
