"""Change notices on the Azurite queue -> the queue trigger -> one debounced incremental run per burst, through the
local Durable host (real SDK replay), the QuickBooks simulator and PostgreSQL.

Each test reads a queue of its own (the host's queue_names): Azurite is shared by every test session."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

from shared.changes.notice import ChangeNotice
from shared.changes.queue import QUEUE_NAME, enqueue
from shared.core.config import DEFAULT_STORAGE
from shared.db import leases, runs
from tests.api_calls import api_key, call
from tests.integration.helpers import CONNECTION, REALM, assert_database_equals_simulator, sync, truth
from tests.integration.webhook_e2e import assert_never_overlapping, db_now


@pytest.fixture
def queue_name() -> Iterator[str]:
    name = f"changes-{uuid.uuid4().hex[:12]}"
    yield name
    for queue in (name, name + "-poison"):
        with contextlib.suppress(ResourceNotFoundError):
            QueueClient.from_connection_string(DEFAULT_STORAGE, queue).delete_queue()


@pytest.fixture
def debounce(monkeypatch) -> None:
    monkeypatch.setenv("BIZ_CHANGE_DEBOUNCE_SECONDS", "2")
    monkeypatch.setenv("BIZ_CHANGE_MAX_WAIT_SECONDS", "30")


@pytest.fixture
def change_host(tmp_path, queue_name, debounce, connection, pg_dsn):
    from devhost import LocalDurableHost
    from function_app import app

    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM pending_changes")
        conn.commit()
    host = LocalDurableHost(app, tmp_path / "devhost.sqlite", virtual_time=True, queue_names={QUEUE_NAME: queue_name})
    yield host
    host.close()


def send(queue: str, *notices: ChangeNotice) -> None:
    client = QueueClient.from_connection_string(DEFAULT_STORAGE, queue,
                                                message_encode_policy=BinaryBase64EncodePolicy(),
                                                message_decode_policy=BinaryBase64DecodePolicy())
    assert enqueue(notices, client) == len(notices)


def send_raw(queue: str, body: bytes) -> None:
    client = QueueClient.from_connection_string(DEFAULT_STORAGE, queue)
    with contextlib.suppress(Exception):
        client.create_queue()
    client.send_message(base64.b64encode(body).decode())


def notice(*changed: str, connection_id: str = CONNECTION, source: str = "quickbooks") -> ChangeNotice:
    return ChangeNotice(connection_id, source, f"evt-{uuid.uuid4().hex[:8]}",
                        dt.datetime.now(dt.UTC).isoformat(), list(changed))


def drain(host) -> int:
    handled = 0
    while (count := host.poll_queues()) > 0:
        handled += count
    return handled


def left(queue: str) -> int:
    try:
        return len(QueueClient.from_connection_string(DEFAULT_STORAGE, queue).peek_messages(max_messages=32))
    except ResourceNotFoundError:
        return 0


def driver(pg_dsn: str) -> tuple[str | None, str, int]:
    """(driver instance, state, pending events) of the test connection."""
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT driver, state, events FROM pending_changes WHERE connection_id = %s",
                           (CONNECTION,)).fetchone()
    return row or (None, "idle", 0)


def webhook_runs(pg_dsn: str, since: dt.datetime) -> list[dict]:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            """SELECT run_id, scope, mode, status, started_by, instance_id, started_at, ended_at, notes
               FROM sync_runs WHERE trigger = 'webhook' AND started_at >= %s ORDER BY started_at""",
            (since,)).fetchall()
    keys = ("run_id", "scope", "mode", "status", "started_by", "instance_id", "started_at", "ended_at", "notes")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def hints_of(host, run: dict) -> list[str]:
    """The `changed` hints the run's sync_all was started with."""
    return host.get_status(run["instance_id"])["input"].get("changed", [])


def test_notices_start_one_incremental_webhook_run_of_that_connection_and_the_change_lands(
        change_host, simulator, pg_dsn, queue_name):
    state, _ = simulator
    sync(change_host, "full")
    since = db_now(pg_dsn)
    invoice = sorted(truth(state, "Invoice"), key=int)[0]
    state.update(REALM, "Invoice", invoice, {"PrivateNote": "changed, and the webhook said so"})
    send(queue_name, notice("Invoice"), notice("Invoice"))

    assert drain(change_host) == 2
    instance, _, events = driver(pg_dsn)
    assert instance == f"changes-{CONNECTION}-1" and events == 2
    done = change_host.run_until_complete(instance, timeout=300)

    assert done["runtimeStatus"] == "Completed" and done["output"]["runs"] == 1
    [run] = webhook_runs(pg_dsn, since)
    assert (run["scope"], run["mode"], run["status"], run["started_by"]) == (
        CONNECTION, "incremental", "succeeded", "webhook:quickbooks")
    assert hints_of(change_host, run) == ["Invoice"]
    assert any("started by 2 change notice(s)" in n["note"] for n in run["notes"]), run["notes"]
    assert_database_equals_simulator(pg_dsn, state)
    assert driver(pg_dsn) == (None, "idle", 0)  # released: the next notice starts a new driver
    listed = json.loads(call(change_host, "GET", f"/api/syncs?trigger=webhook&connection_id={CONNECTION}",
                             key=api_key()).get_body())["items"]
    assert [(r["started_by"], r["status"]) for r in listed if r["run_id"] == run["run_id"]] == [
        ("webhook:quickbooks", "succeeded")]
    shown = json.loads(call(change_host, "GET", f"/api/syncs/{run['run_id']}", key=api_key()).get_body())
    assert shown["trigger"] == "webhook" and shown["runtime_status"] == "Completed"
    assert left(queue_name) == 0 and left(queue_name + "-poison") == 0


