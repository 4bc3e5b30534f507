"""Shared pieces of the QuickBooks end-to-end tests: the simulator's truth, the database's view, starting syncs."""

from __future__ import annotations

import hashlib
import os

import psycopg

from tests.api_calls import start_sync

REALM = "9130350000000001"
TOKEN = "test-access-token"
CONNECTION = "qbo-e2e"
TABLES = {"Customer": "qbo_customer", "Invoice": "qbo_invoice", "Payment": "qbo_payment"}


def start(host, mode: str, **options) -> tuple[str, str]:
    body = {"connection_id": CONNECTION, "mode": mode}
    if options:
        body["options"] = options
    return start_sync(host, body)


def sync(host, mode: str, **options) -> dict:
    instance_id, run_id = start(host, mode, **options)
    status = host.run_until_complete(instance_id, timeout=300)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == "succeeded", status["output"]
    return streams_of(run_id)


def streams_of(run_id: str) -> dict:
    with psycopg.connect(os.environ["BIZ_PG_DSN"]) as conn:
        rows = conn.execute(
            "SELECT stream, fetched, inserted, updated, unchanged, deleted, api_calls, status, throttle_waits "
            "FROM sync_run_streams WHERE run_id = %s", (run_id,)
        ).fetchall()
    keys = ("fetched", "inserted", "updated", "unchanged", "deleted", "api_calls", "status", "throttle_waits")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def truth(state, entity: str) -> dict[str, dict]:
    """Every record the simulator holds for the entity (inactive ones included), by id."""
    return {r["Id"]: r for r in state.records(REALM, entity)}


def database(pg_dsn: str, table: str) -> dict[str, dict]:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            f"SELECT id, payload FROM {table} WHERE connection_id = %s AND deleted_at IS NULL", (CONNECTION,)
        ).fetchall()
    return dict(rows)


def fingerprint(pg_dsn: str) -> str:
    digest = hashlib.sha256()
    with psycopg.connect(pg_dsn) as conn:
        for table in TABLES.values():
            for row in conn.execute(
                f"SELECT id, payload::text, updated_at, deleted_at, run_id, loaded_at FROM {table} "
                "WHERE connection_id = %s ORDER BY id", (CONNECTION,)
            ):
                digest.update(repr(row).encode())
        for row in conn.execute(
            "SELECT metric, grain, dimension, member, bucket, value, count, computed_at FROM metric_points "
            "WHERE connection_id = %s ORDER BY 1, 2, 3, 4, 5", (CONNECTION,)
        ):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def assert_database_equals_simulator(pg_dsn: str, state) -> None:
    for entity, table in TABLES.items():
        expected = truth(state, entity)
        assert expected, entity
        assert database(pg_dsn, table) == expected, entity


# These tests are about syncing, not the monthly quota. Every QuickBooks connection of the session shares one Intuit
# app, and the budget planner projects the session's hundreds of back-to-back runs over the days left in the month:
# early in a month it deferred reports and skipped scheduled runs once enough tests had run before. A test about
# the quota sets its own monthly_read_quota.
UNMETERED = {"monthly_read_quota": 1_000_000_000}
