"""The webhook verifiers and mappers without I/O: Intuit's HMAC over the raw bytes, monday's HS256 JWT, how events
become connections and hints, and how the intake merges them into one notice per connection."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jwt
import pytest

from plugins.monday import webhooks as monday
from plugins.quickbooks import webhooks as qbo
from shared.changes import intake
from shared.changes.intake import Batch, Refused, SourceEvent
from shared.db.connections import Connection

# PyJWT checks exp and iat against the real clock, so the tokens here are made for it (each lives 5 minutes).
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def refused(call, *args, **kwargs) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    return caught.value


# -- QuickBooks: the signature ---------------------------------------------------------------------------------------
BODY = b'[{"specversion":"1.0","id":"e1","type":"qbo.invoice.updated.v1"}]'


def test_the_signature_is_the_base64_hmac_sha256_of_the_raw_body_under_the_verifier_token():
    signature = qbo.sign(BODY, "verifier")
    qbo.verify(BODY, signature, ["verifier"])
    # The same JSON with other whitespace is other bytes: the signature covers what was sent, not what it means.
    same_meaning = json.dumps(json.loads(BODY)).encode()
    assert same_meaning != BODY
    assert refused(qbo.verify, same_meaning, signature, ["verifier"]).code == "signature_invalid"


@pytest.mark.parametrize(("signature", "code"), [
    (None, "signature_missing"), ("", "signature_missing"), ("@@@", "signature_invalid"),
    ("A" * 300, "signature_invalid"), (qbo.sign(BODY, "other"), "signature_invalid"),
    (qbo.sign(BODY, "verifier")[:-4] + "AAA=", "signature_invalid"),
])
def test_a_missing_malformed_or_wrong_signature_is_refused_with_401(signature, code):
    problem = refused(qbo.verify, BODY, signature, ["verifier"])
    assert (problem.status, problem.code) == (401, code)


def test_either_token_of_a_rotation_verifies():
    for token in ("new", "old"):
        qbo.verify(BODY, qbo.sign(BODY, token), ["new", "old"])


# -- QuickBooks: events to connections -------------------------------------------------------------------------------
def event(realm: str = "111", kind: str = "qbo.invoice.updated.v1", **overrides: Any) -> dict[str, Any]:
    base = {"specversion": "1.0", "id": "e-" + kind + realm, "source": "//quickbooks", "type": kind,
            "time": "2026-12-02T11:59:00Z", "intuitentityid": "7", "intuitaccountid": realm, "data": {}}
    return {**base, **overrides}


COMPANIES = [Connection("a", "quickbooks", "A", {"realm_id": "111"}),
             Connection("b", "quickbooks", "B", {"realm_id": "222"}),
             Connection("c", "quickbooks", "C", {"realm_id": "222", "streams": ["Customer"]})]


def test_events_of_several_realms_go_to_every_connection_of_their_realm_that_syncs_the_entity():
    batch = qbo.read_events([event("111"), event("222", "qbo.salesreceipt.created.v1"),
                             event("222", "qbo.customer.merged.v1")], COMPANIES)
    assert [(e.connection_ids, e.changed) for e in batch.events] == [
        (("a",), ("entity:Invoice",)), (("b",), ("entity:SalesReceipt",)), (("b", "c"), ("entity:Customer",))]
    assert batch.events[0].occurred_at == dt.datetime(2026, 12, 2, 11, 59, tzinfo=dt.UTC)
    assert batch.dropped == []


def test_an_entity_no_connection_of_the_realm_syncs_is_dropped_saying_so():
    only_customers = [COMPANIES[2]]
    batch = qbo.read_events([event("222")], only_customers)
    assert batch.events == [] and batch.dropped[0].reason == "no connection of realm 222 syncs Invoice"


def test_the_event_body_is_not_trusted_beyond_what_changed():
    # A forged data payload, entity id or source changes nothing: only the realm and the entity name are used.
    batch = qbo.read_events([event("111", data={"Invoice": {"TotalAmt": 1e9}}, intuitentityid="999",
                                   source="//evil")], COMPANIES)
    assert batch.events[0].changed == ("entity:Invoice",)


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b'"text"', b'{"id": 1}', b"null"])
def test_a_body_that_is_not_a_json_array_is_refused_with_400(body):
    assert refused(qbo.parse, body).status == 400


# -- monday: the JWT -------------------------------------------------------------------------------------------------
PATH = "/api/webhooks/monday/m-1"


def long(word: str) -> str:
    """A signing secret as long as HS384/HS512 ask for (PyJWT warns below)."""
    return f"{word}-" + "s" * 64


def token(secret: str = long("signing"), *, algorithm: str = "HS256", **overrides: Any) -> str:
    now = int(NOW.timestamp())
    # Valid for 50 minutes: the parameters are made at collection, and a whole suite runs for minutes before them.
    claims = {"accountId": 42, "userId": 7, "aud": "https://app.example" + PATH, "iat": now, "exp": now + 3000,
              "shortLivedToken": "short"}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


def verify(authorization: str | None, secrets: tuple[str, ...] = (long("signing"),), now: dt.datetime = NOW,
           path: str = PATH) -> dict[str, Any]:
    return monday.verify(authorization, list(secrets), path=path, now=now)


def test_a_token_signed_with_the_signing_secret_yields_its_claims_with_or_without_bearer():
    assert verify(token())["accountId"] == 42
    assert verify("Bearer " + token())["accountId"] == 42
    assert verify(token(long("old")), (long("new"), long("old")))["accountId"] == 42  # a rotation
    assert verify(token(aud=None))["accountId"] == 42  # monday does not always set aud


@pytest.mark.parametrize(("authorization", "code"), [
    (None, "signature_missing"),
    (token(long("other")), "signature_invalid"),
    (token(algorithm="HS384"), "invalid_token"),
    (jwt.encode({"iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 3000}, None, algorithm="none"),
     "invalid_token"),
    (token(exp=int(NOW.timestamp()) - 120), "token_expired"),
    (token(iat=int(NOW.timestamp()) + 600), "invalid_token"),
    (token(iat=int(NOW.timestamp()) - 4000), "token_expired"),
    (token(iat=None), "invalid_token"),
    (token(exp=None), "invalid_token"),
    (token(aud="https://app.example/api/webhooks/monday/m-2"), "wrong_audience"),
    (token(aud=["https://app.example" + PATH]), "wrong_audience"),
    ("x" * 9000, "invalid_token"),
    ("not-a-jwt", "invalid_token"),
])
def test_a_token_that_is_not_monday_s_for_this_url_and_now_is_refused_with_401(authorization, code):
    problem = refused(verify, authorization)
    assert (problem.status, problem.code) == (401, code)
    assert "short" not in problem.message


def test_a_token_s_times_are_judged_by_the_clock_the_caller_passes_not_the_process_clock():
    """The suite's tokens are made at collection; the verdict must not change as the wall clock moves on."""
    later = NOW + dt.timedelta(minutes=30)
    assert refused(verify, token(iat=int(later.timestamp()) + 600), now=later).code == "invalid_token"
    assert verify(token(iat=int(later.timestamp()), exp=int(later.timestamp()) + 600), now=later)["accountId"] == 42
    expired = refused(verify, token(), now=NOW + dt.timedelta(seconds=3000 + monday.LEEWAY_SECONDS + 1))
    assert (expired.status, expired.code) == (401, "token_expired")
    assert refused(verify, token(nbf=int(NOW.timestamp()) + 600)).code == "invalid_token"
    assert refused(verify, token(iat="yesterday")).code == "invalid_token"