def test_a_burst_of_fifty_notices_makes_one_or_two_runs_that_never_overlap_and_carry_every_hint(
        tmp_path, queue_name, connection, simulator, pg_dsn, monkeypatch):
    from devhost import LocalDurableHost
    from function_app import app

    # Real time on background threads, as `make api` runs: the trigger and the driver interleave freely.
    monkeypatch.setenv("BIZ_CHANGE_DEBOUNCE_SECONDS", "1")
    monkeypatch.setenv("BIZ_CHANGE_MAX_WAIT_SECONDS", "10")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DELETE FROM pending_changes")
        conn.commit()
    since = db_now(pg_dsn)
    sent = [f"hint-{i}" for i in range(50)]
    with LocalDurableHost(app, tmp_path / "burst.sqlite", queue_names={QUEUE_NAME: queue_name}) as host:
        host.start(queues=True)
        for hint in sent:
            send(queue_name, notice(hint))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            made = webhook_runs(pg_dsn, since)
            if (left(queue_name) == 0 and driver(pg_dsn)[1] == "idle" and made
                    and all(r["ended_at"] is not None for r in made)):
                break
            time.sleep(0.2)
        made = webhook_runs(pg_dsn, since)
        hints = [h for run in made for h in hints_of(host, run)]

    assert 1 <= len(made) <= 2, made
    assert all(r["status"] == "succeeded" for r in made), made
    assert_never_overlapping(made)
    assert sorted(hints) == sorted(sent)  # every hint, each in exactly one run
    assert driver(pg_dsn) == (None, "idle", 0)


def test_notices_arriving_during_a_run_make_exactly_one_follow_up_run(change_host, simulator, pg_dsn, queue_name):
    state, _ = simulator
    sync(change_host, "full")
    since = db_now(pg_dsn)
    send(queue_name, notice("Invoice"))
    drain(change_host)
    instance = driver(pg_dsn)[0]
    running = drive_until_webhook_run_syncs(change_host, instance, pg_dsn, since)
    # The API's start of that connection meets the webhook run: 409 naming it, instead of a run that skips.
    refused = call(change_host, "POST", "/api/syncs", {"connection_id": CONNECTION}, key=api_key())
    assert refused.status_code == 409 and json.loads(refused.get_body())["run_id"] == running["run_id"]

    customer = sorted(truth(state, "Customer"), key=int)[0]
    state.update(REALM, "Customer", customer, {"Notes": "changed during the first run"})
    send(queue_name, notice("Customer"), notice("Payment"), notice("Customer"))
    assert drain(change_host) == 3
    done = change_host.run_until_complete(instance, timeout=300)

    first, follow_up = webhook_runs(pg_dsn, since)
    assert done["output"]["runs"] == 2
    assert [first["status"], follow_up["status"]] == ["succeeded", "succeeded"]
    assert_never_overlapping([first, follow_up])
    assert hints_of(change_host, first) == ["Invoice"]
    assert hints_of(change_host, follow_up) == ["Customer", "Payment"]
    assert any("started by 3 change notice(s)" in n["note"] for n in follow_up["notes"])
    assert_database_equals_simulator(pg_dsn, state)
    assert driver(pg_dsn) == (None, "idle", 0)


def drive_until_webhook_run_syncs(host, instance: str, pg_dsn: str, since: dt.datetime) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        host.wait_for(instance, timeout=0.05)
        runs = webhook_runs(pg_dsn, since)
        if runs:
            with psycopg.connect(pg_dsn) as conn:
                streams = conn.execute("SELECT count(*) FROM sync_run_streams WHERE run_id = %s",
                                       (runs[0]["run_id"],)).fetchone()[0]
            if streams:
                return runs[0]
    raise AssertionError("the webhook run never began syncing")


