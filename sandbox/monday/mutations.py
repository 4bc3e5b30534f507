"""Changes to an account, as they happen through monday's UI or API: each one stamps `updated_at` with the
moment it is given and writes the activity log entry monday would write.

These functions take the moment and the acting user from the caller (MondayState supplies the sim clock
and the account owner); unknown ids raise KeyError, invalid values ValueError.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import activity, layouts
from .column_values import encode
from .model import Board, Item, MondayAccount, Update

BOARD_STATES = ("active", "archived", "deleted")


def _fresh_id(account: MondayAccount, kind: str, wanted: str | int | None, taken: dict[str, Any]) -> str:
    if wanted is None:
        return account.new_id(kind)
    text = str(wanted)
    if text in taken:
        raise ValueError(f"id {text} is already used")
    return text


def create_board(account: MondayAccount, name: str, *, moment: datetime, user_id: str,
                 workspace_id: str | None = None, board_kind: str = "public", board_id: str | int | None = None,
                 starter_item: bool = True) -> Board:
    """A board as `create_board` makes it: a name column, one group and (as recorded) an item "Task 1"."""
    if board_kind not in ("public", "private", "share"):
        raise ValueError(f"unknown board kind {board_kind!r}")
    workspace = workspace_id or next(iter(account.workspaces), None)
    board = Board(id=_fresh_id(account, "board", board_id, account.boards), name=name, board_kind=board_kind,
                  workspace_id=workspace, created_at=moment, updated_at=moment, creator_id=user_id,
                  groups=[layouts.default_group()], columns=[layouts.name_column()], owner_ids=[user_id],
                  subscriber_ids=[user_id])
    account.boards[board.id] = board
    activity.record(account, board, None, "create_board", moment, user_id, board_name=name)
    if starter_item:
        create_item(account, board.id, "Task 1", moment=moment, user_id=user_id)
    return board


def set_board_state(account: MondayAccount, board_id: str, state: str, *, moment: datetime, user_id: str) -> Board:
    if state not in BOARD_STATES:
        raise ValueError(f"unknown board state {state!r}")
    board = account.board(board_id)
    previous, board.state, board.updated_at = board.state, state, moment
    if board.subitems_board_id in account.boards:  # the subitems board shares its parent's fate
        account.boards[board.subitems_board_id].state = state
    event = {"active": "restore_board", "archived": "archive_board", "deleted": "delete_board"}[state]
    activity.record(account, board, None, event, moment, user_id, previous_state=previous)
    return board


def ensure_subitems_board(account: MondayAccount, board: Board, *, moment: datetime, user_id: str) -> Board:
    """The board that holds `board`'s subitems, made (with a "Subitems" column) on first use, as monday does."""
    if board.subitems_board_id is not None:
        return account.board(board.subitems_board_id)
    sub = Board(id=account.new_id("board"), name=f"Subitems of {board.name}", board_kind=board.board_kind,
                workspace_id=board.workspace_id, created_at=moment, updated_at=moment, creator_id=user_id,
                groups=[layouts.subitem_group()], columns=layouts.subitem_board_columns(),
                owner_ids=list(board.owner_ids), subscriber_ids=list(board.subscriber_ids),
                object_type="sub_items_board", parent_board_id=board.id)
    account.boards[sub.id] = sub
    board.subitems_board_id = sub.id
    if board.column("subitems") is None:
        board.columns.insert(1, layouts.subitems_column(sub.id))
    return sub


def _apply_values(account: MondayAccount, board: Board, item: Item, values: dict[str, Any] | None,
                  moment: datetime) -> list[tuple[str, Any, Any]]:
    changes = []
    for column_id, raw in (values or {}).items():
        column = board.column(column_id)
        if column is None:
            raise KeyError(f"column {column_id} does not exist on board {board.id}")
        stored = encode(column, raw)
        previous = item.values.get(column_id)
        item.values[column_id] = stored
        item.changed_at[column_id] = moment
        changes.append((column_id, previous, stored))
    return changes


def create_item(account: MondayAccount, board_id: str, name: str, *, moment: datetime, user_id: str,
                group_id: str | None = None, column_values: dict[str, Any] | None = None,
                item_id: str | int | None = None, parent_id: str | None = None) -> Item:
    board = account.board(board_id)
    group = board.group(group_id) if group_id else next((g for g in board.groups if not g.archived), None)
    if group is None:
        raise KeyError(f"group {group_id} does not exist on board {board.id}")
    item = Item(id=_fresh_id(account, "item", item_id, account.items), board_id=board.id, group_id=group.id, name=name,
                created_at=moment, updated_at=moment, creator_id=user_id, parent_id=parent_id)
    _apply_values(account, board, item, column_values, moment)
    account.items[item.id] = item
    board.item_ids.append(item.id)
    board.updated_at = moment
    activity.record(account, board, item, "create_pulse", moment, user_id)
    return item


