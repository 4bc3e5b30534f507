"""API keys end to end: a real database, a real app, requires() deciding; each refusal with its status and code."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

import psycopg
import pytest

from api.auth import CONNECTIONS_ADMIN, METRICS_READ, SYNC_RUN, requires
from api.auth.keys import (
    PEPPER_SECRET,
    PREVIOUS_PEPPER_SECRET,
    ApiKeys,
    KeyNotFound,
    KeyRejected,
    Peppers,
    pepper_id,
)
from shared.core.secrets import env_name, secrets_provider
from shared.db.audit import entries
from tests.api.conftest import ALLOWED, OTHER, bearer, key_row, refused, unique


def test_liveness_needs_no_credential_and_everything_else_does(client):
    assert client.get("/live").status_code == 200
    body = refused(client.get("/metrics"), 401, "unauthenticated")
    assert "X-API-Key" in body["detail"]
    refused(client.post("/syncs"), 401, "unauthenticated")


def test_a_key_is_accepted_as_bearer_or_x_api_key(client, keys):
    issued = keys.create(unique("grafana"), [METRICS_READ], actor="test")
    for headers in (bearer(issued.text), {"X-API-Key": issued.text}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"actor": f"key:{issued.key.key_id}", "kind": "key", "scopes": [METRICS_READ],
                                   "connections": None}


@pytest.mark.parametrize("headers", [
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer    "},
    {"X-API-Key": "not-a-key"},
    {"X-API-Key": "bzk_short_secret"},
    {"X-API-Key": ""},
], ids=["basic", "bearer-no-token", "bearer-blank", "x-api-key-junk", "x-api-key-short", "x-api-key-empty"])
def test_a_malformed_credential_is_401_invalid_credentials(client, headers):
    refused(client.get("/metrics", headers=headers), 401, "invalid_credentials")


def test_two_credentials_at_once_are_refused(client, keys):
    issued = keys.create(unique("both"), [METRICS_READ], actor="test")
    refused(client.get("/metrics", headers={**bearer(issued.text), "X-API-Key": issued.text}), 401,
            "invalid_credentials")


def test_an_unknown_key_or_a_wrong_secret_is_invalid_credentials_and_never_echoed(client, keys):
    issued = keys.create(unique("real"), [METRICS_READ], actor="test")
    wrong_secret = f"bzk_{issued.key.key_id}_{secrets.token_urlsafe(32)}"
    unknown_id = f"bzk_zzzzzzzzzz_{secrets.token_urlsafe(32)}"
    for text in (wrong_secret, unknown_id):
        response = client.get("/metrics", headers={"X-API-Key": text})
        refused(response, 401, "invalid_credentials")
        assert text not in response.text and text.split("_", 2)[2] not in response.text


def test_an_expired_key_is_401_key_expired(client, keys, clock):
    issued = keys.create(unique("short"), [METRICS_READ], expires_in=dt.timedelta(days=1), actor="test")
    assert client.get("/metrics", headers=bearer(issued.text)).status_code == 200
    clock.advance(days=1, seconds=1)
    body = refused(client.get("/metrics", headers=bearer(issued.text)), 401, "key_expired")
    assert issued.text not in body["detail"]


def test_a_revoked_key_is_401_key_revoked_and_the_revocation_is_audited(client, keys, pg_dsn):
    issued = keys.create(unique("leaked"), [METRICS_READ], actor="test")
    assert client.get("/metrics", headers=bearer(issued.text)).status_code == 200
    revoked = keys.revoke(issued.key.key_id, actor="user:oid-1 (ops)")
    assert revoked.revoked_by == "user:oid-1 (ops)"
    refused(client.get("/metrics", headers=bearer(issued.text)), 401, "key_revoked")
    # Revoking again changes nothing (and records nothing more).
    assert keys.revoke(issued.key.key_id, actor="someone else").revoked_by == "user:oid-1 (ops)"
    with psycopg.connect(pg_dsn) as conn:
        actions = [(e.action, e.actor) for e in entries(conn, target=issued.key.key_id)]
    assert actions == [("api_key.revoked", "user:oid-1 (ops)"), ("api_key.created", "test")]


def test_an_under_scoped_key_is_403_forbidden_naming_the_scope(client, keys):
    issued = keys.create(unique("reader"), [METRICS_READ], actor="test")
    body = refused(client.post("/syncs", headers=bearer(issued.text)), 403, "forbidden")
    assert body["required_scope"] == SYNC_RUN and SYNC_RUN in body["detail"]
    runner = keys.create(unique("runner"), [SYNC_RUN], actor="test")
    assert client.post("/syncs", headers=bearer(runner.text)).status_code == 200
    refused(client.get("/metrics", headers=bearer(runner.text)), 403, "forbidden")


def test_a_key_with_an_allow_list_sees_only_those_connections(client, keys):
    limited = keys.create(unique("one-company"), [METRICS_READ], connections=[ALLOWED], actor="test")
    everything = keys.create(unique("all"), [METRICS_READ], actor="test")
    assert client.get(f"/connections/{ALLOWED}", headers=bearer(limited.text)).status_code == 200
    body = refused(client.get(f"/connections/{OTHER}", headers=bearer(limited.text)), 403, "connection_forbidden")
    assert body["connection_id"] == OTHER
    assert client.get("/metrics", headers=bearer(limited.text)).json()["connections"] == [ALLOWED]
    assert client.get(f"/connections/{OTHER}", headers=bearer(everything.text)).status_code == 200


def test_creating_a_key_checks_scopes_names_and_the_allow_list(keys):
    with pytest.raises(ValueError, match="Scopes"):
        keys.create("x", ["Everything.Admin"], actor="test")
    with pytest.raises(ValueError, match="Scopes"):
        keys.create("x", [], actor="test")
    with pytest.raises(ValueError, match="name"):
        keys.create("bad\nname", [METRICS_READ], actor="test")
    with pytest.raises(ValueError, match="Unknown connections"):
        keys.create("x", [METRICS_READ], connections=["no-such-connection"], actor="test")
    with pytest.raises(ValueError, match="Invalid connection"):
        keys.create("x", [METRICS_READ], connections=["acme\n"], actor="test")
    with pytest.raises(ValueError, match="positive"):
        keys.create("x", [METRICS_READ], expires_in=dt.timedelta(0), actor="test")
    with pytest.raises(KeyNotFound):
        keys.revoke("nosuchkey0", actor="test")


def test_requires_refuses_an_unknown_scope_when_the_route_is_declared():
    with pytest.raises(ValueError, match="Unknown scope"):
        requires("Metrics.Write")


def test_rotation_keeps_both_keys_working_for_the_grace_period_then_only_the_new(client, keys, clock, pg_dsn):
    old = keys.create(unique("bi"), [METRICS_READ, SYNC_RUN], connections=[ALLOWED],
                      expires_in=dt.timedelta(days=90), actor="test")
    clock.advance(days=10)
    new = keys.rotate(old.key.key_id, dt.timedelta(hours=24), actor="cli:ops")
    assert new.key.key_id != old.key.key_id and new.text != old.text
    assert new.key.scopes == old.key.scopes and new.key.connections == old.key.connections
    assert new.key.expires_at == clock.now + dt.timedelta(days=90)  # the same lifetime, from now
    assert keys.get(old.key.key_id).replaced_by == new.key.key_id
    for text in (old.text, new.text):
        assert client.post("/syncs", headers=bearer(text)).status_code == 200
    clock.advance(hours=23, minutes=59)
    assert client.get("/metrics", headers=bearer(old.text)).status_code == 200
    clock.advance(minutes=2)
    refused(client.get("/metrics", headers=bearer(old.text)), 401, "key_expired")
    assert client.get("/metrics", headers=bearer(new.text)).status_code == 200
    with pytest.raises(ValueError, match="expired"):
        keys.rotate(old.key.key_id, actor="test")
    with psycopg.connect(pg_dsn) as conn:
        rotated = entries(conn, target=old.key.key_id, action="api_key.rotated")
        created = entries(conn, target=new.key.key_id, action="api_key.created")
    assert rotated[0].actor == "cli:ops" and rotated[0].details["replaced_by"] == new.key.key_id
    assert created[0].details["rotated_from"] == old.key.key_id


def test_a_rotated_key_cannot_be_rotated_again_and_grace_never_extends_an_expiry(keys, clock):
    old = keys.create(unique("soon"), [METRICS_READ], expires_in=dt.timedelta(hours=2), actor="test")
    new = keys.rotate(old.key.key_id, dt.timedelta(hours=24), actor="test")
    assert keys.get(old.key.key_id).expires_at == old.key.expires_at  # 2 h, not 24 h
    with pytest.raises(ValueError, match=f"already rotated to {new.key.key_id}"):
        keys.rotate(old.key.key_id, actor="test")


def test_last_used_is_written_at_most_once_a_minute(client, keys, clock, pg_dsn):
    issued = keys.create(unique("busy"), [METRICS_READ], actor="test")
    assert key_row(pg_dsn, issued.key.key_id)["last_used_at"] is None
    first = clock.now
    client.get("/metrics", headers=bearer(issued.text))
    assert key_row(pg_dsn, issued.key.key_id)["last_used_at"] == first
    clock.advance(seconds=30)
    client.get("/metrics", headers=bearer(issued.text))
    assert key_row(pg_dsn, issued.key.key_id)["last_used_at"] == first
    clock.advance(seconds=31)
    client.get("/metrics", headers=bearer(issued.text))
    assert key_row(pg_dsn, issued.key.key_id)["last_used_at"] == clock.now


def test_the_stored_row_holds_a_peppered_hash_and_never_the_key(keys, pg_dsn, pepper):
    issued = keys.create(unique("stored"), [CONNECTIONS_ADMIN], actor="test")
    row = key_row(pg_dsn, issued.key.key_id)
    secret_part = issued.text.split("_", 2)[2]
    stored = repr(row)
    assert issued.text not in stored and secret_part not in stored
    assert row["pepper_id"] == pepper_id(pepper) and pepper not in stored
    assert len(row["key_hash"]) == 64
    assert issued.text not in repr(issued) and issued.text not in str(issued)


def test_a_key_hashed_under_another_pepper_does_not_verify(client, keys, monkeypatch, conn_factory, clock):
    issued = keys.create(unique("pepper"), [METRICS_READ], actor="test")
    monkeypatch.setenv(env_name(PEPPER_SECRET), secrets.token_urlsafe(32))
    other = ApiKeys(conn_factory, clock=clock)
    with pytest.raises(KeyRejected, match="not valid") as raised:
        other.verify(issued.text)
    assert raised.value.code == "invalid_credentials"


def test_the_pepper_rotates_the_old_one_verifying_until_each_key_is_rehashed(keys, monkeypatch, conn_factory,
                                                                              clock, pepper, pg_dsn):
    issued = keys.create(unique("rehash"), [METRICS_READ], actor="test")
    new_pepper = secrets.token_urlsafe(32)
    monkeypatch.setenv(env_name(PEPPER_SECRET), new_pepper)
    monkeypatch.setenv(env_name(PREVIOUS_PEPPER_SECRET), pepper)
    rotated = ApiKeys(conn_factory, clock=clock)
    assert rotated.verify(issued.text).key_id == issued.key.key_id
    assert key_row(pg_dsn, issued.key.key_id)["pepper_id"] == pepper_id(new_pepper)
    monkeypatch.delenv(env_name(PREVIOUS_PEPPER_SECRET))
    assert ApiKeys(conn_factory, clock=clock).verify(issued.text).key_id == issued.key.key_id


def test_keys_never_reach_the_logs_over_a_create_use_revoke_cycle(client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    issued = keys.create(unique("logged"), [METRICS_READ], actor="test")
    assert client.get("/metrics", headers=bearer(issued.text)).status_code == 200
    client.get("/metrics", headers=bearer(issued.text + "x"))
    rotated = keys.rotate(issued.key.key_id, actor="test")
    keys.revoke(issued.key.key_id, actor="test")
    client.get("/metrics", headers=bearer(issued.text))
    assert issued.key.key_id in caplog.text  # the logs do talk about the key, by id
    for text in (issued.text, rotated.text):
        assert text not in caplog.text and text.split("_", 2)[2] not in caplog.text


def test_the_audit_log_is_append_only(keys, pg_dsn):
    issued = keys.create(unique("audited"), [METRICS_READ], actor="test")
    with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE target = %s", (issued.key.key_id,))
    with psycopg.connect(pg_dsn) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE target = %s", (issued.key.key_id,))


def test_a_new_pepper_is_picked_up_within_a_minute_when_a_key_needs_it(monkeypatch, conn_factory, clock, pepper):
    now = [0.0]
    app_keys = ApiKeys(conn_factory, clock=clock, peppers=Peppers(secrets_provider(), clock=lambda: now[0]))
    first = app_keys.create(unique("before"), [METRICS_READ], actor="test")
    new_pepper = secrets.token_urlsafe(32)
    monkeypatch.setenv(env_name(PEPPER_SECRET), new_pepper)
    monkeypatch.setenv(env_name(PREVIOUS_PEPPER_SECRET), pepper)
    # The CLI, a separate process, already hashes under the new pepper.
    issued = ApiKeys(conn_factory, clock=clock).create(unique("after"), [METRICS_READ], actor="test")
    with pytest.raises(KeyRejected):
        app_keys.verify(issued.text)  # the app's cache is seconds old: it does not reread for every bad id
    now[0] += 61
    assert app_keys.verify(issued.text).key_id == issued.key.key_id
    assert app_keys.verify(first.text).key_id == first.key.key_id
