"""The deterministic demo account: sizes by parameter, every timestamp fixed before DEMO_EPOCH.

Nothing here reads the wall clock or a global random state, so two generations with the same
arguments are equal (`==`), record for record. The last main board is deleted and the one before it
archived (when there are enough boards); a few items are archived or deleted; every main board has a
subitems board when subitems are asked for.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from . import activity, demo_names, layouts
from .model import Board, Group, Item, MondayAccount, Tag, Team, Update, User, Workspace

DEMO_EPOCH = datetime(2026, 5, 1, tzinfo=UTC)  # all demo data is older; the sim clock starts after it
_ARCHIVED_SHARE, _DELETED_SHARE, _UPDATE_SHARE = 0.03, 0.02, 0.3


def _id_bases(seed: int) -> dict[str, int]:
    # monday-like magnitudes (boards and items are 10-11 digit numbers), disjoint per seed.
    return {"board": 18_000_000_000 + seed * 100_000, "item": 10_000_000_000 + seed * 10_000_000,
            "update": 4_000_000_000 + seed * 1_000_000, "user": 60_000_000 + seed * 1_000,
            "team": 1_000_000 + seed * 100, "tag": 20_000_000 + seed * 100, "workspace": 9_000_000 + seed * 100,
            "log": 1}


def _moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(1, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randrange(span))


def _standing(n: int, count: int) -> tuple[str, str, bool]:
    """(kind, status, is_deleted) of the n-th user: the first is the admin; a larger account also has a guest,
    a viewer, one deactivated, one deleted and one invited user who has not joined yet."""
    if n == 0:
        return "admin", "ACTIVE", False
    if count <= 3:
        return "member", "ACTIVE", False
    last = {0: ("guest", "ACTIVE", False), 1: ("member", "PENDING", False), 2: ("member", "INACTIVE", False),
            3: ("member", "INACTIVE", True), 4: ("view_only", "ACTIVE", False)}
    return last.get(count - 1 - n, ("member", "ACTIVE", False))


def _people(account: MondayAccount, rng: random.Random, count: int, teams: int) -> None:
    for n in range(count):
        given, family = demo_names.GIVEN_NAMES[n % len(demo_names.GIVEN_NAMES)], rng.choice(demo_names.FAMILY_NAMES)
        kind, status, deleted = _standing(n, count)
        created = account.created_at + timedelta(days=7 * n)
        user = User(id=account.new_id("user"), name=f"{given} {family}",
                    email=f"{given.lower()}.{family.lower()}@{account.slug}.example.com",
                    created_at=created, title=rng.choice(demo_names.TITLES), kind=kind, status=status,
                    is_deleted=deleted, became_active_at=None if status == "PENDING" else created + timedelta(hours=2))
        account.users[user.id] = user
    user_ids = list(account.users)
    for n in range(teams):
        members = rng.sample(user_ids, k=min(len(user_ids), 4))
        team = Team(id=account.new_id("team"), name=demo_names.TEAM_NAMES[n % len(demo_names.TEAM_NAMES)],
                    user_ids=members, owner_ids=members[:1])
        account.teams[team.id] = team
        for member in members:
            account.users[member].team_ids.append(team.id)


def _workspaces(account: MondayAccount, rng: random.Random, count: int) -> None:
    for n in range(max(1, count)):
        space = Workspace(id=account.new_id("workspace"), name=demo_names.WORKSPACE_NAMES[n % 6],
                          kind="closed" if n % 3 == 2 else "open", created_at=account.created_at + timedelta(days=n),
                          description=None if n == 0 else f"Boards of the {demo_names.WORKSPACE_NAMES[n % 6]} team",
                          is_default_workspace=n == 0)
        account.workspaces[space.id] = space


def _board(account: MondayAccount, rng: random.Random, n: int, board_id: str, linked_id: str | None,
           subitems_id: str | None) -> Board:
    owner = rng.choice(list(account.users))
    created = DEMO_EPOCH - timedelta(days=420 - 11 * n, hours=rng.randrange(24))
    suffix = f"mk{rng.randrange(36 ** 6):06x}"[:8]
    groups = [Group("topics" if g == 0 else f"group_{suffix}{g}", layouts.GROUP_TITLES[g], layouts.GROUP_COLORS[g],
                    str(65536 * (g + 1))) for g in range(3)]
    workspaces = list(account.workspaces)
    board = Board(id=board_id, name=demo_names.BOARD_NAMES[n % len(demo_names.BOARD_NAMES)]
                  + ("" if n < len(demo_names.BOARD_NAMES) else f" {n // len(demo_names.BOARD_NAMES) + 1}"),
                  board_kind=("public", "public", "private", "share")[n % 4],
                  workspace_id=workspaces[n % len(workspaces)],
                  created_at=created, updated_at=created, creator_id=owner, groups=groups,
                  columns=layouts.main_board_columns(suffix, board_id, linked_id, subitems_id),
                  owner_ids=[owner], subscriber_ids=sorted({owner, account.owner_user_id}),
                  description=None if n % 2 else "Tracked by the Bizmetrics sync", subitems_board_id=subitems_id)
    account.boards[board.id] = board
    if subitems_id is not None:
        account.boards[subitems_id] = Board(
            id=subitems_id, name=f"Subitems of {board.name}", board_kind=board.board_kind,
            workspace_id=board.workspace_id, created_at=created, updated_at=created, creator_id=owner,
            groups=[layouts.subitem_group()], columns=layouts.subitem_board_columns(), owner_ids=[owner],
            subscriber_ids=list(board.subscriber_ids), object_type="sub_items_board", parent_board_id=board.id)
    return board


def _values(account: MondayAccount, rng: random.Random, board: Board, created: datetime) -> dict[str, Any]:
    users = list(account.users)
    values: dict[str, Any] = {}
    for column in board.columns:
        if rng.random() < 0.12 and column.type not in ("status", "name"):
            continue  # leave some cells empty, as real boards have
        start = created.date() + timedelta(days=rng.randrange(60))
        kind = column.type
        if kind == "people":
            values[column.id] = {"personsAndTeams": [{"id": int(u), "kind": "person"}
                                                     for u in rng.sample(users, k=rng.choice((1, 1, 2)))]}
        elif kind == "status":
            values[column.id] = {"index": rng.choice((0, 1, 1, 1, 2, 3))} if rng.random() < 0.95 else None
        elif kind == "date":
            values[column.id] = {"date": start.isoformat(), "time": "14:30:00" if rng.random() < 0.2 else None}
        elif kind == "timeline":
            end = start + timedelta(days=rng.randrange(1, 30))
            values[column.id] = {"from": start.isoformat(), "to": end.isoformat()}
        elif kind == "numbers":
            amount = rng.randrange(1, 400) * 25 if board.object_type == "board" else rng.randrange(1, 16)
            values[column.id] = str(amount)
        elif kind == "checkbox":
            values[column.id] = {"checked": "true"} if rng.random() < 0.4 else None
        elif kind == "text":
            values[column.id] = rng.choice(demo_names.NOTES) or None
        elif kind == "long_text":
            values[column.id] = {"text": f"{rng.choice(demo_names.UPDATE_TEXTS)} Ref {rng.randrange(1000, 9999)}."}
    return {k: v for k, v in values.items() if v is not None}


def _items(account: MondayAccount, rng: random.Random, board: Board, count: int, subitems: int) -> None:
    moments = sorted(_moment_between(rng, board.created_at, DEMO_EPOCH - timedelta(days=1)) for _ in range(count))
    for n, created in enumerate(moments):
        name = f"{rng.choice(demo_names.ITEM_VERBS)} {rng.choice(demo_names.ITEM_OBJECTS)}"
        item = _add_item(account, rng, board, name, created, rng.choice(board.groups).id, None)
        if n and rng.random() < 0.15:
            earlier = board.item_ids[rng.randrange(len(board.item_ids) - 1)]
            item.values["dependency"] = {"linkedPulseIds": [{"linkedPulseId": int(earlier)}]}
            item.changed_at["dependency"] = created
        if board.subitems_board_id is not None:
            sub_board = account.boards[board.subitems_board_id]
            for s in range(subitems):
                moment = created + timedelta(hours=s + 1)
                sub = _add_item(account, rng, sub_board, demo_names.SUBITEM_NAMES[s % 6], moment, "topics", item.id)
                item.subitem_ids.append(sub.id)
        if rng.random() < _UPDATE_SHARE:
            moment = created + timedelta(days=1)
            update = Update(id=account.new_id("update"), item_id=item.id, creator_id=item.creator_id,
                            body=f"<p>{rng.choice(demo_names.UPDATE_TEXTS)}</p>", text_body="",
                            created_at=moment, updated_at=moment)
            update.text_body = update.body[3:-4]
            account.updates[update.id] = update
            item.update_ids.append(update.id)


def _add_item(account: MondayAccount, rng: random.Random, board: Board, name: str, created: datetime, group: str,
              parent: str | None) -> Item:
    creator = rng.choice(list(account.users))
    item = Item(id=account.new_id("item"), board_id=board.id, group_id=group, name=name, created_at=created,
                updated_at=created, creator_id=creator, parent_id=parent)
    item.values = _values(account, rng, board, created)
    item.changed_at = dict.fromkeys(item.values, created)
    account.items[item.id] = item
    board.item_ids.append(item.id)
    activity.record(account, board, item, "create_pulse", created, creator)
    return item


def _history(account: MondayAccount, rng: random.Random, board: Board) -> None:
    """Later edits: a status change, an archive or a delete, each with its log entry and updated_at."""
    for item_id in board.item_ids:
        item = account.items[item_id]
        if item.parent_id is not None or rng.random() < 0.3:
            continue
        moment = _moment_between(rng, item.created_at, DEMO_EPOCH - timedelta(hours=1))
        roll = rng.random()
        if roll < _DELETED_SHARE:
            item.state, event = "deleted", "delete_pulse"
        elif roll < _DELETED_SHARE + _ARCHIVED_SHARE:
            item.state, event = "archived", "archive_pulse"
        else:
            previous = item.values.get("status")
            item.values["status"] = {"index": layouts.DONE_INDEX}
            item.changed_at["status"] = moment
            activity.record(account, board, item, "update_column_value", moment, item.creator_id, column_id="status",
                            column_type="status", column_title="Status", value=item.values["status"],
                            previous_value=previous)
            item.updated_at = moment
            continue
        for target in [item, *(account.items[s] for s in item.subitem_ids)]:
            target.state, target.updated_at = item.state, moment
            activity.record(account, account.boards[target.board_id], target, event, moment, item.creator_id)


def _relations(account: MondayAccount, rng: random.Random, board: Board) -> None:
    relation = next((c for c in board.columns if c.type == "board_relation"), None)
    if relation is None:
        return
    linked_board = account.boards[str(relation.settings["boardIds"][0])]
    for item_id in board.item_ids:
        if rng.random() < 0.5 and linked_board.item_ids:
            item = account.items[item_id]
            picks = rng.sample(linked_board.item_ids, k=min(len(linked_board.item_ids), rng.choice((1, 2))))
            item.values[relation.id] = {"linkedPulseIds": [{"linkedPulseId": int(p)} for p in picks]}
            item.changed_at[relation.id] = item.created_at


def generate(cls: type[MondayAccount], *, seed: int, workspaces: int, boards: int, items_per_board: int,
             subitems_per_item: int, users: int, teams: int, tags: int, account_id: str | None) -> MondayAccount:
    if boards < 0 or items_per_board < 0 or subitems_per_item < 0 or users < 1:
        raise ValueError("sizes must be non-negative and there must be at least one user")
    rng = random.Random(seed)
    bases = _id_bases(seed)
    account = cls(id=account_id or str(24_000_000 + seed), name=f"Bizmetrics Demo {seed}", slug=f"bizdemo{seed}",
                  tier="standard", owner_user_id=str(bases["user"]), created_at=DEMO_EPOCH - timedelta(days=900),
                  next_id=dict(bases))
    _people(account, rng, users, teams)
    for name, color in demo_names.TAG_NAMES[:tags]:
        tag = Tag(account.new_id("tag"), name, color)
        account.tags[tag.id] = tag
    _workspaces(account, rng, workspaces)
    main_ids = [account.new_id("board") for _ in range(boards)]
    sub_ids = [account.new_id("board") if subitems_per_item else None for _ in range(boards)]
    made = [_board(account, rng, n, main_ids[n], main_ids[(n + 1) % boards] if boards > 1 else None, sub_ids[n])
            for n in range(boards)]
    for board in made:
        _items(account, rng, board, items_per_board, subitems_per_item)
    for board in made:
        _relations(account, rng, board)
        _history(account, rng, board)
    for n, board in enumerate(made):
        state = ("deleted" if boards >= 2 and n == boards - 1
                 else "archived" if boards >= 3 and n == boards - 2 else None)
        if state is not None:
            board.state = state
            if board.subitems_board_id is not None:
                account.boards[board.subitems_board_id].state = state
            moment = DEMO_EPOCH - timedelta(days=2, hours=n)
            activity.record(account, board, None, f"{state[:-1]}_board", moment,
                            account.owner_user_id)
    for board in account.boards.values():
        stamps = [account.items[i].updated_at for i in board.item_ids]
        board.updated_at = max([board.created_at, *stamps])
        account.activity.setdefault(board.id, []).sort(key=lambda e: e.created_at)
    return account
