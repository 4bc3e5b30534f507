"""Everything one simulator instance knows: accounts, tokens, clock, faults, budgets, cursors and meters,
plus the in-process mutation API tests use to change data between sync runs.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import mutations
from .clock import SimClock
from .faults import DEFAULT_HANG_SECONDS, FaultInjector
from .limits import Budget, PlanLimits, plan_limits
from .model import Board, Item, MondayAccount, Update
from .paging import CursorStore
from .versions import CURRENT_VERSION, VERSION_KINDS
from .webhooks import MondayWebhooks, Subscription

P = ParamSpec("P")
R = TypeVar("R")


def _publishes(method: Callable[Concatenate[MondayState, P], R]) -> Callable[Concatenate[MondayState, P], R]:
    """Hand the activity log entries a mutation wrote to the webhooks (queued: the change never waits)."""

    @functools.wraps(method)
    def wrapper(self: MondayState, *args: P.args, **kwargs: P.kwargs) -> R:
        if not self.webhooks.active:
            return method(self, *args, **kwargs)
        marks = {(a.id, board): len(entries) for a in self.accounts.values() for board, entries in a.activity.items()}
        result = method(self, *args, **kwargs)
        for account in self.accounts.values():
            fresh = [entry for board, entries in account.activity.items()
                     for entry in entries[marks.get((account.id, board), 0):]]
            if fresh:
                self.webhooks.publish(account, fresh)
        return result

    return wrapper


class Meter:
    """Every authenticated API request per account and its HTTP status, whatever the outcome."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.by_status: dict[str, Counter[int]] = defaultdict(Counter)

    def record(self, account_id: str, status: int) -> None:
        self.calls[account_id] += 1
        self.by_status[account_id][status] += 1


