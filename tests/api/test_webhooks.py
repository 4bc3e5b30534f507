"""The webhook intake on the real app, real PostgreSQL and a real Azurite queue: Intuit's signed CloudEvents batches
and monday's JWT-signed board events become change notices on the queue (read back with shared.changes.queue);
whatever is forged, stale, repeated, malformed or for no connection queues nothing, answers a clear status and
leaves a log line. The queue is one of this test's own (the app's is shared by every session on this machine)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import psycopg
import pytest
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient
from fastapi.testclient import TestClient

from plugins.monday import webhooks as monday_hooks
from plugins.quickbooks import webhooks as qbo_hooks
from shared.changes import intake
from shared.changes.notice import ChangeNotice
from shared.changes.queue import decode
from shared.core.config import load_settings
from shared.core.secrets import env_name
from shared.db.connections import Connection, upsert_connection

QBO_URL = "/api/webhooks/quickbooks"
CODEC = {"message_encode_policy": BinaryBase64EncodePolicy(), "message_decode_policy": BinaryBase64DecodePolicy()}


def _queue(name: str, connection_string: str, **kwargs: Any) -> QueueClient:
    return QueueClient.from_connection_string(connection_string, name, **CODEC, **kwargs)


@pytest.fixture
def change_queue(landing_container) -> Iterator[QueueClient]:
    """A queue of this test's own in Azurite, encoded as the app's change queue is."""
    client = _queue(f"test-changes-{uuid.uuid4().hex[:12]}", load_settings().storage.connection_string)
    client.create_queue()
    yield client
    client.delete_queue()


def queued(client: QueueClient) -> list[ChangeNotice]:
    """Every notice on the queue, taken off it."""
    notices = []
    for message in client.receive_messages(messages_per_page=32, visibility_timeout=5):
        notices.append(decode(message.content))
        client.delete_message(message)
    return sorted(notices, key=lambda n: n.connection_id)


@pytest.fixture
def verifier(monkeypatch) -> str:
    token = secrets.token_urlsafe(24)
    monkeypatch.setenv(env_name(qbo_hooks.VERIFIER_SECRET), token)
    monkeypatch.delenv(env_name(qbo_hooks.PREVIOUS_VERIFIER_SECRET), raising=False)
    return token


@pytest.fixture
def signing(monkeypatch) -> str:
    secret = secrets.token_urlsafe(48)  # long enough for HS512 too (a test signs with it)
    monkeypatch.setenv(env_name(monday_hooks.SIGNING_SECRET), secret)
    monkeypatch.delenv(env_name(monday_hooks.PREVIOUS_SIGNING_SECRET), raising=False)
    return secret


@pytest.fixture
def client(api_app, change_queue) -> Iterator[TestClient]:
    api_app.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=change_queue)
    yield TestClient(api_app, raise_server_exceptions=False)
    api_app.dependency_overrides.clear()


def _realm() -> str:
    return str(9_130_000_000_000_000 + secrets.randbelow(10**15))


@pytest.fixture
def companies(pg_dsn) -> dict[str, Any]:
    """Two realms: the first with one connection, the second with two (one syncing customers only); a third realm
    whose only connection is disabled."""
    one, two, off = _realm(), _realm(), _realm()
    tag = uuid.uuid4().hex[:6]
    ids = {"a": f"hook-a-{tag}", "b": f"hook-b-{tag}", "c": f"hook-c-{tag}", "off": f"hook-off-{tag}"}
    with psycopg.connect(pg_dsn) as db:
        upsert_connection(db, Connection(ids["a"], "quickbooks", "A", {"realm_id": one}))
        upsert_connection(db, Connection(ids["b"], "quickbooks", "B", {"realm_id": two}))
        upsert_connection(db, Connection(ids["c"], "quickbooks", "C", {"realm_id": two, "streams": ["Customer"]}))
        upsert_connection(db, Connection(ids["off"], "quickbooks", "Off", {"realm_id": off}), enabled=False)
    return {"realms": (one, two, off), **ids}


def cloud_event(realm: str, entity: str = "invoice", operation: str = "updated", **overrides: Any) -> dict[str, Any]:
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "//quickbooks.api.intuit.com",
             "type": f"qbo.{entity}.{operation}.v1", "time": dt.datetime.now(dt.UTC).isoformat(),
             "intuitentityid": "145", "intuitaccountid": realm, "datacontenttype": "application/json", "data": {}}
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def post_qbo(client: TestClient, token: str | None, events: Any = None, *, body: bytes | None = None,
             signature: str | None = None):
    raw = body if body is not None else json.dumps(events).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None or token is not None:
        headers[qbo_hooks.SIGNATURE_HEADER] = signature if signature is not None else qbo_hooks.sign(raw, token)
    return client.post(QBO_URL, content=raw, headers=headers)


def refusal_logged(caplog, source: str, code: str) -> bool:
    return any(r.name == "shared.changes.intake" and f"webhook {source} refused" in r.getMessage()
               and code in r.getMessage() for r in caplog.records)


def drops_logged(caplog, source: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shared.changes.intake"
            and r.getMessage().startswith(f"webhook {source}: event ")]


# -- QuickBooks ------------------------------------------------------------------------------------------------------
def test_a_signed_batch_spanning_two_realms_queues_one_notice_per_connection(client, change_queue, verifier,
                                                                             companies, caplog):
    caplog.set_level(logging.INFO)
    one, two, _ = companies["realms"]
    events = [cloud_event(one, "invoice"), cloud_event(one, "customer", "created"),
              cloud_event(two, "customer", "deleted"), cloud_event(two, "salesreceipt")]
    answer = post_qbo(client, verifier, events)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 4, "queued": 3, "dropped": []}
    notices = queued(change_queue)
    assert [(n.connection_id, n.source, n.changed) for n in notices] == [
        (companies["a"], "quickbooks", ["entity:Customer", "entity:Invoice"]),
        (companies["b"], "quickbooks", ["entity:Customer", "entity:SalesReceipt"]),
        (companies["c"], "quickbooks", ["entity:Customer"]),  # it does not sync sales receipts
    ]
    assert notices[2].event_id == events[2]["id"]  # one event: its own id
    assert notices[0].event_id.startswith("batch-2-")
    assert all(dt.datetime.fromisoformat(n.received_at) <= dt.datetime.now(dt.UTC) for n in notices)
    assert verifier not in caplog.text


def test_the_previous_verifier_token_is_accepted_while_it_rotates(client, change_queue, verifier, companies,
                                                                  monkeypatch):
    old = secrets.token_urlsafe(24)
    monkeypatch.setenv(env_name(qbo_hooks.PREVIOUS_VERIFIER_SECRET), old)
    assert post_qbo(client, old, [cloud_event(companies["realms"][0])]).json()["accepted"] == 1
    assert post_qbo(client, verifier, [cloud_event(companies["realms"][0])]).json()["accepted"] == 1
    assert len(queued(change_queue)) == 2


@pytest.mark.parametrize(("how", "status", "code"), [
    ("forged", 401, "signature_invalid"),
    ("missing header", 401, "signature_missing"),
    ("tampered body", 401, "signature_invalid"),
    ("not base64", 401, "signature_invalid"),
    ("malformed json", 400, "malformed_json"),
    ("not an array", 400, "not_a_batch"),
])
def test_a_delivery_that_is_not_intuits_or_not_a_batch_is_refused_and_queues_nothing(
        client, change_queue, verifier, companies, caplog, how, status, code):
    caplog.set_level(logging.INFO)
    good = json.dumps([cloud_event(companies["realms"][0])]).encode()
    if how == "forged":
        answer = post_qbo(client, "not-the-verifier", body=good)
    elif how == "missing header":
        answer = post_qbo(client, None, body=good)
    elif how == "tampered body":
        answer = post_qbo(client, None, body=good.replace(b"invoice", b"payment"),
                          signature=qbo_hooks.sign(good, verifier))
    elif how == "not base64":
        answer = post_qbo(client, None, body=good, signature="%%%not-base64%%%")
    elif how == "malformed json":
        answer = post_qbo(client, verifier, body=b"[{\"id\": ")
    else:
        answer = post_qbo(client, verifier, body=json.dumps(cloud_event(companies["realms"][0])).encode())
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code and answer.headers["content-type"] == "application/problem+json"
    assert queued(change_queue) == []
    assert refusal_logged(caplog, "quickbooks", code)


def test_an_oversized_body_is_refused_before_anything_reads_it(client, change_queue, verifier, caplog):
    caplog.set_level(logging.INFO)
    body = json.dumps([cloud_event("1", data={"pad": "x" * intake.MAX_BODY_BYTES})]).encode()
    answer = post_qbo(client, verifier, body=body)
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    assert queued(change_queue) == []
    assert any(r.getMessage() == f"POST {QBO_URL} -> 413 (anonymous)" for r in caplog.records)
    # The intake's own cap, wherever a delivery reaches it without the API's middleware:
    with pytest.raises(intake.Refused) as refused:
        qbo_hooks.receive(body, qbo_hooks.sign(body, verifier))
    assert refused.value.status == 413 and refusal_logged(caplog, "quickbooks", "body_too_large")


def _missing(field: str) -> dict[str, Any]:
    return {field: None}


@pytest.mark.parametrize(("change", "reason"), [
    (_missing("id"), "malformed event: no valid id"),
    (_missing("type"), "malformed event: no valid type"),
    (_missing("time"), "malformed event: no valid time"),
    (_missing("intuitaccountid"), "malformed event: no valid intuitaccountid"),
    (_missing("intuitentityid"), "malformed event: no valid intuitentityid"),
    (_missing("specversion"), "malformed event: specversion is not 1.0"),
    ({"type": "qbo.invoice.updated"}, "malformed event: type is not qbo.<entity>.<operation>.v1"),
    ({"time": "2026-12-01T10:00:00"}, "malformed event: time is not an RFC 3339 timestamp"),
    ({"intuitaccountid": "realm-x"}, "malformed event: intuitaccountid is not a realm id"),
    ({"type": "qbo.timeactivity.created.v1"}, "entity 'timeactivity' is not one this app syncs"),
    ({"intuitaccountid": "987654321098765"}, "no enabled connection has realm 987654321098765"),
    ({"time": "2026-01-01T00:00:00Z"}, "older than the replay window"),
    ({"time": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()}, "its time is in the future"),
])
def test_an_event_that_must_not_start_a_sync_is_dropped_with_a_log_line(client, change_queue, verifier, companies,
                                                                        caplog, change, reason):
    caplog.set_level(logging.INFO)
    answer = post_qbo(client, verifier, [cloud_event(companies["realms"][0], **change)])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 0 and body["queued"] == 0 and len(body["dropped"]) == 1
    assert body["dropped"][0]["reason"].startswith(reason), body
    assert queued(change_queue) == []
    assert len(drops_logged(caplog, "quickbooks")) == 1


def test_a_disabled_connection_and_a_non_object_event_start_nothing(client, change_queue, verifier, companies):
    answer = post_qbo(client, verifier, [cloud_event(companies["realms"][2]), "not an event", 7])
    assert answer.json()["accepted"] == 0 and len(answer.json()["dropped"]) == 3
    assert queued(change_queue) == []


def test_a_repeated_event_is_dropped_whether_in_the_same_batch_or_a_later_one(client, change_queue, verifier,
                                                                              companies, caplog):
    caplog.set_level(logging.INFO)
    event = cloud_event(companies["realms"][0])
    first = post_qbo(client, verifier, [event, event])
    assert first.json()["accepted"] == 1 and first.json()["dropped"][0]["reason"].startswith("repeated event")
    again = post_qbo(client, verifier, [event])
    assert again.json() == {"accepted": 0, "queued": 0,
                            "dropped": [{"event_id": event["id"], "reason": "repeated event: already taken"}]}
    assert len(queued(change_queue)) == 1
    assert len(drops_logged(caplog, "quickbooks")) == 2


def test_a_queue_failure_answers_503_and_the_sources_retry_is_taken_not_called_a_repeat(
        api_app, change_queue, verifier, companies, caplog):
    caplog.set_level(logging.INFO)
    settings = load_settings().storage.connection_string
    # Nothing listens on port 9 (discard) here: the queue service is down.
    down = _queue("bizmetrics-changes", settings.replace("127.0.0.1:10001", "127.0.0.1:9"), retry_total=0)
    client = TestClient(api_app, raise_server_exceptions=False)
    events = [cloud_event(companies["realms"][0])]
    api_app.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=down)
    try:
        failed = post_qbo(client, verifier, events)
        assert failed.status_code == 503 and failed.json()["code"] == "queue_unavailable"
        assert failed.headers["retry-after"] == "30"
        api_app.dependency_overrides[intake.default_target] = lambda: intake.Target(queue=change_queue)
        retried = post_qbo(client, verifier, events)
    finally:
        api_app.dependency_overrides.clear()
    assert retried.json()["accepted"] == 1
    assert [n.event_id for n in queued(change_queue)] == [events[0]["id"]]
    assert refusal_logged(caplog, "quickbooks", "queue_unavailable")


def test_without_a_verifier_token_the_webhook_says_it_is_not_configured(client, change_queue, monkeypatch,
                                                                        companies):
    monkeypatch.delenv(env_name(qbo_hooks.VERIFIER_SECRET), raising=False)
    answer = post_qbo(client, "anything", [cloud_event(companies["realms"][0])])
    assert answer.status_code == 503 and answer.json()["code"] == "webhooks_not_configured"
    assert "qbo-webhook-verifier" in answer.json()["detail"] and queued(change_queue) == []


def test_seen_event_ids_older_than_the_window_and_its_margin_are_pruned(pg_dsn):
    now = dt.datetime.now(dt.UTC)
    window = intake.replay_window()
    old, recent = f"old-{uuid.uuid4()}", f"recent-{uuid.uuid4()}"
    with psycopg.connect(pg_dsn) as db:
        db.execute("INSERT INTO webhook_events_seen (source, event_id, seen_at) VALUES ('test', %s, %s), "
                   "('test', %s, %s)", (old, now - window - intake.SEEN_MARGIN - dt.timedelta(minutes=1),
                                       recent, now - window))
        assert intake.prune_seen(db, now, window) >= 1
        left = {r[0] for r in db.execute("SELECT event_id FROM webhook_events_seen WHERE source = 'test'")}
    assert recent in left and old not in left


# -- monday.com ------------------------------------------------------------------------------------------------------
@pytest.fixture
def board_account(pg_dsn) -> str:
    connection_id = f"hook-m-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_dsn) as db:
        upsert_connection(db, Connection(connection_id, "monday", "M", {"api_token_secret": f"conn-{connection_id}"
                                                                        "-token", "account_id": 1825528}))
    return connection_id


def monday_url(connection_id: str) -> str:
    return f"{monday_hooks.PATH}/{connection_id}"


def monday_token(secret: str, connection_id: str, *, algorithm: str = "HS256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"accountId": 1825528, "userId": 4012689, "aud": f"https://bizmetrics.example{monday_url(connection_id)}",
              "iat": now, "exp": now + 300, "shortLivedToken": "short-lived-" + secrets.token_hex(8)}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


def board_event(kind: str = "change_column_value", **overrides: Any) -> dict[str, Any]:
    event = {"userId": 4012689, "originalTriggerUuid": None, "boardId": 2924980809, "pulseId": 4277581981,
             "pulseName": "Task 1", "groupId": "topics", "app": "monday", "type": kind,
             "triggerTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "subscriptionId": 147295839,
             "triggerUuid": uuid.uuid4().hex}
    event.update(overrides)
    return {"event": {k: v for k, v in event.items() if v is not None}}


def post_monday(client: TestClient, connection_id: str, body: Any, token: str | None):
    headers = {"Authorization": token} if token is not None else {}
    return client.post(monday_url(connection_id), json=body, headers=headers)


def test_the_registration_challenge_is_echoed_and_starts_nothing(client, change_queue, signing, board_account):
    answer = post_monday(client, board_account, {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
                         None)
    assert answer.status_code == 200 and answer.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    signed = post_monday(client, board_account, {"challenge": "abc"}, monday_token(signing, board_account))
    assert signed.json() == {"challenge": "abc"}
    assert queued(change_queue) == []


def test_a_signed_board_event_queues_a_notice_naming_its_board(client, change_queue, signing, board_account, caplog):
    caplog.set_level(logging.INFO)
    token = monday_token(signing, board_account)
    event = board_event()
    answer = post_monday(client, board_account, event, token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "queued": 1, "dropped": []}
    update = post_monday(client, board_account, board_event("create_update"), f"Bearer {token}")
    assert update.json()["accepted"] == 1
    notices = queued(change_queue)
    assert {(n.connection_id, n.source, n.event_id, tuple(n.changed)) for n in notices} == {
        (board_account, "monday", event["event"]["triggerUuid"], ("board:2924980809",)),
        (board_account, "monday", notices[0].event_id if notices[0].changed == ["updates"] else notices[1].event_id,
         ("updates",))}
    short_lived = jwt.decode(token, options={"verify_signature": False})["shortLivedToken"]
    assert short_lived not in caplog.text and all(short_lived not in json.dumps(n.to_json()) for n in notices)


def test_the_previous_signing_secret_is_accepted_while_it_rotates(client, change_queue, signing, board_account,
                                                                  monkeypatch):
    old = secrets.token_urlsafe(32)
    monkeypatch.setenv(env_name(monday_hooks.PREVIOUS_SIGNING_SECRET), old)
    assert post_monday(client, board_account, board_event(), monday_token(old, board_account)).json()["accepted"] == 1
    assert len(queued(change_queue)) == 1


def _none_token(connection_id: str) -> str:
    from tests.api.conftest import unsigned_token

    now = int(time.time())
    return unsigned_token({"alg": "none", "typ": "JWT"}, {"accountId": 1825528, "iat": now, "exp": now + 300})


@pytest.mark.parametrize(("how", "code"), [
    ("missing", "signature_missing"),
    ("another secret", "signature_invalid"),
    ("expired", "token_expired"),
    ("issued long ago", "token_expired"),
    ("alg none", "invalid_token"),
    ("HS512", "invalid_token"),
    ("no exp", "invalid_token"),
    ("garbage", "invalid_token"),
    ("another connection's URL", "wrong_audience"),
    ("another account", "wrong_account"),
])
def test_an_event_without_a_valid_jwt_is_refused_with_401_and_queues_nothing(
        client, change_queue, signing, board_account, caplog, how, code):
    caplog.set_level(logging.INFO)
    now = int(time.time())
    token = {
        "missing": None,
        "another secret": monday_token("not-the-signing-secret-" + "x" * 64, board_account),
        "expired": monday_token(signing, board_account, iat=now - 900, exp=now - 600),
        "issued long ago": monday_token(signing, board_account, iat=now - 7200, exp=now + 300),
        "alg none": _none_token(board_account),
        "HS512": monday_token(signing, board_account, algorithm="HS512"),
        "no exp": monday_token(signing, board_account, exp=None),
        "garbage": "Bearer not.a.jwt",
        "another connection's URL": monday_token(signing, board_account,
                                                 aud=f"https://bizmetrics.example{monday_url('someone-else')}"),
        "another account": monday_token(signing, board_account, accountId=999),
    }[how]
    answer = post_monday(client, board_account, board_event(), token)
    assert answer.status_code == 401 and answer.json()["code"] == code, answer.text
    assert queued(change_queue) == []
    assert refusal_logged(caplog, "monday", code)


def test_an_event_for_no_enabled_connection_is_refused_with_404(client, change_queue, signing):
    answer = post_monday(client, "no-such-board-account", board_event(), monday_token(signing, "no-such-board-account"))
    assert answer.status_code == 404 and answer.json()["code"] == "connection_not_found"
    assert queued(change_queue) == []


@pytest.mark.parametrize(("body", "status", "reason"), [
    (board_event(boardId=None), 200, "malformed event: no valid boardId"),
    (board_event(triggerUuid=None), 200, "malformed event: no valid triggerUuid"),
    (board_event(triggerTime="yesterday"), 200, "malformed event: triggerTime is not"),
    (board_event(triggerTime="2026-01-01T00:00:00.000Z"), 200, "older than the replay window"),
    ({"event": "changed"}, 200, "malformed event: no event object"),
])
def test_a_malformed_or_stale_board_event_is_dropped_with_a_log_line(client, change_queue, signing, board_account,
                                                                     caplog, body, status, reason):
    caplog.set_level(logging.INFO)
    answer = post_monday(client, board_account, body, monday_token(signing, board_account))
    assert answer.status_code == status and answer.json()["accepted"] == 0
    assert answer.json()["dropped"][0]["reason"].startswith(reason)
    assert queued(change_queue) == [] and len(drops_logged(caplog, "monday")) == 1


def test_a_body_that_is_not_a_json_object_is_refused_with_400(client, change_queue, signing, board_account):
    token = monday_token(signing, board_account)
    for body, code in ((b"{", "malformed_json"), (b"[1, 2]", "not_an_event")):
        answer = client.post(monday_url(board_account), content=body, headers={"Authorization": token})
        assert answer.status_code == 400 and answer.json()["code"] == code
    assert queued(change_queue) == []


def test_through_the_functions_http_bridge_the_signed_bytes_arrive_as_sent(pg_dsn, landing_container, verifier,
                                                                           tmp_path):
    """As Azure serves it: the one HTTP function in front of the app hands the route the raw body and headers, so
    Intuit's signature checks out (an unknown realm: verified, then dropped, nothing on the app's queue)."""
    from devhost import LocalDurableHost
    from function_app import app

    host = LocalDurableHost(app, tmp_path / "devhost.sqlite")
    # Spacing and key order as Intuit's serializer chose them: re-encoding would break the signature. A realm no
    # connection has, whatever other tests left in the database: an event of a known one would go on the app's own
    # queue, which every session on this machine shares (`make demo`'s host took such notices and warned of them).
    realm = _realm()
    body = json.dumps([cloud_event(realm)], indent=1, sort_keys=True).encode()
    try:
        answers = {}
        for signature, status in ((qbo_hooks.sign(body, verifier), 200), (qbo_hooks.sign(body + b" ", verifier), 401)):
            answer = host.invoke_http("api_http", "POST", url=f"http://localhost:7071{QBO_URL}", body=body,
                                      headers={"Content-Type": "application/json",
                                               qbo_hooks.SIGNATURE_HEADER: signature})
            assert answer.status_code == status, answer.get_body()
            answers[status] = json.loads(answer.get_body())
        assert (answers[200]["accepted"], answers[200]["queued"]) == (0, 0), answers[200]
        assert [d["reason"] for d in answers[200]["dropped"]] == [f"no enabled connection has realm {realm}"]
        assert answers[401]["code"] == "signature_invalid"
    finally:
        host.close()


def test_a_database_that_cannot_be_reached_answers_503_and_queues_nothing(api_app, change_queue, verifier, companies):
    unreachable = lambda: psycopg.connect("host=127.0.0.1 port=9 dbname=bizmetrics connect_timeout=2")  # noqa: E731
    api_app.dependency_overrides[intake.default_target] = lambda: intake.Target(open_db=unreachable,
                                                                                queue=change_queue)
    try:
        answer = post_qbo(TestClient(api_app, raise_server_exceptions=False), verifier,
                          [cloud_event(companies["realms"][0])])
    finally:
        api_app.dependency_overrides.clear()
    assert answer.status_code == 503 and answer.json()["code"] == "database_unavailable"
    assert answer.headers["retry-after"] == "30" and queued(change_queue) == []