def create_subitem(account: MondayAccount, parent_id: str, name: str, *, moment: datetime, user_id: str,
                   column_values: dict[str, Any] | None = None, item_id: str | int | None = None) -> Item:
    parent = account.item(parent_id)
    sub_board = ensure_subitems_board(account, account.board(parent.board_id), moment=moment, user_id=user_id)
    sub = create_item(account, sub_board.id, name, moment=moment, user_id=user_id, column_values=column_values,
                      item_id=item_id, parent_id=parent.id)
    parent.subitem_ids.append(sub.id)
    return sub


def change_column_values(account: MondayAccount, item_id: str, values: dict[str, Any], *, moment: datetime,
                         user_id: str) -> Item:
    item = account.item(item_id)
    board = account.board(item.board_id)
    for column_id, previous, stored in _apply_values(account, board, item, values, moment):
        column = board.column(column_id)
        activity.record(account, board, item, "update_column_value", moment, user_id, column_id=column_id,
                        column_type=column.type if column else None, column_title=column.title if column else None,
                        value=stored, previous_value=previous)
    item.updated_at = board.updated_at = moment
    return item


def rename_item(account: MondayAccount, item_id: str, name: str, *, moment: datetime, user_id: str) -> Item:
    item = account.item(item_id)
    previous, item.name = item.name, name
    board = account.board(item.board_id)
    item.updated_at = board.updated_at = moment
    activity.record(account, board, item, "update_name", moment, user_id, value={"name": name},
                    previous_value={"name": previous})
    return item


def move_item_to_group(account: MondayAccount, item_id: str, group_id: str, *, moment: datetime,
                       user_id: str) -> Item:
    item = account.item(item_id)
    board = account.board(item.board_id)
    if board.group(group_id) is None:
        raise KeyError(f"group {group_id} does not exist on board {board.id}")
    source, item.group_id = item.group_id, group_id
    item.updated_at = board.updated_at = moment
    activity.record(account, board, item, "move_pulse_into_group", moment, user_id,
                    source_group={"id": source}, dest_group={"id": group_id})
    return item


def move_item_to_board(account: MondayAccount, item_id: str, board_id: str, *, moment: datetime, user_id: str,
                       group_id: str | None = None) -> Item:
    """Move an item; values of columns the target board lacks are dropped (monday asks the user to map them).
    Its subitems stay where they are and remain its subitems."""
    item = account.item(item_id)
    source, target = account.board(item.board_id), account.board(board_id)
    group = target.group(group_id) if group_id else next((g for g in target.groups if not g.archived), None)
    if group is None:
        raise KeyError(f"group {group_id} does not exist on board {target.id}")
    source.item_ids.remove(item.id)
    target.item_ids.append(item.id)
    item.board_id, item.group_id = target.id, group.id
    item.values = {k: v for k, v in item.values.items() if target.column(k) is not None}
    item.updated_at = source.updated_at = target.updated_at = moment
    activity.record(account, source, item, "move_pulse_from_board", moment, user_id,
                    dest_board={"id": int(target.id)})
    activity.record(account, target, item, "move_pulse_into_board", moment, user_id,
                    source_board={"id": int(source.id)})
    return item


def set_item_state(account: MondayAccount, item_id: str, state: str, *, moment: datetime, user_id: str) -> Item:
    """Archive, delete or restore an item; its subitems follow it, as they do in monday."""
    if state not in BOARD_STATES:
        raise ValueError(f"unknown item state {state!r}")
    item = account.item(item_id)
    event = {"active": "restore_pulse", "archived": "archive_pulse", "deleted": "delete_pulse"}[state]
    for target in [item, *(account.items[s] for s in item.subitem_ids if s in account.items)]:
        board = account.board(target.board_id)
        target.state = state
        target.updated_at = board.updated_at = moment
        activity.record(account, board, target, event, moment, user_id)
    return item


def add_update(account: MondayAccount, item_id: str, body: str, *, moment: datetime, user_id: str) -> Update:
    item = account.item(item_id)
    update = Update(id=account.new_id("update"), item_id=item.id, creator_id=user_id, body=f"<p>{body}</p>",
                    text_body=body, created_at=moment, updated_at=moment)
    account.updates[update.id] = update
    item.update_ids.append(update.id)
    board = account.board(item.board_id)
    # Not known whether a new update moves the item's updated_at; leaving it alone is the strict case for
    # a sync that filters on __last_updated__ (it must read updates some other way).
    activity.record(account, board, item, "create_update", moment, user_id, update_id=int(update.id))
    return update


def delete_update(account: MondayAccount, update_id: str, *, moment: datetime, user_id: str) -> Update:
    """As the delete_update mutation: the update is gone from every list (monday keeps no deleted state for
    updates that a query can read back)."""
    update = account.updates.pop(update_id)
    item = account.items.get(update.item_id)
    if item is not None:
        item.update_ids = [u for u in item.update_ids if u != update_id]
        activity.record(account, account.board(item.board_id), item, "delete_update", moment, user_id,
                        update_id=int(update_id))
    return update
