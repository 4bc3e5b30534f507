"""Root query fields: boards, items, next_items_page, items_page_by_column_values, users, teams, tags,
workspaces, updates, complexity, version(s), me and account. Any other root field is refused by
resolution.field_resolver with a clear UNSUPPORTED_BY_SIMULATOR error.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from graphql import GraphQLResolveInfo

from . import errors, filters, paging
from .clock import parse_instant
from .model import Board, Item, Tag, Team, Update, User, Workspace
from .resolution import context, page_of, resolves
from .versions import all_versions
from .views import account_view, version_view

MAX_ROOT_ITEM_IDS = 100
DEFAULT_USER_STATUSES = ("ACTIVE", "PENDING")
USERS_PAGE_DEFAULT, USERS_PAGE_MAX = 200, 1000


def _wanted(ids: list[Any] | None) -> set[str] | None:
    return None if ids is None else {str(i) for i in ids}


@resolves("Query", "boards")
def boards(_: Any, info: GraphQLResolveInfo, **args: Any) -> list[Board]:
    ctx = context(info)
    state = args.get("state") or "active"
    wanted = _wanted(args.get("ids"))
    spaces = args.get("workspace_ids")
    spaces_wanted = None if spaces is None else {None if s is None else str(s) for s in spaces}
    found = [b for b in ctx.account.boards.values()
             if (wanted is None or b.id in wanted) and (state == "all" or b.state == state)
             and (spaces_wanted is None or b.workspace_id in spaces_wanted)
             and (args.get("board_kind") is None or b.board_kind == args["board_kind"])]
    found.sort(key=lambda b: int(b.id), reverse=True)  # newest first, as recorded
    chosen = page_of(found, args.get("limit"), args.get("page"))
    for board in chosen:
        ctx.guard_board(board.id)
    return chosen


@resolves("Query", "items")
def items(_: Any, info: GraphQLResolveInfo, **args: Any) -> list[Item]:
    ctx = context(info)
    ids = args.get("ids")
    if ids is not None and len(ids) > MAX_ROOT_ITEM_IDS:
        raise errors.invalid_argument(f"items(ids:) takes at most {MAX_ROOT_ITEM_IDS} ids", ids=len(ids))
    account = ctx.account
    if ids is None:
        found = sorted(account.items.values(), key=lambda i: i.created_at, reverse=True)
    else:
        found = [account.items[i] for i in dict.fromkeys(str(i) for i in ids) if i in account.items]
    if args.get("exclude_nonactive"):
        found = [i for i in found if i.state == "active" and account.boards[i.board_id].state != "deleted"]
    if args.get("newest_first"):
        found.sort(key=lambda i: i.created_at, reverse=True)
    # Archived and deleted items are returned too (with their `state`) unless exclude_nonactive is set.
    return page_of(found, args.get("limit"), args.get("page"))


@resolves("Query", "next_items_page")
def next_items_page(_: Any, info: GraphQLResolveInfo, cursor: str, limit: int | None = None) -> dict[str, Any]:
    ctx = context(info)
    size = paging.check_limit(limit)
    ctx.guard_cursor()
    result, offset = ctx.cursors.decode(cursor, ctx.account.id)
    ctx.guard_board(result.board_id)
    return paging.read_page(ctx.cursors, ctx.account, result, offset, size)


@resolves("Query", "items_page_by_column_values")
def items_page_by_column_values(_: Any, info: GraphQLResolveInfo, board_id: str, limit: int | None = None,
                                columns: list[dict[str, Any]] | None = None, cursor: str | None = None,
                                **_ignored: Any) -> dict[str, Any]:
    ctx = context(info)
    board = ctx.account.boards.get(str(board_id))
    if board is None or board.state == "deleted":
        raise errors.invalid_board(board_id)
    size = paging.check_limit(limit)
    ctx.guard_board(board.id)
    if cursor is not None:
        ctx.guard_cursor()
        result, offset = ctx.cursors.decode(cursor, ctx.account.id)
        return paging.read_page(ctx.cursors, ctx.account, result, offset, size)
    return paging.first_page(ctx.cursors, ctx.account, board.id, filters.by_column_values(ctx.account, board, columns),
                             size)


def _statuses(args: dict[str, Any]) -> set[str]:
    """Which statuses users() answers: `status`, by default [ACTIVE, PENDING]; `non_active: true` only inactive
    users, `non_active: false` only active ones (2026-07+, as both served SDLs document)."""
    chosen = set(args.get("status") or DEFAULT_USER_STATUSES)
    if args.get("non_active") is True:
        return {"INACTIVE"} if args.get("status") is None else chosen & {"INACTIVE"}
    if args.get("non_active") is False:
        return chosen & {"ACTIVE"}
    return chosen


def _kind_matches(user: User, args: dict[str, Any]) -> bool:
    kind = args.get("kind") or "all"
    if (kind == "guests") != (user.kind == "guest") and kind in ("guests", "non_guests"):
        return False
    if kind == "non_pending" and user.status == "PENDING":
        return False
    wanted = args.get("user_kind") or {}
    included, excluded = wanted.get("in"), wanted.get("not_in") or []
    return (included is None or user.kind.upper() in included) and user.kind.upper() not in excluded


@resolves("Query", "users")
def users(_: Any, info: GraphQLResolveInfo, **args: Any) -> list[User]:
    limit = args.get("limit") if args.get("limit") is not None else USERS_PAGE_DEFAULT
    if not 1 <= limit <= USERS_PAGE_MAX:
        raise errors.invalid_argument(f"users(limit:) must be between 1 and {USERS_PAGE_MAX}", limit=limit)
    wanted = _wanted(args.get("ids"))
    emails = {e.lower() for e in args.get("emails") or [] if e}
    statuses = _statuses(args)
    found = [u for u in context(info).account.users.values()
             if (wanted is None or u.id in wanted) and (not emails or u.email.lower() in emails)
             and (args.get("name") is None or args["name"].lower() in u.name.lower())
             and u.status in statuses and _kind_matches(u, args)]
    for order in reversed(args.get("sort") or []):
        found.sort(key=lambda u: (u.created_at, int(u.id)), reverse=order.get("direction") == "DESC")
    if args.get("newest_first"):
        found.sort(key=lambda u: u.created_at, reverse=True)
    return page_of(found, limit, args.get("page"))


@resolves("Query", "teams")
def teams(_: Any, info: GraphQLResolveInfo, ids: list[Any] | None = None) -> list[Team]:
    wanted = _wanted(ids)
    return [t for t in context(info).account.teams.values() if wanted is None or t.id in wanted]


@resolves("Query", "tags")
def tags(_: Any, info: GraphQLResolveInfo, ids: list[Any] | None = None) -> list[Tag]:
    wanted = _wanted(ids)
    return [t for t in context(info).account.tags.values() if wanted is None or t.id in wanted]


@resolves("Query", "workspaces")
def workspaces(_: Any, info: GraphQLResolveInfo, **args: Any) -> list[Workspace]:
    wanted = _wanted(args.get("ids"))
    state = args.get("state") or "active"
    found = [w for w in context(info).account.workspaces.values()
             if (wanted is None or w.id in wanted) and (state == "all" or w.state == state)
             and (args.get("kind") is None or w.kind == args["kind"])]
    return page_of(found, args.get("limit"), args.get("page"))


def _instant(text: str | None) -> datetime | None:
    try:
        return parse_instant(text) if text else None
    except ValueError:
        raise errors.invalid_argument(f"{text!r} is not an ISO 8601 date or date-time") from None


def _through(text: str | None) -> datetime | None:
    """The first instant past an inclusive `to_date`: monday documents it as inclusive and takes a date or a
    date-time (e.g. YYYY-MM-DD or YYYY-MM-DDTHH:mm), so it covers the whole day, minute or second it names."""
    end = _instant(text)
    if end is None or text is None:
        return None
    clock = text.strip().partition("T")[2] or text.strip().partition(" ")[2]
    if not clock:
        return end + timedelta(days=1)
    digits = clock.replace("Z", "").replace("z", "").split("+")[0].split("-")[0]
    if digits.count(":") < 2:
        return end + timedelta(minutes=1)
    return end + (timedelta(microseconds=1) if "." in digits else timedelta(seconds=1))


@resolves("Query", "updates")
def updates(_: Any, info: GraphQLResolveInfo, **args: Any) -> list[Update]:
    """Newest first; from_date / to_date (2025-10+) bound created_at, both inclusive (_through)."""
    wanted = _wanted(args.get("ids"))
    start, past = _instant(args.get("from_date")), _through(args.get("to_date"))
    found = sorted((u for u in context(info).account.updates.values()
                    if (wanted is None or u.id in wanted) and (start is None or u.created_at >= start)
                    and (past is None or u.created_at < past)),
                   key=lambda u: (u.created_at, int(u.id)), reverse=True)
    return page_of(found, args.get("limit"), args.get("page"))


@resolves("Query", "complexity")
def complexity(_: Any, info: GraphQLResolveInfo) -> dict[str, int] | None:
    charge = context(info).complexity
    if charge is None:
        return None
    return {"before": charge.before, "query": charge.query, "after": charge.after,
            "reset_in_x_seconds": charge.reset_in_x_seconds}


@resolves("Query", "version")
def version(_: Any, info: GraphQLResolveInfo) -> dict[str, str]:
    return version_view(context(info).version)


@resolves("Query", "versions")
def versions(_: Any, info: GraphQLResolveInfo) -> list[dict[str, str]]:
    return all_versions()


@resolves("Query", "me")
def me(_: Any, info: GraphQLResolveInfo) -> User:
    account = context(info).account
    return account.users[account.owner_user_id]


@resolves("Query", "account")
def account(_: Any, info: GraphQLResolveInfo) -> dict[str, Any]:
    return account_view(context(info).account)