# -- monday: the event -----------------------------------------------------------------------------------------------
ACCOUNT = [Connection("m-1", "monday", "M", {"api_token_secret": "conn-m-1-token", "account_id": "42"})]


def board_event(kind: str = "create_pulse", **overrides: Any) -> dict[str, Any]:
    base = {"type": kind, "boardId": 2924980809, "pulseId": 4277581981, "triggerTime": "2026-12-02T11:59:00.000Z",
            "triggerUuid": "b5ed2e17c530446a98b25b8e6f0d6a1f"}
    return {"event": {**base, **overrides}}


@pytest.mark.parametrize(("kind", "hint"), [
    ("create_pulse", "board:2924980809"), ("change_column_value", "board:2924980809"),
    ("item_deleted", "board:2924980809"), ("create_subitem", "board:2924980809"),
    ("create_update", "updates"), ("edit_update", "updates"),
])
def test_a_board_event_names_its_board_and_an_update_event_the_updates(kind, hint):
    batch = monday.read_event(board_event(kind), {"accountId": 42}, "m-1", ACCOUNT)
    assert [(e.event_id, e.connection_ids, e.changed) for e in batch.events] == [
        ("b5ed2e17c530446a98b25b8e6f0d6a1f", ("m-1",), (hint,))]


def test_an_event_for_another_account_or_no_connection_is_refused():
    assert refused(monday.read_event, board_event(), {"accountId": 43}, "m-1", ACCOUNT).code == "wrong_account"
    assert refused(monday.read_event, board_event(), {"accountId": 42}, "m-2", ACCOUNT).status == 404


