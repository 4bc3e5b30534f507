"""The simulator's webhooks: signed CloudEvents batches for every change, as Intuit posts them, and on demand
the ways deliveries go wrong (retries, duplicates, reordering, delays, a wrong signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from sandbox.quickbooks import DemoCompany, SimClock, SimulatorState, ThrottleLimits
from tests.sandbox_shared.receiver import Received, Receiver, running_receiver, wait_until

from .conftest import REALM, START, Api

VERIFIER = "verifier-token-for-tests"
OTHER_REALM = "9130350000000002"
FAST = {"batch_seconds": 0.05, "retry_delays": [0.01, 0.01, 0.01]}


def signature_ok(received: Received, token: str = VERIFIER) -> bool:
    """The receiving app's check, written independently: base64(HMAC-SHA256(token, raw body))."""
    expected = base64.b64encode(hmac.new(token.encode(), received.body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, received.headers.get("intuit-signature", ""))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def _admin(api: Api, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = await api.client.request(method, path, json=body)
    return response.status, await response.json()


async def _subscribe(api: Api, receiver: Receiver, **extra: Any) -> None:
    status, body = await _admin(api, "PUT", "/_sim/webhooks", {"url": receiver.url, "verifier_token": VERIFIER,
                                                                **extra})
    assert status == 200, body
    status, body = await _admin(api, "POST", "/_sim/webhooks/settings", FAST)
    assert status == 200, body


async def _flush(api: Api) -> dict[str, Any]:
    status, body = await _admin(api, "POST", "/_sim/webhooks/flush", {"timeout_seconds": 20})
    assert status == 200 and body["flushed"], body
    return body


def _first_id(state: SimulatorState, entity: str, realm: str = REALM) -> str:
    return min(state.records(realm, entity), key=lambda r: int(r["Id"]))["Id"]


async def test_an_update_posts_one_signed_cloudevent_naming_the_record(api: Api, state: SimulatorState,
                                                                      receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    invoice = _first_id(state, "Invoice")
    status, _ = await _admin(api, "POST", f"/_sim/{REALM}/update",
                             {"entity": "Invoice", "id": invoice, "fields": {"PrivateNote": "hooked"}})
    assert status == 200
    await _flush(api)

    [post] = receiver.events()
    assert signature_ok(post)
    assert post.headers["content-type"] == "application/json"
    [event] = post.json()
    assert list(event) == ["specversion", "id", "source", "type", "datacontenttype", "time", "intuitentityid",
                           "intuitaccountid", "data"]
    assert event["specversion"] == "1.0" and event["type"] == "qbo.invoice.updated.v1"
    assert event["intuitentityid"] == invoice and event["intuitaccountid"] == REALM
    assert event["datacontenttype"] == "application/json" and event["data"] == {}
    assert event["source"].startswith("intuit.")
    uuid.UUID(event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    # The event's time is the change's: the record's LastUpdatedTime, in UTC.
    updated = datetime.fromisoformat(state.get(REALM, "Invoice", invoice)["MetaData"]["LastUpdatedTime"])
    assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")).replace(microsecond=0) == updated


async def test_creates_and_deletes_name_their_operation_and_events_stay_unique(
        api: Api, state: SimulatorState, receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    status, created = await _admin(api, "POST", f"/_sim/{REALM}/create",
                                   {"entity": "Customer", "fields": {"DisplayName": "Hooked Co"}})
    assert status == 200
    invoice = _first_id(state, "Invoice")
    status, _ = await _admin(api, "POST", f"/_sim/{REALM}/delete", {"entity": "Invoice", "id": invoice})
    assert status == 200
    await _flush(api)

    events = [event for post in receiver.events() for event in post.json()]
    assert all(signature_ok(post) for post in receiver.events())
    assert [(e["type"], e["intuitentityid"]) for e in events] == [
        ("qbo.customer.created.v1", created["id"]), ("qbo.invoice.deleted.v1", invoice)]
    assert len({e["id"] for e in events}) == 2


async def test_a_batch_spans_realms_unless_asked_to_keep_one_realm_per_post(company: DemoCompany,
                                                                           receiver: Receiver) -> None:
    other = DemoCompany.generate(realm_id=OTHER_REALM, seed=8, customers=10, invoices=20, payments=10)
    state = SimulatorState(companies=[company, other], clock=SimClock(start=START, frozen=True),
                           limits=ThrottleLimits(per_second=None, per_minute=None))
    state.webhooks.subscribe(receiver.url, VERIFIER)
    # A window far longer than the two changes take, so both fall into it.
    state.webhooks.outbox.settings.update({"batch_seconds": 0.5})
    try:
        state.update(REALM, "Customer", _first_id(state, "Customer"), {"Notes": "a"})
        state.update(OTHER_REALM, "Customer", _first_id(state, "Customer", OTHER_REALM), {"Notes": "b"})
        assert state.webhooks.outbox.flush(20)
        [post] = receiver.events()
        assert signature_ok(post)
        assert [e["intuitaccountid"] for e in post.json()] == [REALM, OTHER_REALM]

        state.webhooks.subscribe(receiver.url, VERIFIER, one_realm_per_post=True)
        state.update(REALM, "Customer", _first_id(state, "Customer"), {"Notes": "c"})
        state.update(OTHER_REALM, "Customer", _first_id(state, "Customer", OTHER_REALM), {"Notes": "d"})
        assert state.webhooks.outbox.flush(20)
        assert [[e["intuitaccountid"] for e in post.json()] for post in receiver.events()[1:]] == [
            [REALM], [OTHER_REALM]]
    finally:
        state.webhooks.outbox.close()


async def test_a_change_does_not_wait_for_a_slow_receiver(api: Api, state: SimulatorState,
                                                          receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    receiver.hold = True
    status, _ = await _admin(api, "POST", f"/_sim/{REALM}/update",
                             {"entity": "Invoice", "id": _first_id(state, "Invoice"), "fields": {"Memo": "x"}})
    assert status == 200
    # The change was answered; the notification is held at the receiver, not yet acknowledged.
    assert receiver.entered.wait(10) and not receiver.release.is_set()
    assert state.webhooks.outbox.log() == []
    receiver.release.set()
    await _flush(api)
    assert [a["status"] for a in state.webhooks.outbox.log()] == [200]


async def test_only_subscribed_entities_are_sent_and_the_token_is_never_answered(
        api: Api, state: SimulatorState, receiver: Receiver) -> None:
    await _subscribe(api, receiver, entities=["Customer"])
    status, body = await _admin(api, "GET", "/_sim/webhooks")
    assert status == 200 and body["entities"] == ["Customer"] and body["verifier_token_set"] is True
    assert VERIFIER not in str(body)
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "not sent"})
    state.update(REALM, "Customer", _first_id(state, "Customer"), {"Notes": "sent"})
    await _flush(api)
    assert [e["type"] for post in receiver.events() for e in post.json()] == ["qbo.customer.updated.v1"]


async def test_bad_subscriptions_are_refused_and_a_cleared_one_sends_nothing(
        api: Api, state: SimulatorState, receiver: Receiver) -> None:
    for bad in ({"url": "ftp://x", "verifier_token": VERIFIER}, {"url": receiver.url},
                {"url": receiver.url, "verifier_token": VERIFIER, "entities": ["TaxRate"]},
                {"url": receiver.url, "verifier_token": VERIFIER, "entities": "Invoice"}):
        status, body = await _admin(api, "PUT", "/_sim/webhooks", bad)
        assert status == 400 and body["error"], bad
    await _subscribe(api, receiver)
    status, body = await _admin(api, "DELETE", "/_sim/webhooks")
    assert status == 200 and body["url"] is None
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "unheard"})
    await _flush(api)
    assert receiver.received == []


async def test_a_failing_receiver_gets_the_same_batch_again_until_it_answers(
        api: Api, state: SimulatorState, receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    receiver.statuses = [500, 503]
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "retry me"})
    await _flush(api)
    posts = receiver.events()
    assert len(posts) == 3 and len({p.body for p in posts}) == 1 and all(signature_ok(p) for p in posts)
    status, body = await _admin(api, "GET", "/_sim/webhooks/deliveries")
    assert status == 200
    assert [(d["delivery"], d["attempt"], d["status"], d["ok"]) for d in body["deliveries"]] == [
        (1, 1, 500, False), (1, 2, 503, False), (1, 3, 200, True)]


async def test_retries_are_bounded(api: Api, state: SimulatorState, receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    receiver.statuses = [500] * 10
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "never acknowledged"})
    await _flush(api)
    # First attempt plus one retry per configured delay, then the simulator gives up.
    assert [a["status"] for a in state.webhooks.outbox.log()] == [500] * (1 + len(FAST["retry_delays"]))


