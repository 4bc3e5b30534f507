"""The in-memory monday.com account: workspaces, boards, groups, columns, items, updates, people, logs.

Records are plain mutable dataclasses; the GraphQL layer reads them through resolvers, and the
mutation API changes them. Each class names the GraphQL type it stands for (`typename`), which is
how interfaces and unions (e.g. `MirroredValue`) are resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


@dataclass
class Workspace:
    typename: ClassVar[str] = "Workspace"
    id: str
    name: str
    kind: str
    created_at: datetime
    description: str | None = None
    state: str = "active"
    is_default_workspace: bool = False


@dataclass
class User:
    typename: ClassVar[str] = "User"
    id: str
    name: str
    email: str
    created_at: datetime
    title: str | None = None
    # 2026-07+: `kind` (lower-case UserKindFilter names: admin, member, guest, view_only, ...) and `status`
    # (ACTIVE, PENDING: invited, not yet joined; INACTIVE: deactivated). A deleted user is an inactive one whose
    # details were deleted (`is_deleted`).
    kind: str = "member"
    status: str = "ACTIVE"
    is_deleted: bool = False
    became_active_at: datetime | None = None
    time_zone_identifier: str = "Etc/UTC"
    country_code: str = "US"
    team_ids: list[str] = field(default_factory=list)


@dataclass
class Team:
    typename: ClassVar[str] = "Team"
    id: str
    name: str
    user_ids: list[str] = field(default_factory=list)
    owner_ids: list[str] = field(default_factory=list)


@dataclass
class Tag:
    typename: ClassVar[str] = "Tag"
    id: str
    name: str
    color: str


@dataclass
class Group:
    typename: ClassVar[str] = "Group"
    id: str
    title: str
    color: str
    position: str
    archived: bool = False
    deleted: bool = False


@dataclass
class Column:
    typename: ClassVar[str] = "Column"
    id: str
    title: str
    type: str
    settings: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    width: int | None = None
    archived: bool = False


@dataclass
class Board:
    typename: ClassVar[str] = "Board"
    id: str
    name: str
    board_kind: str
    workspace_id: str | None
    created_at: datetime
    updated_at: datetime
    creator_id: str
    groups: list[Group] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)  # board order (what items_page walks)
    owner_ids: list[str] = field(default_factory=list)
    subscriber_ids: list[str] = field(default_factory=list)
    description: str | None = None
    state: str = "active"
    object_type: str = "board"  # "sub_items_board" for the board that holds another board's subitems
    parent_board_id: str | None = None
    subitems_board_id: str | None = None
    permissions: str = "everyone"

    def column(self, column_id: str) -> Column | None:
        return next((c for c in self.columns if c.id == column_id), None)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)


@dataclass
class Item:
    typename: ClassVar[str] = "Item"
    id: str
    board_id: str
    group_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    creator_id: str
    state: str = "active"
    # column id -> the stored value in monday's own JSON form (None: empty); see column_values.py
    values: dict[str, Any] = field(default_factory=dict)
    changed_at: dict[str, datetime] = field(default_factory=dict)
    parent_id: str | None = None
    subitem_ids: list[str] = field(default_factory=list)
    update_ids: list[str] = field(default_factory=list)


@dataclass
class Update:
    typename: ClassVar[str] = "Update"
    id: str
    item_id: str
    creator_id: str
    body: str
    text_body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class ActivityLog:
    typename: ClassVar[str] = "ActivityLogType"
    id: str
    board_id: str
    event: str
    entity: str
    data: dict[str, Any]
    created_at: datetime
    user_id: str


@dataclass
class MondayAccount:
    """One monday account with everything a token of it can read."""

    id: str
    name: str
    slug: str
    tier: str
    owner_user_id: str
    created_at: datetime
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    boards: dict[str, Board] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    updates: dict[str, Update] = field(default_factory=dict)
    activity: dict[str, list[ActivityLog]] = field(default_factory=dict)  # board id -> entries, oldest first
    next_id: dict[str, int] = field(default_factory=dict)  # per kind, so new records get fresh ids

    @classmethod
    def generate(cls, seed: int = 7, *, workspaces: int = 3, boards: int = 8, items_per_board: int = 300,
                 subitems_per_item: int = 2, users: int = 12, teams: int = 3, tags: int = 6,
                 account_id: str | None = None) -> MondayAccount:
        """A deterministic demo account: same arguments, same account (all timestamps are fixed)."""
        from .demo_account import generate  # the generator imports this module

        return generate(cls, seed=seed, workspaces=workspaces, boards=boards, items_per_board=items_per_board,
                        subitems_per_item=subitems_per_item, users=users, teams=teams, tags=tags,
                        account_id=account_id)

    def new_id(self, kind: str) -> str:
        value = self.next_id[kind]
        self.next_id[kind] = value + 1
        return str(value)

    def board(self, board_id: str) -> Board:
        try:
            return self.boards[str(board_id)]
        except KeyError:
            raise KeyError(f"no board {board_id} in account {self.id}") from None

    def item(self, item_id: str) -> Item:
        try:
            return self.items[str(item_id)]
        except KeyError:
            raise KeyError(f"no item {item_id} in account {self.id}") from None

    def log(self, entry: ActivityLog) -> None:
        self.activity.setdefault(entry.board_id, []).append(entry)

    def counts(self) -> dict[str, int]:
        main = [b for b in self.boards.values() if b.object_type == "board"]
        return {
            "workspaces": len(self.workspaces), "boards": len(main), "subitem boards": len(self.boards) - len(main),
            "items": sum(1 for i in self.items.values() if i.parent_id is None),
            "subitems": sum(1 for i in self.items.values() if i.parent_id is not None),
            "updates": len(self.updates), "users": len(self.users), "teams": len(self.teams), "tags": len(self.tags),
            "activity logs": sum(len(v) for v in self.activity.values()),
        }
