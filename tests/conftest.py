"""Fixtures over the real local services: a throwaway PostgreSQL database and Azurite container per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from plugins import registry
from shared.core.config import DEFAULT_PG_DSN, load_settings
from shared.db.migrate import migrate

SERVICES_HINT = "start the local services first: `make services` (or run the suite with `make test`)"

# The tests sync against the simulators on http://127.0.0.1: the local-development setting that allows loopback
# source URLs (shared/core/egress.py). Tests of the refusal clear it themselves.
os.environ["BIZ_ALLOW_LOOPBACK_SOURCES"] = "true"


def _admin_dsn() -> str:
    return os.environ.get("BIZ_PG_DSN_ADMIN") or os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN


def _with_db(dsn: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=dbname)


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for a session-wide fixture (monkeypatch is function-scoped)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh, migrated database for this test session; BIZ_PG_DSN points at it for the app code."""
    admin = _admin_dsn()
    name = f"bizmetrics_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {admin}: {exc}\n{SERVICES_HINT}")
    dsn = _with_db(admin, name)
    with psycopg.connect(dsn) as conn:
        migrate(conn, registry.migration_folders())
    try:
        with _env("BIZ_PG_DSN", dsn):
            yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn) as conn:
        yield conn


@pytest.fixture(scope="session")
def landing_container() -> Iterator[str]:
    """A blob container of its own in Azurite; LANDING_CONTAINER points at it for the app code."""
    from azure.core.exceptions import ServiceRequestError
    from azure.storage.blob import BlobServiceClient

    name = f"test-{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(load_settings().storage_connection)
    try:
        service.create_container(name)
    except ServiceRequestError as exc:
        pytest.fail(f"Azurite is not reachable: {exc}\n{SERVICES_HINT}")
    try:
        with _env("LANDING_CONTAINER", name):
            yield name
    finally:
        service.delete_container(name)