class MondayState:
    def __init__(self, accounts: Iterable[MondayAccount], clock: SimClock | None = None,
                 tokens: Mapping[str, str | int] | None = None, *, plan: str | PlanLimits = "standard",
                 default_version: str = CURRENT_VERSION, timeout_hang_seconds: float = DEFAULT_HANG_SECONDS,
                 copy_accounts: bool = True) -> None:
        """`tokens` maps API token -> account id. Accounts are deep-copied unless `copy_accounts` is False,
        so one generated account can seed many independent simulator states."""
        if default_version not in VERSION_KINDS:
            raise ValueError(f"unknown default version {default_version!r}")
        self.clock = clock or SimClock()
        self.accounts: dict[str, MondayAccount] = {
            a.id: (copy.deepcopy(a) if copy_accounts else a) for a in accounts}
        self.tokens: dict[str, str] = {token: str(account) for token, account in (tokens or {}).items()}
        for token, account_id in self.tokens.items():
            if account_id not in self.accounts:
                raise ValueError(f"token {token!r} names unknown account {account_id}")
        self.limits = plan_limits(plan)
        self.budget = Budget(self.limits, self.clock)
        self.faults = FaultInjector(timeout_hang_seconds)
        self.cursors = CursorStore(self.clock)
        self.meter = Meter()
        self.default_version = default_version
        # Versions of VERSION_KINDS monday no longer serves (e.g. the day 2026-07 is retired): routed like older ones.
        self.retired_versions: set[str] = set()
        self.webhooks = MondayWebhooks()
        self._requests = itertools.count(1)
        self._last_stamp: datetime | None = None

    # -- lookups -----------------------------------------------------------------------------------------------
    def account(self, account_id: str | int | None = None) -> MondayAccount:
        """An account by id; with no id, the only (or first) account."""
        if account_id is None:
            return next(iter(self.accounts.values()))
        try:
            return self.accounts[str(account_id)]
        except KeyError:
            raise KeyError(f"unknown account {account_id}") from None

    def account_for_token(self, token: str | None) -> MondayAccount | None:
        account_id = self.tokens.get(token or "")
        return self.accounts.get(account_id) if account_id else None

    def _owner_of(self, kind: str, ident: str | int) -> MondayAccount:
        key = str(ident)
        for account in self.accounts.values():
            if key in {"item": account.items, "update": account.updates}.get(kind, account.boards):
                return account
        raise KeyError(f"unknown {kind} {ident}")

    def request_id(self) -> str:
        digest = hashlib.sha1(f"monday-sim:{next(self._requests)}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    # -- metering ----------------------------------------------------------------------------------------------
    def calls_today(self, account: MondayAccount | str | int | None = None) -> int:
        """API calls this account made since 00:00 UTC on the sim clock (failed ones included)."""
        target = account.id if isinstance(account, MondayAccount) else self.account(account).id
        return self.budget.calls_today(target)

    def stats(self, account_id: str | int | None = None) -> dict[str, Any]:
        account = self.account(account_id)
        left, reset = self.budget.complexity_state(account.id)
        return {"account": account.id, "calls": self.meter.calls[account.id], "calls_today": self.calls_today(account),
                "by_status": {str(k): v for k, v in sorted(self.meter.by_status[account.id].items())},
                "refused": self.budget.refused[account.id], "complexity_left": left, "complexity_reset_in": reset,
                "complexity_charged": self.budget.charged[account.id]}

    # -- webhooks ------------------------------------------------------------------------------------------------
    def create_webhook(self, board_id: str | int, url: str, event: str, config: dict[str, Any] | str | None = None,
                       signing_secret: str | None = None) -> Subscription:
        """As monday's create_webhook: the URL must echo a challenge first (ValueError if it does not)."""
        account = self._owner_of("board", board_id)
        return self.webhooks.subscribe(account, board_id, url, event, config, signing_secret)

    # -- mutations (each one moves the clock on by at least a second) -------------------------------------------
    def _stamp(self) -> datetime:
        self.clock.advance(1.0)
        moment = self.clock.now().replace(microsecond=0)
        if self._last_stamp is not None and moment <= self._last_stamp:
            self.clock.advance((self._last_stamp - moment).total_seconds() + 1.0)
            moment = self._last_stamp + timedelta(seconds=1)
        self._last_stamp = moment
        return moment

    def _acting(self, account: MondayAccount, user_id: str | int | None) -> str:
        return str(user_id) if user_id is not None else account.owner_user_id

    @_publishes
    def create_board(self, name: str, *, account_id: str | int | None = None, workspace_id: str | None = None,
                     board_kind: str = "public", board_id: str | int | None = None, starter_item: bool = True,
                     user_id: str | int | None = None) -> Board:
        account = self.account(account_id)
        return mutations.create_board(account, name, moment=self._stamp(), user_id=self._acting(account, user_id),
                                      workspace_id=workspace_id, board_kind=board_kind, board_id=board_id,
                                      starter_item=starter_item)

    @_publishes
    def _board_state(self, board_id: str | int, state: str, user_id: str | int | None) -> Board:
        account = self._owner_of("board", board_id)
        return mutations.set_board_state(account, str(board_id), state, moment=self._stamp(),
                                         user_id=self._acting(account, user_id))

    def archive_board(self, board_id: str | int, *, user_id: str | int | None = None) -> Board:
        return self._board_state(board_id, "archived", user_id)

    def delete_board(self, board_id: str | int, *, user_id: str | int | None = None) -> Board:
        return self._board_state(board_id, "deleted", user_id)

    @_publishes
    def create_item(self, board_id: str | int, name: str, *, group_id: str | None = None,
                    column_values: dict[str, Any] | None = None, item_id: str | int | None = None,
                    user_id: str | int | None = None) -> Item:
        account = self._owner_of("board", board_id)
        return mutations.create_item(account, str(board_id), name, moment=self._stamp(),
                                     user_id=self._acting(account, user_id), group_id=group_id,
                                     column_values=column_values, item_id=item_id)

    @_publishes
    def create_subitem(self, parent_item_id: str | int, name: str, *, column_values: dict[str, Any] | None = None,
                       user_id: str | int | None = None) -> Item:
        account = self._owner_of("item", parent_item_id)
        return mutations.create_subitem(account, str(parent_item_id), name, moment=self._stamp(),
                                        user_id=self._acting(account, user_id), column_values=column_values)

    def change_column_value(self, item_id: str | int, column_id: str, value: Any, *,
                            user_id: str | int | None = None) -> Item:
        """Set one column: a label for status, an ISO date, a number, user ids, (from, to), a bool, text, ids."""
        return self.change_column_values(item_id, {column_id: value}, user_id=user_id)

    @_publishes
    def change_column_values(self, item_id: str | int, values: dict[str, Any], *,
                             user_id: str | int | None = None) -> Item:
        account = self._owner_of("item", item_id)
        return mutations.change_column_values(account, str(item_id), values, moment=self._stamp(),
                                              user_id=self._acting(account, user_id))

    @_publishes
    def rename_item(self, item_id: str | int, name: str, *, user_id: str | int | None = None) -> Item:
        account = self._owner_of("item", item_id)
        return mutations.rename_item(account, str(item_id), name, moment=self._stamp(),
                                     user_id=self._acting(account, user_id))

    @_publishes
    def move_item_to_group(self, item_id: str | int, group_id: str, *, user_id: str | int | None = None) -> Item:
        account = self._owner_of("item", item_id)
        return mutations.move_item_to_group(account, str(item_id), group_id, moment=self._stamp(),
                                            user_id=self._acting(account, user_id))

    @_publishes
    def move_item_to_board(self, item_id: str | int, board_id: str | int, *, group_id: str | None = None,
                           user_id: str | int | None = None) -> Item:
        account = self._owner_of("item", item_id)
        return mutations.move_item_to_board(account, str(item_id), str(board_id), moment=self._stamp(),
                                            user_id=self._acting(account, user_id), group_id=group_id)

    @_publishes
    def _item_state(self, item_id: str | int, state: str, user_id: str | int | None) -> Item:
        account = self._owner_of("item", item_id)
        return mutations.set_item_state(account, str(item_id), state, moment=self._stamp(),
                                        user_id=self._acting(account, user_id))

    def archive_item(self, item_id: str | int, *, user_id: str | int | None = None) -> Item:
        return self._item_state(item_id, "archived", user_id)

    def delete_item(self, item_id: str | int, *, user_id: str | int | None = None) -> Item:
        return self._item_state(item_id, "deleted", user_id)

    def restore_item(self, item_id: str | int, *, user_id: str | int | None = None) -> Item:
        return self._item_state(item_id, "active", user_id)

    @_publishes
    def add_update(self, item_id: str | int, body: str, *, user_id: str | int | None = None) -> Update:
        account = self._owner_of("item", item_id)
        return mutations.add_update(account, str(item_id), body, moment=self._stamp(),
                                    user_id=self._acting(account, user_id))

    @_publishes
    def delete_update(self, update_id: str | int, *, user_id: str | int | None = None) -> Update:
        account = self._owner_of("update", update_id)
        return mutations.delete_update(account, str(update_id), moment=self._stamp(),
                                       user_id=self._acting(account, user_id))
