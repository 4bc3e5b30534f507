"""monday webhooks: subscriptions per board and event, the challenge a URL must echo before one exists, and
the `{"event": {...}}` POST of every change the subscription listens to.

As monday does: a subscription names a board (for subitem events, the parent board), an event of the
WebhookEventType list and, for three events, a config; creating it POSTs `{"challenge": <random>}` and needs
the token echoed back. Each change is one POST (no batching), retried when the receiver does not answer 2xx.
A subscription created with an app's signing secret (monday: through an integration app token) carries a
JWT (HS256) in `Authorization`, with the claims monday puts there: accountId, userId, aud (the URL), iat, exp.

The payloads follow recorded ones (monday's documentation samples and a public collection of recordings):
`type` is the activity's name (create_pulse, update_column_value, update_name, archive_pulse, delete_pulse,
restore_pulse, move_pulse_into_group, create_update), not the subscription's event name.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from sandbox.webhooks import Channel, OutboxSettings, WebhookOutbox

from .clock import iso_millis
from .layouts import STATUS_COLORS
from .model import ActivityLog, Board, Column, Item, MondayAccount

# monday's WebhookEventType values.
EVENTS = frozenset({
    "change_column_value", "change_status_column_value", "change_subitem_column_value",
    "change_specific_column_value", "change_name", "create_item", "item_archived", "item_deleted",
    "item_moved_to_any_group", "item_moved_to_specific_group", "item_restored", "create_subitem",
    "change_subitem_name", "move_subitem", "subitem_archived", "subitem_deleted", "create_column",
    "create_update", "edit_update", "delete_update", "create_subitem_update"})
# The events that take a config, and the key each one requires.
CONFIG_KEYS = {"change_specific_column_value": "columnId", "change_status_column_value": "columnId",
               "item_moved_to_specific_group": "groupId"}
# Which subscription events an activity fires, for a main item and for a subitem.
_FIRES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "create_pulse": (("create_item",), ("create_subitem",)),
    "update_column_value": (("change_column_value", "change_specific_column_value", "change_status_column_value"),
                            ("change_subitem_column_value",)),
    "update_name": (("change_name",), ("change_subitem_name",)),
    "archive_pulse": (("item_archived",), ("subitem_archived",)),
    "delete_pulse": (("item_deleted",), ("subitem_deleted",)),
    "restore_pulse": (("item_restored",), ()),
    "move_pulse_into_group": (("item_moved_to_any_group", "item_moved_to_specific_group"), ()),
    "create_update": (("create_update",), ("create_subitem_update",)),
}
# The column types webhooks name (their older internal names); recorded: color, multiple-person, date, subtasks.
_COLUMN_TYPES = {"status": "color", "people": "multiple-person", "numbers": "numeric", "long_text": "long-text",
                 "checkbox": "boolean", "timeline": "timerange", "board_relation": "board-relation",
                 "mirror": "lookup", "tags": "tag"}
_WITH_CHANGED_AT = frozenset({"date", "people", "timeline", "checkbox", "long_text", "board_relation", "dependency"})
# monday retries once a minute for 30 minutes; the simulator keeps five retries, a minute lasting 0.1 s.
RETRY_DELAYS = [0.1] * 5
JWT_LIFETIME_SECONDS = 300  # as in monday's sample token (exp - iat)


def encode(events: list[dict[str, Any]], attempt: int) -> bytes:
    """`{"event": ...}`; a retry says so in `isRetry`, as monday's payloads do."""
    [event] = events
    if "isRetry" in event:
        event = {**event, "isRetry": attempt > 1}
    return json.dumps({"event": event} if "type" in event else event, separators=(",", ":")).encode()


def signer(account_id: str) -> Any:
    """A JWT signer for one account's subscriptions: the acting user comes from the event it signs."""

    def sign(body: bytes, secret: str, url: str) -> dict[str, str]:
        now = int(time.time())  # wall time: the receiver checks exp against its own clock
        claims: dict[str, Any] = {"accountId": int(account_id), "aud": url, "iat": now,
                                  "exp": now + JWT_LIFETIME_SECONDS}
        user = (json.loads(body).get("event") or {}).get("userId")
        if user is not None:
            claims["userId"] = user
        return {"Authorization": jwt.encode(claims, secret, algorithm="HS256")}

    return sign


@dataclass(frozen=True)
class Subscription:
    id: str
    account_id: str
    board_id: str
    event: str
    config: dict[str, Any] | None
    channel: Channel

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "board_id": self.board_id, "event": self.event,
                "config": None if self.config is None else json.dumps(self.config),
                "url": self.channel.url, "signed": self.channel.secret is not None}


