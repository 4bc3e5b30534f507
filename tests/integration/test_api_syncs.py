"""The sync routes end to end: through the Functions bridge (api_http) and the local Durable host, with real API
keys, real PostgreSQL and the QuickBooks simulator."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from api.auth.principal import METRICS_READ, SYNC_RUN
from api.starting import instance_id_for
from tests.api_calls import api_key, call, start_sync
from tests.integration.helpers import CONNECTION


def _row(dsn: str, sql: str, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()


def test_a_started_sync_is_recorded_with_who_started_it_and_can_be_followed_to_the_end(host, connection, pg_dsn):
    key = api_key(SYNC_RUN, METRICS_READ)
    response = call(host, "POST", "/api/syncs", {"connection_id": connection, "mode": "full"}, key=key)
    assert response.status_code == 202, response.get_body()
    answer = json.loads(response.get_body())
    run_id = answer["run_id"]
    assert response.headers["Location"] == f"/api/syncs/{run_id}" == answer["status_url"]
    # No Durable management URLs (in Azure they carry the task hub's system key).
    assert "management" not in answer and "runtime/webhooks" not in response.get_body().decode()
    started_by, status = _row(pg_dsn, "SELECT started_by, status FROM sync_runs WHERE run_id = %s", run_id)
    assert started_by.startswith("key:") and status == "running"
    assert _row(pg_dsn, "SELECT count(*) FROM audit_log WHERE action = 'sync.started' AND target = %s", run_id)[0] == 1

    host.run_until_complete(instance_id_for(connection), timeout=300)
    run = json.loads(call(host, "GET", f"/api/syncs/{run_id}", key=key).get_body())
    assert run["status"] == "succeeded" and run["runtime_status"] == "Completed"
    assert run["totals"]["fetched"] > 0 and {s["stream"] for s in run["streams"]} >= {"Customer", "Invoice"}
    assert run["started_by"] == started_by


def test_an_unknown_connection_is_404_and_starts_nothing(host, connection, pg_dsn):
    before = _row(pg_dsn, "SELECT count(*) FROM sync_runs")[0]
    response = call(host, "POST", "/api/syncs", {"connection_id": "no-such-company"}, key=api_key(SYNC_RUN))
    assert response.status_code == 404
    assert json.loads(response.get_body())["code"] == "connection_not_found"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert _row(pg_dsn, "SELECT count(*) FROM sync_runs")[0] == before
    assert host.get_status(instance_id_for("no-such-company")) is None


@pytest.mark.parametrize("body", [
    {"connection_id": ""},                       # falsy ids no longer widen a sync to "all"
    {"connection_id": "all"},                    # nor does a connection named "all" (omit the id for that)
    {"connection_id": "qbo-e2e\n"},              # "$" matched before a trailing newline
    {"connection_id": 0},
    {"connection_id": False},
    {"mode": "everything"},
    {"options": {"max_pages": "5"}},             # real integers only
    {"options": {"max_pages": True}},
    {"options": {"max_pages": 10 ** 12}},        # capped
    {"options": {"max_pages": 0}},
    {"options": {"drop_tables": 1}},             # allow-listed names only
    {"connection": "qbo-e2e"},
    ["mode"],
])
def test_bad_start_requests_are_422_and_start_nothing(host, connection, pg_dsn, body):
    before = _row(pg_dsn, "SELECT count(*) FROM sync_runs")[0]
    response = call(host, "POST", "/api/syncs", body, key=api_key(SYNC_RUN))
    assert response.status_code == 422, response.get_body()
    problem = json.loads(response.get_body())
    assert problem["code"] == "invalid_input" and problem["detail"]
    assert _row(pg_dsn, "SELECT count(*) FROM sync_runs")[0] == before
    assert host.get_status("sync-all") is None


def test_a_second_start_of_a_running_scope_is_409_naming_the_running_run(host, connection):
    key = api_key(SYNC_RUN)
    _, first = start_sync(host, {"connection_id": connection}, key=key)
    again = call(host, "POST", "/api/syncs", {"connection_id": connection}, key=key)
    assert again.status_code == 409
    problem = json.loads(again.get_body())
    assert problem["code"] == "sync_running" and problem["run_id"] == first
    host.run_until_complete(instance_id_for(connection), timeout=300)


def test_cancel_stops_the_orchestrations_marks_the_run_and_frees_the_connection(host, connection, pg_dsn):
    key = api_key(SYNC_RUN, METRICS_READ)
    instance_id, run_id = start_sync(host, {"connection_id": connection, "mode": "full"}, key=key)
    # Let it begin: the run claims the connection's lease and starts its streams.
    deadline_steps = 200
    while deadline_steps and not _row(pg_dsn, "SELECT count(*) FROM sync_run_streams WHERE run_id = %s", run_id)[0]:
        host.wait_for(instance_id, timeout=0.05)
        deadline_steps -= 1
    assert _row(pg_dsn, "SELECT count(*) FROM connection_leases WHERE run_id = %s", run_id)[0] == 1
    children = [i["instanceId"] for i in host.list_instances() if i["instanceId"].startswith(instance_id + ":")]
    assert children  # the connection's and its streams' sub-orchestrations are running

    response = call(host, "POST", f"/api/syncs/{run_id}/cancel", key=key)
    assert response.status_code == 200, response.get_body()
    cancelled = json.loads(response.get_body())
    assert instance_id in cancelled["terminated"]
    # The host applies the termination when it next drives the instance, as the Durable extension does.
    assert host.wait_for(instance_id, timeout=30)["runtimeStatus"] == "Terminated"
    still_running = [i["instanceId"] for i in host.list_instances()
                     if i["instanceId"].startswith(instance_id) and i["runtimeStatus"] in ("Running", "Pending")]
    assert not still_running, still_running
    status, cancelled_by = _row(pg_dsn, "SELECT status, cancelled_by FROM sync_runs WHERE run_id = %s", run_id)
    assert status == "cancelled" and cancelled_by.startswith("key:")
    assert set(children) <= set(cancelled["terminated"])
    assert _row(pg_dsn, "SELECT count(*) FROM audit_log WHERE action = 'sync.cancelled' AND target = %s",
                run_id)[0] == 1
    again = call(host, "POST", f"/api/syncs/{run_id}/cancel", key=key)
    assert again.status_code == 409 and json.loads(again.get_body())["code"] == "sync_not_running"
    # The connection is free again: a new sync starts and completes.
    instance_id, _ = start_sync(host, {"connection_id": connection}, key=key)
    assert host.run_until_complete(instance_id, timeout=300)["output"]["status"] == "succeeded"


def test_runs_list_newest_first_in_keyset_pages_without_gaps_or_repeats(host, connection):
    key = api_key(SYNC_RUN, METRICS_READ)
    started = []
    for mode in ("full", "incremental", "incremental"):
        instance_id, run_id = start_sync(host, {"connection_id": connection, "mode": mode}, key=key)
        host.run_until_complete(instance_id, timeout=300)
        started.append(run_id)
    seen, cursor = [], None
    while True:
        query = f"/api/syncs?connection_id={connection}&limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(call(host, "GET", query, key=key).get_body())
        seen += [item["run_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == started[::-1] and len(seen) == len(set(seen))
    only_full = json.loads(call(host, "GET", f"/api/syncs?connection_id={connection}&status=succeeded&limit=100",
                                key=key).get_body())["items"]
    assert {item["run_id"] for item in only_full} >= set(started)
    assert all(item["totals"]["api_calls"] >= 0 for item in only_full)
    bad = call(host, "GET", "/api/syncs?cursor=bm90LWEtY3Vyc29y", key=key)
    assert bad.status_code == 422 and json.loads(bad.get_body())["code"] == "invalid_cursor"
    assert call(host, "GET", "/api/syncs/run-0000000000000000", key=key).status_code == 404
    assert call(host, "GET", "/api/syncs/sync-all?x=1", key=key).status_code == 422


def test_a_key_limited_to_one_connection_cannot_widen_or_cross_to_another(host, connection, pg_dsn):
    key = api_key(SYNC_RUN, METRICS_READ, connections=(connection,))
    everything = call(host, "POST", "/api/syncs", {}, key=key)
    assert everything.status_code == 403 and json.loads(everything.get_body())["code"] == "connection_forbidden"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO connections (connection_id, plugin, display_name, config) "
                     "VALUES ('other-co', 'quickbooks', 'Other', '{}') ON CONFLICT DO NOTHING")
    other = call(host, "POST", "/api/syncs", {"connection_id": "other-co"}, key=key)
    assert other.status_code == 403
    assert call(host, "GET", "/api/syncs", key=key).status_code == 403
    assert call(host, "GET", f"/api/syncs?connection_id={CONNECTION}", key=key).status_code == 200


def test_a_sync_cancelled_before_its_streams_begin_leaves_nothing_running(host, connection, pg_dsn):
    key = api_key(SYNC_RUN, METRICS_READ)
    instance_id, run_id = start_sync(host, {"connection_id": connection, "mode": "full"}, key=key)
    # Drive until the connection's sub-orchestration exists but before any stream has recorded a row.
    for _ in range(200):
        if any(i["instanceId"] == f"{instance_id}:{connection}" for i in host.list_instances()):
            break
        host.wait_for(instance_id, timeout=0.01)
    assert call(host, "POST", f"/api/syncs/{run_id}/cancel", key=key).status_code == 200
    host.wait_for(instance_id, timeout=30)
    host.run_until_idle(timeout=30)
    active = [i["instanceId"] for i in host.list_instances()
              if i["instanceId"].startswith(instance_id) and i["runtimeStatus"] in ("Running", "Pending")]
    assert not active, active


def test_a_start_the_task_hub_refuses_marks_its_run_failed_and_answers_503(connection, pg_dsn, tmp_path):
    """The Durable client is the edge here: one that refuses start_new, as a task hub would on a lost race."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from devhost import LocalDurableHost
    from function_app import app as functions_app

    host = LocalDurableHost(functions_app, tmp_path / "refusing.sqlite")

    class Refusing:
        def __init__(self, client):
            self.client = client

        async def get_status(self, instance_id):
            return await self.client.get_status(instance_id)

        async def start_new(self, *args, **kwargs):
            raise RuntimeError("409 Conflict from the task hub")

    api = TestClient(create_app(durable_client=Refusing(host.client())), raise_server_exceptions=False)
    response = api.post("/api/syncs", json={"connection_id": connection},
                        headers={"Authorization": f"Bearer {api_key(SYNC_RUN)}"})
    assert response.status_code == 503 and response.json()["code"] == "orchestrations_unavailable"
    run_id = response.json()["run_id"]
    assert _row(pg_dsn, "SELECT status FROM sync_runs WHERE run_id = %s", run_id)[0] == "failed"
    assert "409 Conflict" not in response.text
    host.close()