def test_a_connection_another_run_holds_keeps_its_notices_until_that_run_ends(
        change_host, simulator, pg_dsn, queue_name):
    state, _ = simulator
    sync(change_host, "full")
    since = db_now(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:  # a timer run that is syncing the connection
        runs.begin_run(conn, "run-holding-it", "all", "incremental", "timer", "sync-all")
        assert leases.claim(conn, CONNECTION, "run-holding-it", "sync-all").granted
        conn.commit()
    try:
        invoice = sorted(truth(state, "Invoice"), key=int)[1]
        state.update(REALM, "Invoice", invoice, {"PrivateNote": "changed while another run held the connection"})
        send(queue_name, notice("Invoice"))
        drain(change_host)
        instance = driver(pg_dsn)[0]
        deadline = time.monotonic() + 60
        while (change_host.get_status(instance).get("customStatus") or {}).get("phase") != "busy":
            assert change_host.wait_for(instance, timeout=0.05)["runtimeStatus"] in ("Running", "ContinuedAsNew")
            assert time.monotonic() < deadline, "the driver never found the connection held"
        assert "run-holding-it" in change_host.get_status(instance)["customStatus"]["holder"]
        assert driver(pg_dsn)[1:] == ("driving", 1) and webhook_runs(pg_dsn, since) == []  # nothing taken, no run
    finally:
        with psycopg.connect(pg_dsn) as conn:  # the holder ends
            runs.end_run(conn, "run-holding-it", "succeeded", [])
            leases.release(conn, "run-holding-it")
            conn.commit()
    done = change_host.run_until_complete(instance, timeout=300)

    [run] = webhook_runs(pg_dsn, since)
    assert done["output"]["runs"] == 1 and run["status"] == "succeeded"  # waited its turn: not skipped
    assert hints_of(change_host, run) == ["Invoice"]
    assert_database_equals_simulator(pg_dsn, state)


def test_malformed_messages_and_notices_no_connection_can_take_are_dropped_with_a_log_line(
        change_host, pg_dsn, queue_name, caplog):
    caplog.set_level(logging.WARNING, logger="api.changes")
    since = db_now(pg_dsn)
    send(queue_name, notice("Invoice", connection_id="no-such-connection"),
         notice("Invoice", source="monday"))  # a QuickBooks connection named by another source's notice
    send_raw(queue_name, b"this is not JSON")
    send_raw(queue_name, b'{"connection_id": "qbo-e2e"}')  # no source, no event id
    send_raw(queue_name, b'{"connection_id": "../etc", "source": "quickbooks", "event_id": "e", "received_at": "x"}')

    assert drain(change_host) == 5  # each handled once: no retries, nothing for the poison queue
    assert left(queue_name) == 0 and left(queue_name + "-poison") == 0
    dropped = [r.getMessage() for r in caplog.records if r.name == "api.changes"]
    assert len(dropped) == 5 and all(m.startswith("dropped") for m in dropped), dropped
    assert any("no-such-connection" in m and "unknown" in m for m in dropped)
    assert any("not monday" in m for m in dropped)
    assert sum("malformed" in m for m in dropped) == 3
    assert driver(pg_dsn) == (None, "idle", 0)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pending_changes").fetchone()[0] == 0
    assert change_host.list_instances() == [] and webhook_runs(pg_dsn, since) == []


def test_a_notice_for_a_disabled_connection_is_dropped(change_host, pg_dsn, queue_name, caplog):
    caplog.set_level(logging.WARNING, logger="api.changes")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE connections SET enabled = false WHERE connection_id = %s", (CONNECTION,))
        conn.commit()
    try:
        send(queue_name, notice("Invoice"))
        assert drain(change_host) == 1
    finally:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("UPDATE connections SET enabled = true WHERE connection_id = %s", (CONNECTION,))
            conn.commit()
    assert any("is disabled" in r.getMessage() for r in caplog.records if r.name == "api.changes")
    assert change_host.list_instances() == [] and driver(pg_dsn) == (None, "idle", 0)


def test_a_driver_that_ended_without_letting_go_is_replaced_by_the_next_notice(change_host, pg_dsn, queue_name):
    send(queue_name, notice("Invoice"))
    drain(change_host)
    first = driver(pg_dsn)[0]
    change_host.terminate(first, "test: a driver that dies")
    change_host.run_until_complete(first, timeout=30)
    assert driver(pg_dsn)[:2] == (first, "driving")  # it never let go

    send(queue_name, notice("Customer"))
    drain(change_host)
    second = driver(pg_dsn)[0]
    assert second == f"changes-{CONNECTION}-2"
    done = change_host.run_until_complete(second, timeout=300)
    assert done["output"]["runs"] == 1
    assert driver(pg_dsn) == (None, "idle", 0)


def test_a_webhook_run_cancelled_through_the_api_stops_and_its_driver_lets_go(change_host, pg_dsn, queue_name):
    since = db_now(pg_dsn)
    send(queue_name, notice("Invoice"))
    drain(change_host)
    instance = driver(pg_dsn)[0]
    running = drive_until_webhook_run_syncs(change_host, instance, pg_dsn, since)

    cancelled = call(change_host, "POST", f"/api/syncs/{running['run_id']}/cancel", key=api_key())
    assert cancelled.status_code == 200, cancelled.get_body()
    assert running["instance_id"] in json.loads(cancelled.get_body())["terminated"]
    done = change_host.run_until_complete(instance, timeout=300)

    assert done["runtimeStatus"] == "Completed"  # the driver itself was not stopped, only the run
    [run] = webhook_runs(pg_dsn, since)
    assert run["status"] == "cancelled"
    assert driver(pg_dsn) == (None, "idle", 0)