async def test_fault_duplicate_sends_the_same_events_twice(api: Api, state: SimulatorState,
                                                           receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    status, body = await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": "duplicate"})
    assert status == 200 and body["pending"][0]["kind"] == "duplicate"
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "twice"})
    await _flush(api)
    first, second = receiver.events()
    assert first.body == second.body and signature_ok(first) and signature_ok(second)
    log = state.webhooks.outbox.log()
    assert [d["duplicate_of"] for d in log] == [None, log[0]["delivery"]]


async def test_fault_bad_signature_fails_the_check(api: Api, state: SimulatorState, receiver: Receiver) -> None:
    await _subscribe(api, receiver)
    await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": "bad_signature"})
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "forged"})
    state.webhooks.outbox.flush(20)
    state.update(REALM, "Invoice", _first_id(state, "Invoice"), {"Memo": "genuine"})
    await _flush(api)
    forged, genuine = receiver.events()
    assert forged.headers.get("intuit-signature") and not signature_ok(forged)
    assert signature_ok(genuine)
    assert [d["forged_signature"] for d in state.webhooks.outbox.log()] == [True, False]


@pytest.mark.parametrize("fault", [{"kind": "out_of_order"}, {"kind": "delay", "seconds": 1.0}])
async def test_fault_reorders_a_batch_behind_the_next(api: Api, state: SimulatorState, receiver: Receiver,
                                                      fault: dict[str, Any]) -> None:
    await _subscribe(api, receiver)
    await _admin(api, "POST", "/_sim/webhooks/faults", fault)
    customer, invoice = _first_id(state, "Customer"), _first_id(state, "Invoice")
    state.update(REALM, "Customer", customer, {"Notes": "first"})
    # The first batch has been cut (it took the fault) before the second change is made.
    wait_until(lambda: state.webhooks.outbox.faults.pending() == [])
    state.update(REALM, "Invoice", invoice, {"Memo": "second"})
    await _flush(api)
    assert [post.json()[0]["intuitentityid"] for post in receiver.events()] == [invoice, customer]
    late = next(d for d in state.webhooks.outbox.log() if d["events"][0]["intuitentityid"] == customer)
    assert late["out_of_order"] or late["delayed_seconds"] == 1.0


async def test_unknown_fault_kinds_and_settings_are_refused(api: Api) -> None:
    status, body = await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": "explode"})
    assert status == 400 and "unknown fault kind" in body["error"]
    status, body = await _admin(api, "POST", "/_sim/webhooks/faults", {"kind": "duplicate", "seconds": 1})
    assert status == 400
    status, body = await _admin(api, "POST", "/_sim/webhooks/settings", {"retry_delays": [-1]})
    assert status == 400
    status, body = await _admin(api, "GET", "/_sim/webhooks/settings")
    assert status == 200 and body["retry_delays"] == [0.1, 0.2, 0.3, 3.0]