@pytest.mark.parametrize("change", [{"boardId": None}, {"boardId": "12a"}, {"boardId": True}, {"triggerUuid": ""},
                                    {"triggerTime": "2026-12-02T11:59:00"}, {"type": None}])
def test_a_malformed_board_event_is_dropped(change):
    batch = monday.read_event(board_event(**change), {"accountId": 42}, "m-1", ACCOUNT)
    assert batch.events == [] and batch.dropped[0].reason.startswith("malformed event")


def test_the_challenge_is_only_a_handshake():
    assert monday.challenge({"challenge": "abc"}) == "abc"
    assert monday.challenge({"challenge": "abc", "event": {}}) is None
    assert refused(monday.challenge, {"challenge": "x" * 600}).status == 400


# -- the shared intake: what it makes of the events ------------------------------------------------------------------
def at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


def test_one_notice_per_connection_merges_hints_and_an_event_without_hints_means_everything():
    events = [SourceEvent("e1", NOW, ("a", "b"), ("entity:Invoice",)), SourceEvent("e2", NOW, ("a",), ("entity:Bill",)),
              SourceEvent("e3", NOW, ("b",), ())]
    notices = {n.connection_id: n for n in intake._notices("quickbooks", events, NOW)}
    assert notices["a"].changed == ["entity:Bill", "entity:Invoice"] and notices["b"].changed == []
    assert notices["a"].event_id == intake._notices("quickbooks", events[1::-1], NOW)[0].event_id  # order-free
    assert intake._notices("quickbooks", events[:1], NOW)[0].event_id == "e1"
    assert notices["a"].received_at == NOW.isoformat()


def test_events_outside_the_window_are_dropped_and_a_little_clock_skew_is_not():
    window = dt.timedelta(hours=6)
    batch = Batch(events=[SourceEvent("old", at(-361), ("a",)), SourceEvent("edge", at(-359), ("a",)),
                          SourceEvent("skewed", at(4), ("a",)), SourceEvent("future", at(6), ("a",)),
                          SourceEvent("nobody", NOW, ())])
    fresh, dropped = intake._timely(batch, NOW, window)
    assert [e.event_id for e in fresh] == ["edge", "skewed"]
    assert {d.event_id: d.reason for d in dropped} == {
        "old": "older than the replay window (21600 s)", "future": "its time is in the future",
        "nobody": "no connection syncs what it concerns"}


def test_the_replay_window_setting_is_checked(monkeypatch):
    monkeypatch.setenv(intake.REPLAY_WINDOW_SETTING, "10")
    with pytest.raises(ValueError, match="at least 60 seconds"):
        intake.replay_window()


def test_an_event_id_is_logged_short_and_printable():
    assert intake.safe_id("abc\n\x1b[31mforged log line" + "x" * 200).startswith("abc???31mforged?log?line")
    assert len(intake.safe_id("x" * 500)) == 100 and intake.safe_id(None) == "-"


def test_a_bad_replay_window_setting_refuses_deliveries_with_503_naming_it(monkeypatch):
    monkeypatch.setenv(intake.REPLAY_WINDOW_SETTING, "soon")
    problem = refused(intake.take, "quickbooks", lambda connections: Batch(), open_db=lambda: None)
    assert (problem.status, problem.code) == (503, "webhooks_not_configured")
    assert intake.REPLAY_WINDOW_SETTING in problem.message