class ChallengeFailed(ValueError):
    """The URL did not echo the challenge: monday creates no webhook."""


class MondayWebhooks:
    def __init__(self) -> None:
        self.outbox = WebhookOutbox("monday-webhooks-simulator", OutboxSettings(retry_delays=list(RETRY_DELAYS)))
        self._subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)

    @property
    def active(self) -> bool:
        return bool(self._subscriptions)

    # -- subscriptions -----------------------------------------------------------------------------------------
    def subscribe(self, account: MondayAccount, board_id: str | int, url: str, event: str,
                  config: dict[str, Any] | None = None, signing_secret: str | None = None) -> Subscription:
        """Verify `url` with a challenge, then listen to `event` on the board; ValueError if not possible."""
        board = account.board(str(board_id))
        if board.object_type != "board":
            raise ValueError("subscribe on the main board; subitem events are named for it")
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}; expected one of {sorted(EVENTS)}")
        if not url.startswith(("http://", "https://")) or len(url) > 255:
            raise ValueError("url must be an http(s) URL of at most 255 characters")
        config = self._check_config(board, event, config)
        channel = Channel(url, signing_secret or None, signer(account.id), encode)
        challenge = secrets.token_urlsafe(39)
        status, answer = self.outbox.post_now(channel, encode([{"challenge": challenge}], 1), "challenge",
                                              [{"challenge": challenge}])
        if status is None or not 200 <= status < 300 or _echoed(answer) != challenge:
            raise ChallengeFailed(f"the webhook URL did not echo the challenge (HTTP {status})")
        subscription = Subscription(str(next(self._ids)), account.id, board.id, event, config, channel)
        self._subscriptions[subscription.id] = subscription
        return subscription

    @staticmethod
    def _check_config(board: Board, event: str, config: Any) -> dict[str, Any] | None:
        if isinstance(config, str):
            config = json.loads(config) if config else None
        if config is None:
            if event in ("change_specific_column_value", "item_moved_to_specific_group"):
                raise ValueError(f"{event} needs a config with {CONFIG_KEYS[event]}")
            return None
        if event not in CONFIG_KEYS or not isinstance(config, dict):
            raise ValueError(f"{event} takes no config" if event not in CONFIG_KEYS else "config must be an object")
        key = CONFIG_KEYS[event]
        target = str(config.get(key, ""))
        exists = board.group(target) if key == "groupId" else board.column(target)
        if exists is None:
            raise ValueError(f"config {key} {target!r} is not on board {board.id}")
        return dict(config)

    def unsubscribe(self, subscription_id: str) -> Subscription:
        try:
            return self._subscriptions.pop(str(subscription_id))
        except KeyError:
            raise KeyError(f"no webhook {subscription_id}") from None

    def subscriptions(self, board_id: str | None = None) -> list[Subscription]:
        return [s for s in self._subscriptions.values() if board_id is None or s.board_id == str(board_id)]

    # -- events ------------------------------------------------------------------------------------------------
    def publish(self, account: MondayAccount, entries: list[ActivityLog]) -> None:
        """Queue the POST of every subscription an activity log entry fires."""
        for entry in entries:
            fired = self._fired(account, entry)
            for subscription in fired:
                payload = _payload(account, entry, subscription)
                if payload is not None:
                    self.outbox.publish(subscription.channel, payload)

    def _fired(self, account: MondayAccount, entry: ActivityLog) -> list[Subscription]:
        events = _FIRES.get(entry.event)
        if events is None or entry.entity != "pulse":
            return []
        board = account.boards.get(entry.board_id)
        if board is None:
            return []
        is_sub = board.parent_board_id is not None
        names = events[1] if is_sub else events[0]
        home = board.parent_board_id if is_sub else board.id
        # A copy: subscriptions are made on another thread (the challenge is waited for off the event loop).
        return [s for s in list(self._subscriptions.values())
                if s.account_id == account.id and s.board_id == home and s.event in names
                and _matches(s, entry, board)]


def _echoed(answer: bytes) -> Any:
    try:
        parsed = json.loads(answer)
    except ValueError:
        return None
    return parsed.get("challenge") if isinstance(parsed, dict) else None


def _matches(subscription: Subscription, entry: ActivityLog, board: Board) -> bool:
    """The narrower events: a status column, a specific column, a specific group (and their configs)."""
    config = subscription.config or {}
    data = entry.data
    if subscription.event == "change_status_column_value":
        if data.get("column_type") != "status" or ("columnId" in config and config["columnId"] != data["column_id"]):
            return False
        wanted = (config.get("columnValue") or {}).get("index") if isinstance(config.get("columnValue"), dict) else None
        return wanted is None or (data.get("value") or {}).get("index") == wanted
    if subscription.event == "change_specific_column_value":
        return config.get("columnId") == data.get("column_id")
    if subscription.event == "item_moved_to_specific_group":
        return config.get("groupId") == (data.get("dest_group") or {}).get("id")
    return True


