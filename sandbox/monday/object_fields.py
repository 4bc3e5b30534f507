"""Fields of Board, Group, Column, Item, User, Team, Workspace, Update and ActivityLogType that monday
computes (relations, filtered lists, paging, formats). Everything else resolves by name (resolution.py).
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLResolveInfo

from . import errors, filters, paging
from .clock import log_stamp, parse_instant
from .column_values import render
from .model import ActivityLog, Board, Column, Group, Item, Team, Update, User, Workspace
from .resolution import RequestContext, context, page_of, resolves
from .views import account_view, base_url


def _users(ctx: RequestContext, ids: list[str]) -> list[User]:
    return [ctx.account.users[i] for i in ids if i in ctx.account.users]


def _items_page(ctx: RequestContext, board: Board, args: dict[str, Any], group_id: str | None) -> dict[str, Any]:
    cursor, query_params = args.get("cursor"), args.get("query_params")
    if cursor is not None and query_params is not None:
        raise errors.invalid_argument("You can't use query_params and cursor in the same request")
    size = paging.check_limit(args.get("limit"))
    ctx.guard_board(board.id)
    if cursor is not None:
        ctx.guard_cursor()
        result, offset = ctx.cursors.decode(cursor, ctx.account.id)
        if result.board_id != board.id:
            raise errors.cursor_invalid()
        return paging.read_page(ctx.cursors, ctx.account, result, offset, size)
    ids = filters.select(ctx.account, board, query_params, group_id)
    return paging.first_page(ctx.cursors, ctx.account, board.id, ids, size)


# -- Board ---------------------------------------------------------------------------------------------------
@resolves("Board", "items_page")
def board_items_page(board: Board, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _items_page(context(info), board, args, None)


@resolves("Board", "groups")
def board_groups(board: Board, info: GraphQLResolveInfo, ids: list[str] | None = None, **_: Any) -> list[Group]:
    return [g for g in board.groups if not g.archived and not g.deleted and (ids is None or g.id in ids)]


@resolves("Board", "top_group")
def board_top_group(board: Board, info: GraphQLResolveInfo) -> Group | None:
    return next((g for g in board.groups if not g.archived and not g.deleted), None)


@resolves("Board", "columns")
def board_columns(board: Board, info: GraphQLResolveInfo, ids: list[str] | None = None,
                  types: list[str] | None = None, **_: Any) -> list[Column]:
    return [c for c in board.columns
            if not c.archived and (ids is None or c.id in ids) and (types is None or c.type in types)]


@resolves("Board", "owners", "subscribers")
def board_people(board: Board, info: GraphQLResolveInfo) -> list[User]:
    ids = board.owner_ids if info.field_name == "owners" else board.subscriber_ids
    return _users(context(info), ids)


@resolves("Board", "owner", "creator")
def board_creator(board: Board, info: GraphQLResolveInfo) -> User | None:
    return context(info).account.users.get(board.creator_id)


@resolves("Board", "workspace")
def board_workspace(board: Board, info: GraphQLResolveInfo) -> Workspace | None:
    return context(info).account.workspaces.get(board.workspace_id or "")


@resolves("Board", "items_count")
def board_items_count(board: Board, info: GraphQLResolveInfo) -> int:
    items = context(info).account.items
    return sum(1 for i in board.item_ids if items[i].state == "active")


@resolves("Board", "type")
def board_type(board: Board, info: GraphQLResolveInfo) -> str:
    return board.object_type


@resolves("Board", "url")
def board_url(board: Board, info: GraphQLResolveInfo) -> str:
    return f"{base_url(context(info).account)}/boards/{board.id}"


@resolves("Board", "access_level")
def board_access(board: Board, info: GraphQLResolveInfo) -> str:
    return "edit"


@resolves("Board", "hierarchy_type")
def board_hierarchy(board: Board, info: GraphQLResolveInfo) -> str:
    return "classic"


@resolves("Board", "tags", "views", "team_owners", "team_subscribers")
def board_empty(board: Board, info: GraphQLResolveInfo, **_: Any) -> list[Any]:
    return []


@resolves("Board", "updates")
def board_updates(board: Board, info: GraphQLResolveInfo, limit: int | None = None, page: int | None = None,
                  ids: list[str] | None = None, **_: Any) -> list[Update]:
    account = context(info).account
    found = [account.updates[u] for i in board.item_ids for u in account.items[i].update_ids
             if ids is None or u in ids]
    found.sort(key=lambda u: (u.created_at, int(u.id)), reverse=True)
    return page_of(found, limit, page)


@resolves("Board", "activity_logs")
def board_activity_logs(board: Board, info: GraphQLResolveInfo, **args: Any) -> list[ActivityLog]:
    """Newest first; `from` / `to` bound created_at, the id filters narrow by item, column, group, user."""
    try:
        start = parse_instant(args["from"]) if args.get("from") else None
        end = parse_instant(args["to"]) if args.get("to") else None
    except ValueError:
        raise errors.invalid_argument("from and to must be ISO 8601 date-times") from None
    items = {str(i) for i in args.get("item_ids") or []}
    columns, groups, users = set(args.get("column_ids") or []), set(args.get("group_ids") or []), \
        {str(u) for u in args.get("user_ids") or []}
    found = [e for e in reversed(context(info).account.activity.get(board.id, []))
             if (start is None or e.created_at >= start) and (end is None or e.created_at <= end)
             and (not items or str(e.data.get("pulse_id")) in items)
             and (not columns or e.data.get("column_id") in columns)
             and (not groups or e.data.get("group_id") in groups) and (not users or e.user_id in users)]
    return page_of(found, args.get("limit"), args.get("page"))


# -- Group and Column ------------------------------------------------------------------------------------------
@resolves("Group", "items_page")
def group_items_page(group: Group, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    ctx = context(info)
    board = next(  # groups do not hold their board; group ids repeat across boards, so match by identity
        b for b in ctx.account.boards.values() if any(g is group for g in b.groups))
    return _items_page(ctx, board, args, group.id)


@resolves("Column", "settings_str")
def column_settings_str(column: Column, info: GraphQLResolveInfo) -> str:
    return json.dumps(column.settings, separators=(",", ":"))


@resolves("Column", "revision")
def column_revision(column: Column, info: GraphQLResolveInfo) -> str:
    return "1"


# -- Item ----------------------------------------------------------------------------------------------------
@resolves("Item", "board")
def item_board(item: Item, info: GraphQLResolveInfo) -> Board | None:
    return context(info).account.boards.get(item.board_id)


@resolves("Item", "group")
def item_group(item: Item, info: GraphQLResolveInfo) -> Group | None:
    board = context(info).account.boards.get(item.board_id)
    return board.group(item.group_id) if board else None


@resolves("Item", "parent_item")
def item_parent(item: Item, info: GraphQLResolveInfo) -> Item | None:
    return context(info).account.items.get(item.parent_id or "")


@resolves("Item", "subitems")
def item_subitems(item: Item, info: GraphQLResolveInfo) -> list[Item]:
    items = context(info).account.items
    return [items[s] for s in item.subitem_ids if s in items and items[s].state == "active"]


@resolves("Item", "creator")
def item_creator(item: Item, info: GraphQLResolveInfo) -> User | None:
    return context(info).account.users.get(item.creator_id)


@resolves("Item", "subscribers")
def item_subscribers(item: Item, info: GraphQLResolveInfo) -> list[User]:
    return _users(context(info), [item.creator_id])


@resolves("Item", "column_values")
def item_column_values(item: Item, info: GraphQLResolveInfo, ids: list[str] | None = None,
                       types: list[str] | None = None, **_: Any) -> list[dict[str, Any]]:
    account = context(info).account
    board = account.boards[item.board_id]
    return [render(account, board, column, item) for column in board.columns
            if column.type != "name" and not column.archived
            and (ids is None or column.id in ids) and (types is None or column.type in types)]


@resolves("Item", "updates")
def item_updates(item: Item, info: GraphQLResolveInfo, limit: int | None = None, page: int | None = None,
                 ids: list[str] | None = None) -> list[Update]:
    account = context(info).account
    found = [account.updates[u] for u in reversed(item.update_ids) if ids is None or u in ids]
    return page_of(found, limit, page)


@resolves("Item", "linked_items")
def item_linked_items(item: Item, info: GraphQLResolveInfo, link_to_item_column_id: str,
                      linked_board_id: str) -> list[Item]:
    account = context(info).account
    view = render(account, account.boards[item.board_id], _column(account.boards[item.board_id],
                                                                    link_to_item_column_id), item)
    return [i for i in view.get("linked_items", []) if i.board_id == str(linked_board_id)]


def _column(board: Board, column_id: str) -> Column:
    column = board.column(column_id)
    if column is None:
        raise errors.invalid_column(column_id, board.id)
    return column


@resolves("Item", "url", "relative_link")
def item_url(item: Item, info: GraphQLResolveInfo) -> str:
    link = f"/boards/{item.board_id}/pulses/{item.id}"
    return link if info.field_name == "relative_link" else base_url(context(info).account) + link


@resolves("Item", "email")
def item_email(item: Item, info: GraphQLResolveInfo) -> str:
    return f"pulse-{item.id}@{context(info).account.slug}.monday.com"


@resolves("Item", "assets")
def item_assets(item: Item, info: GraphQLResolveInfo, **_: Any) -> list[Any]:
    return []


# -- people, workspaces, updates, logs -------------------------------------------------------------------------
@resolves("User", "account")
def user_account(user: User, info: GraphQLResolveInfo) -> dict[str, Any]:
    return account_view(context(info).account)


@resolves("User", "teams")
def user_teams(user: User, info: GraphQLResolveInfo, ids: list[str] | None = None) -> list[Team]:
    teams = context(info).account.teams
    return [teams[t] for t in user.team_ids if t in teams and (ids is None or t in ids)]


@resolves("User", "url")
def user_url(user: User, info: GraphQLResolveInfo) -> str:
    return f"{base_url(context(info).account)}/users/{user.id}"


# The fields 2026-07 still serves (deprecated) and 2026-10 removed, derived from `kind` and `status` as monday
# documents their replacements; a 2026-10 document naming them fails validation before reaching these.
@resolves("User", "enabled")
def user_enabled(user: User, info: GraphQLResolveInfo) -> bool:
    return user.status != "INACTIVE"


@resolves("User", "is_pending")
def user_pending(user: User, info: GraphQLResolveInfo) -> bool:
    return user.status == "PENDING"


@resolves("User", "is_admin", "is_guest", "is_view_only")
def user_kind_flag(user: User, info: GraphQLResolveInfo) -> bool:
    return user.kind == info.field_name.removeprefix("is_")


@resolves("User", "join_date")
def user_join_date(user: User, info: GraphQLResolveInfo) -> str | None:
    return user.became_active_at.date().isoformat() if user.became_active_at else None


@resolves("User", "is_verified", "is_email_confirmed")
def user_verified(user: User, info: GraphQLResolveInfo) -> bool:
    return user.status != "PENDING"


@resolves("User", "account_id")
def user_account_id(user: User, info: GraphQLResolveInfo) -> str:
    return context(info).account.id


@resolves("Team", "users", "owners")
def team_users(team: Team, info: GraphQLResolveInfo, ids: list[str] | None = None, **_: Any) -> list[User]:
    members = _users(context(info), team.user_ids if info.field_name == "users" else team.owner_ids)
    return [u for u in members if ids is None or u.id in ids]


@resolves("Workspace", "owners_subscribers", "users_subscribers")
def workspace_users(space: Workspace, info: GraphQLResolveInfo, limit: int | None = None,
                    page: int | None = None) -> list[User]:
    account = context(info).account
    return page_of([account.users[account.owner_user_id]], limit, page)


@resolves("Workspace", "teams_subscribers", "team_owners_subscribers")
def workspace_teams(space: Workspace, info: GraphQLResolveInfo, **_: Any) -> list[Team]:
    return []


@resolves("Update", "creator")
def update_creator(update: Update, info: GraphQLResolveInfo) -> User | None:
    return context(info).account.users.get(update.creator_id)


@resolves("Update", "item")
def update_item(update: Update, info: GraphQLResolveInfo) -> Item | None:
    return context(info).account.items.get(update.item_id)


@resolves("Update", "edited_at")
def update_edited_at(update: Update, info: GraphQLResolveInfo) -> str:
    return update.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")


@resolves("Update", "replies", "likes", "pinned_to_top", "viewers", "assets")
def update_empty(update: Update, info: GraphQLResolveInfo, **_: Any) -> list[Any]:
    return []


@resolves("ActivityLogType", "created_at")
def log_created_at(entry: ActivityLog, info: GraphQLResolveInfo) -> str:
    return log_stamp(entry.created_at)


@resolves("ActivityLogType", "data")
def log_data(entry: ActivityLog, info: GraphQLResolveInfo) -> str:
    return json.dumps(entry.data, separators=(",", ":"), default=str)


@resolves("ActivityLogType", "account_id")
def log_account(entry: ActivityLog, info: GraphQLResolveInfo) -> str:
    return context(info).account.id