def test_a_limited_key_lists_only_its_connections_own_runs(host, connection, pg_dsn):
    # The all-connections run covers every connection earlier tests left in this database; what this test needs of
    # it is that it took up this connection (its streams recorded), after which it is cancelled: driving it to its
    # end would time the test by the leftovers, not by what it checks.
    everything, everything_run = start_sync(host, {}, key=api_key())
    deadline = time.monotonic() + 300
    while not _row(pg_dsn, "SELECT count(*) FROM sync_run_streams WHERE run_id = %s AND connection_id = %s",
                   everything_run, connection)[0]:
        assert time.monotonic() < deadline, "the all-connections run never took up this connection"
        host.wait_for(everything, timeout=1)
    assert call(host, "POST", f"/api/syncs/{everything_run}/cancel", key=api_key()).status_code == 200
    assert host.run_until_complete(everything, timeout=300)["runtimeStatus"] == "Terminated"
    own, own_run = start_sync(host, {"connection_id": connection}, key=api_key())
    host.run_until_complete(own, timeout=300)
    limited = api_key(METRICS_READ, connections=(connection,))
    listed = json.loads(call(host, "GET", f"/api/syncs?connection_id={connection}&limit=100",
                             key=limited).get_body())["items"]
    assert {item["scope"] for item in listed} == {connection} and own_run in {item["run_id"] for item in listed}
    full = json.loads(call(host, "GET", f"/api/syncs?connection_id={connection}&limit=100",
                           key=api_key()).get_body())["items"]
    assert "all" in {item["scope"] for item in full}  # an unrestricted caller sees the all-connections run too