def _column_value(column: Column | None, stored: Any, moment_text: str) -> Any:
    """A value as webhooks carry it: a status as its label; others in their stored JSON form."""
    if stored is None or column is None:
        return None
    if column.type == "status":
        index = int(stored.get("index", 5)) if isinstance(stored, dict) else 5
        labels = column.settings.get("labels", {})
        return {"label": {"index": index, "text": labels.get(str(index), ""),
                          "style": dict(STATUS_COLORS.get(str(index), STATUS_COLORS["5"])),
                          "is_done": index in column.settings.get("done_colors", [])}, "post_id": None}
    if isinstance(stored, dict):
        value = dict(stored)
        if column.type in _WITH_CHANGED_AT:
            value["changed_at"] = moment_text
        return value
    if column.type == "numbers":
        return {"value": float(stored), "unit": None}
    return {"value": stored}


def _payload(account: MondayAccount, entry: ActivityLog, subscription: Subscription) -> dict[str, Any] | None:
    board = account.boards[entry.board_id]
    item = account.items.get(str(entry.data.get("pulse_id")))
    if item is None:
        return None
    data = entry.data
    event: dict[str, Any] = {"app": "monday", "type": entry.event, "triggerTime": iso_millis(entry.created_at),
                             "subscriptionId": int(subscription.id), "isRetry": False, "userId": int(entry.user_id),
                             "originalTriggerUuid": None, "boardId": int(board.id)}
    group = board.group(item.group_id)
    top = bool(board.groups) and board.groups[0].id == item.group_id
    parent = _parent_fields(item, board)
    if entry.event == "create_pulse":
        values = {cid: _column_value(board.column(cid), v, iso_millis(entry.created_at))
                  for cid, v in item.values.items() if v is not None}
        event.update(pulseId=int(item.id), pulseName=item.name, groupId=item.group_id,
                     groupName=group.title if group else None, groupColor=group.color if group else None,
                     isTopGroup=top, columnValues=values)
        if parent:
            parent["itemId"] = int(item.id)
    elif entry.event == "update_column_value":
        column = board.column(str(data.get("column_id")))
        moment = iso_millis(entry.created_at)
        event.update(groupId=item.group_id, pulseId=int(item.id), pulseName=item.name, columnId=data.get("column_id"),
                     columnType=_COLUMN_TYPES.get(str(data.get("column_type")), data.get("column_type")),
                     columnTitle=data.get("column_title"),
                     value=_column_value(column, data.get("value"), moment),
                     previousValue=_column_value(column, data.get("previous_value"), moment),
                     changedAt=entry.created_at.timestamp(), isTopGroup=top)
    elif entry.event == "update_name":
        event.update(groupId=item.group_id, pulseId=int(item.id), value=data.get("value"),
                     previousValue=data.get("previous_value"))
    elif entry.event in ("archive_pulse", "delete_pulse", "restore_pulse"):
        event.update(itemId=int(item.id), itemName=item.name)
        if item.parent_id is not None:
            event.update(parentBoardId=int(board.parent_board_id or 0), parentItemId=int(item.parent_id))
            parent = {"pulseId": int(item.id)}
    elif entry.event == "move_pulse_into_group":
        dest = board.group(str((data.get("dest_group") or {}).get("id")))
        event.update(pulseId=int(item.id), sourceGroupId=(data.get("source_group") or {}).get("id"),
                     destGroupId=dest.id if dest else None,
                     destGroup={"id": dest.id, "title": dest.title, "color": dest.color,
                                "is_top_group": bool(board.groups) and board.groups[0].id == dest.id}
                     if dest else None)
    elif entry.event == "create_update":
        update = account.updates.get(str(data.get("update_id")))
        event.update(pulseId=int(item.id), body=update.body if update else None,
                     textBody=update.text_body if update else None, updateId=int(data["update_id"]), replyId=None)
    event["triggerUuid"] = uuid.uuid4().hex
    event.update(parent)
    return event


def _parent_fields(item: Item, board: Board) -> dict[str, Any]:
    """What a subitem's event adds (as strings, as recorded); a subitem's creation also carries its itemId."""
    if item.parent_id is None:
        return {}
    return {"parentItemId": str(item.parent_id), "parentItemBoardId": str(board.parent_board_id)}
