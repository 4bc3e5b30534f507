"""Fixtures over the real local services: a throwaway PostgreSQL database and Azurite container per session.

The database is created and migrated by the cluster's superuser (the setup role, BIZ_PG_DSN_ADMIN); the app code
under test logs in as the runtime roles, as in production: BIZ_PG_DSN is the app role's DSN and BIZ_PG_READER_DSN
Grafana's, on the same database. Tests' own setup and checks use the `pg_dsn` the fixture yields (the superuser's).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from plugins import registry
from shared.core.config import DEFAULT_PG_DSN, load_settings
from shared.db.migrate import OWNER_DSN_SETTING, migrate
from shared.db.roles import APP_ROLE, GRAFANA_ROLE, OWNER_ROLE, as_role

SERVICES_HINT = "start the local services first: `make services` (or run the suite with `make test`)"

# The tests sync against the simulators on http://127.0.0.1: the local-development setting that allows loopback
# source URLs (shared/core/egress.py). Tests of the refusal clear it themselves.
os.environ["BIZ_ALLOW_LOOPBACK_SOURCES"] = "true"


# Read once, at import: the session fixture later points BIZ_PG_DSN at the app role, which cannot create databases.
_ADMIN_DSN = os.environ.get("BIZ_PG_DSN_ADMIN") or os.environ.get("BIZ_PG_DSN") or DEFAULT_PG_DSN


def _admin_dsn() -> str:
    return _ADMIN_DSN


def _with_db(dsn: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=dbname)


@contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for a session-wide fixture (monkeypatch is function-scoped)."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def runtime_dsns(dsn: str) -> dict[str, str]:
    """The app's settings for the database of `dsn`: each role's DSN (the local cluster trusts loopback logins)."""
    return {"BIZ_PG_DSN": as_role(dsn, APP_ROLE), OWNER_DSN_SETTING: as_role(dsn, OWNER_ROLE),
            "BIZ_PG_READER_DSN": as_role(dsn, GRAFANA_ROLE)}


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh, migrated database for this test session (the superuser's DSN, for setup); BIZ_PG_DSN (the app role),
    BIZ_PG_OWNER_DSN and BIZ_PG_READER_DSN point at it for the app code."""
    admin = _admin_dsn()
    name = f"bizmetrics_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {admin}: {exc}\n{SERVICES_HINT}")
    dsn = _with_db(admin, name)
    with psycopg.connect(dsn) as conn:
        migrate(conn, registry.migration_folders())  # creates the roles on a new cluster (migration 0028)
        # The owner role owns the database too, so it can run later migrations (public schema's CREATE).
        conn.execute(f'ALTER DATABASE "{name}" OWNER TO {OWNER_ROLE}')
    try:
        with _env(**runtime_dsns(dsn)):
            yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def new_db() -> Iterator[Callable[..., str]]:
    """`new_db(owner=None)`: an empty throwaway database (owned by `owner` when given), made as the superuser;
    every one is dropped afterwards. For tests that migrate or break a database of their own."""
    admin, made = _admin_dsn(), []

    def make(owner: str | None = None) -> str:
        name = f"bizmetrics_tmp_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f" OWNER {owner}" if owner else ""))
        made.append(name)
        return _with_db(admin, name)

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn) as conn:
        yield conn


@pytest.fixture(scope="session")
def landing_container() -> Iterator[str]:
    """A blob container of its own in Azurite; LANDING_CONTAINER points at it for the app code."""
    from azure.core.exceptions import ServiceRequestError

    from shared.blob.service import blob_service

    name = f"test-{uuid.uuid4().hex[:12]}"
    service = blob_service(load_settings().storage)
    try:
        service.create_container(name)
    except ServiceRequestError as exc:
        pytest.fail(f"Azurite is not reachable: {exc}\n{SERVICES_HINT}")
    try:
        with _env(LANDING_CONTAINER=name):
            yield name
    finally:
        service.delete_container(name)


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests import log_scan

    log_scan.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when an app logger emitted something shaped like a credential (tests/log_scan.py)."""
    from tests import log_scan

    if log_scan.SCAN.findings:
        print(f"\nSecrets in the app's logs ({len(log_scan.SCAN.findings)}):", *log_scan.SCAN.findings[:20],
              sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
