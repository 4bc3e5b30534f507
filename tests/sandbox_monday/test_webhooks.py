"""The simulator's webhooks: the challenge a URL must echo, one `{"event": ..}` POST per change a subscription
listens to (signed with a JWT when it was made with the app's signing secret), retries and faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.monday import MondayState
from tests.sandbox_shared.receiver import Received, Receiver, running_receiver, wait_until

from .conftest import Api, main_boards

SECRET = "signing-secret-for-the-simulator-tests"
FAST = {"retry_delays": [0.01, 0.01, 0.01]}


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(received: Received, secret: str = SECRET) -> dict[str, Any] | None:
    """The receiving app's check, written independently: an HS256 JWT in Authorization, signed with the
    secret, meant for this URL and not expired; its claims, or None when it does not verify."""
    token = received.headers.get("authorization", "")
    parts = token.split(".")
    if len(parts) != 3 or json.loads(_b64url(parts[0])).get("alg") != "HS256":
        return None
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64url(parts[2])):
        return None
    claims: dict[str, Any] = json.loads(_b64url(parts[1]))
    return claims if claims["exp"] > time.time() else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def _admin(api: Api, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = await api.client.request(method, path, json=body)
    return response.status, await response.json()


async def _subscribe(api: Api, receiver: Receiver, board: str, event: str, **extra: Any) -> dict[str, Any]:
    status, body = await _admin(api, "POST", "/_sim/webhooks", {"board_id": board, "url": receiver.url,
                                                                "event": event, **extra})
    assert status == 200, body
    status, _ = await _admin(api, "POST", "/_sim/webhooks/settings", FAST)
    assert status == 200
    return body


async def _mutate(api: Api, op: str, **arguments: Any) -> dict[str, Any]:
    status, body = await _admin(api, "POST", f"/_sim/mutations/{op}", arguments)
    assert status == 200, body
    return body["record"]  # type: ignore[no-any-return]


async def _flush(api: Api) -> None:
    status, body = await _admin(api, "POST", "/_sim/webhooks/flush", {"timeout_seconds": 20})
    assert status == 200 and body["flushed"], body


def _item_with_subitems(state: MondayState, board: str) -> str:
    account = state.account()
    return next(i for i in account.board(board).item_ids
                if account.items[i].state == "active" and account.items[i].subitem_ids)


async def test_subscribing_sends_a_challenge_and_needs_it_echoed(api: Api, state: MondayState,
                                                                 receiver: Receiver) -> None:
    board = main_boards(state)[0]
    created = await _subscribe(api, receiver, board, "create_item")
    assert created["board_id"] == board and created["event"] == "create_item" and created["signed"] is False
    [challenge] = receiver.received
    assert list(challenge.json()) == ["challenge"] and len(challenge.json()["challenge"]) >= 32

    receiver.challenge_answer = {"challenge": "not what was sent"}
    status, body = await _admin(api, "POST", "/_sim/webhooks", {"board_id": board, "url": receiver.url,
                                                                "event": "change_name"})
    assert status == 400 and "challenge" in body["error"]
    receiver.challenge_answer, receiver.statuses = None, [500]
    status, _ = await _admin(api, "POST", "/_sim/webhooks", {"board_id": board, "url": receiver.url,
                                                             "event": "change_name"})
    assert status == 400
    status, body = await _admin(api, "GET", "/_sim/webhooks")
    assert [w["id"] for w in body["webhooks"]] == [created["id"]]


async def test_a_column_change_posts_a_jwt_signed_event_naming_the_item(api: Api, state: MondayState,
                                                                        receiver: Receiver) -> None:
    board = main_boards(state)[0]
    subscription = await _subscribe(api, receiver, board, "change_column_value", signing_secret=SECRET)
    assert subscription["signed"] is True and SECRET not in json.dumps(subscription)
    item = state.account().board(board).item_ids[0]
    await _mutate(api, "change_column_value", item_id=item, column_id="date4", value="2026-06-01")
    await _flush(api)

    [post] = receiver.events()
    claims = jwt_claims(post)
    assert claims is not None and jwt_claims(post, "another-secret") is None
    assert claims["accountId"] == int(state.account().id) and claims["aud"] == receiver.url
    assert claims["userId"] == int(state.account().owner_user_id) and claims["exp"] > claims["iat"]
    event = post.json()["event"]
    assert event["type"] == "update_column_value" and event["app"] == "monday"
    assert event["boardId"] == int(board) and event["pulseId"] == int(item)
    assert event["subscriptionId"] == int(subscription["id"]) and event["isRetry"] is False
    assert (event["columnId"], event["columnType"], event["columnTitle"]) == ("date4", "date", "Due date")
    assert event["value"]["date"] == "2026-06-01" and event["previousValue"]["date"] != "2026-06-01"
    assert isinstance(event["changedAt"], float) and len(event["triggerUuid"]) == 32


async def test_each_subscription_hears_only_its_event(api: Api, state: MondayState, receiver: Receiver) -> None:
    board = main_boards(state)[0]
    groups = [g.id for g in state.account().board(board).groups]
    ids = {event: (await _subscribe(api, receiver, board, event, **extra))["id"] for event, extra in [
        ("create_item", {}), ("change_name", {}), ("item_deleted", {}),
        ("change_status_column_value", {"config": {"columnId": "status", "columnValue": {"index": 1}}}),
        ("item_moved_to_specific_group", {"config": json.dumps({"groupId": groups[1]})})]}
    item = (await _mutate(api, "create_item", board_id=board, name="Hooked"))["id"]
    await _mutate(api, "rename_item", item_id=item, name="Hooked again")
    await _mutate(api, "change_column_value", item_id=item, column_id="status", value="Stuck")  # index 2: unheard
    await _mutate(api, "change_column_value", item_id=item, column_id="status", value="Done")
    await _mutate(api, "move_item_to_group", item_id=item, group_id=groups[2])  # another group: unheard
    await _mutate(api, "move_item_to_group", item_id=item, group_id=groups[1])
    await _mutate(api, "delete_item", item_id=item)
    await _flush(api)

    heard = [(str(e["subscriptionId"]), e["type"]) for e in (p.json()["event"] for p in receiver.events())]
    assert heard == [(ids["create_item"], "create_pulse"), (ids["change_name"], "update_name"),
                     (ids["change_status_column_value"], "update_column_value"),
                     (ids["item_moved_to_specific_group"], "move_pulse_into_group"),
                     (ids["item_deleted"], "delete_pulse")]
    events = [p.json()["event"] for p in receiver.events()]
    assert events[0]["pulseId"] == int(item) and events[0]["pulseName"] == "Hooked"
    assert events[1]["value"] == {"name": "Hooked again"} and events[1]["previousValue"] == {"name": "Hooked"}
    assert events[2]["value"]["label"]["text"] == "Done" and events[2]["columnType"] == "color"
    assert events[3]["destGroupId"] == groups[1]
    assert events[4]["itemId"] == int(item) and events[4]["itemName"] == "Hooked again"
    assert all("authorization" not in p.headers for p in receiver.events())  # made without a signing secret


async def test_subitem_events_are_subscribed_on_the_parent_board(api: Api, state: MondayState,
                                                                 receiver: Receiver) -> None:
    board = main_boards(state)[0]
    await _subscribe(api, receiver, board, "create_item")
    await _subscribe(api, receiver, board, "create_subitem")
    parent = _item_with_subitems(state, board)
    sub = (await _mutate(api, "create_subitem", parent_item_id=parent, name="A subitem"))["id"]
    await _flush(api)

    [post] = receiver.events()
    event = post.json()["event"]
    assert event["type"] == "create_pulse" and event["pulseId"] == int(sub) and event["itemId"] == int(sub)
    assert event["parentItemId"] == parent and event["parentItemBoardId"] == board
    assert event["boardId"] == int(state.account().board(board).subitems_board_id or 0)


async def test_a_failing_receiver_is_retried_and_told_so(api: Api, state: MondayState, receiver: Receiver) -> None:
    board = main_boards(state)[0]
    await _subscribe(api, receiver, board, "change_name", signing_secret=SECRET)
    receiver.statuses = [502]
    await _mutate(api, "rename_item", item_id=state.account().board(board).item_ids[0], name="Retried")
    await _flush(api)
    first, second = receiver.events()
    assert first.json()["event"]["isRetry"] is False and second.json()["event"]["isRetry"] is True
    assert first.json()["event"]["triggerUuid"] == second.json()["event"]["triggerUuid"]
    assert jwt_claims(first) is not None and jwt_claims(second) is not None
    status, body = await _admin(api, "GET", "/_sim/webhooks/deliveries")
    assert status == 200
    assert [(d["kind"], d["attempt"], d["status"]) for d in body["deliveries"]] == [
        ("challenge", 1, 200), ("events", 1, 502), ("events", 2, 200)]


async def test_faults_duplicate_and_sign_wrongly(api: Api, state: MondayState, receiver: Receiver) -> None:
    board = main_boards(state)[0]
    await _subscribe(api, receiver, board, "change_name", signing_secret=SECRET)
    for kind in ("duplicate", "bad_signature"):
        status, _ = await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": kind})
        assert status == 200
    item = state.account().board(board).item_ids[0]
    await _mutate(api, "rename_item", item_id=item, name="Twice")
    await _flush(api)
    await _mutate(api, "rename_item", item_id=item, name="Forged")
    await _flush(api)
    twice, again, forged = receiver.events()
    assert twice.body == again.body and jwt_claims(twice) is not None
    assert forged.json()["event"]["value"] == {"name": "Forged"} and jwt_claims(forged) is None


async def test_bad_subscriptions_are_refused_and_one_can_be_deleted(api: Api, state: MondayState,
                                                                    receiver: Receiver) -> None:
    board = main_boards(state)[0]
    subitems_board = state.account().board(board).subitems_board_id
    for bad, expected in [({"board_id": board, "event": "explode"}, 400),
                          ({"board_id": "999", "event": "create_item"}, 404),
                          ({"board_id": subitems_board, "event": "create_subitem"}, 400),
                          ({"board_id": board, "event": "change_specific_column_value"}, 400),
                          ({"board_id": board, "event": "change_specific_column_value",
                            "config": {"columnId": "nope"}}, 400),
                          ({"board_id": board, "event": "create_item", "config": {"columnId": "status"}}, 400)]:
        status, body = await _admin(api, "POST", "/_sim/webhooks", {"url": receiver.url, **bad})
        assert status == expected and body["error"], bad
    assert receiver.received == []  # nothing invalid is challenged
    created = await _subscribe(api, receiver, board, "change_name")
    status, body = await _admin(api, "DELETE", f"/_sim/webhooks/{created['id']}")
    assert status == 200 and body == {"id": created["id"], "board_id": board}
    status, _ = await _admin(api, "DELETE", f"/_sim/webhooks/{created['id']}")
    assert status == 404
    await _mutate(api, "rename_item", item_id=state.account().board(board).item_ids[0], name="Unheard")
    await _flush(api)
    assert receiver.events() == []


async def test_fault_out_of_order_swaps_two_events(api: Api, state: MondayState, receiver: Receiver) -> None:
    board = main_boards(state)[0]
    await _subscribe(api, receiver, board, "change_name", signing_secret=SECRET)
    await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": "out_of_order"})
    first, second = state.account().board(board).item_ids[:2]
    await _mutate(api, "rename_item", item_id=first, name="Renamed first")
    # The first event has been cut (it took the fault) before the second change is made.
    wait_until(lambda: state.webhooks.outbox.faults.pending() == [])
    await _mutate(api, "rename_item", item_id=second, name="Renamed second")
    await _flush(api)
    assert [p.json()["event"]["pulseId"] for p in receiver.events()] == [int(second), int(first)]
    assert all(jwt_claims(p) is not None for p in receiver.events())
