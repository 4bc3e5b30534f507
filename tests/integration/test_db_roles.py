"""The database roles: the owner owns and migrates (a deploy step), the app role only reads and writes rows and
owns nothing, readers log in with their own role; every role has a statement timeout, every connection a
connect timeout, and the app refuses to sync against a schema older than its code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from activities.runs import begin_sync
from plugins import registry
from shared.core.messages import BeginSync
from shared.db.connect import connect
from shared.db.migrate import SchemaNotCurrent, check_schema, migrate
from shared.db.pool import close_pool, get_pool
from shared.db.roles import APP_ROLE, GRAFANA_ROLE, OWNER_ROLE, READER_ROLE, RUNTIME_ROLES, as_role
from shared.metrics.series import MetricReader, ReaderNotConfigured, SeriesQuery
from tests.integration.helpers import CONNECTION, assert_database_equals_simulator, sync

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

# Every kind of object a role can own inside a database, and the databases themselves.
OWNED = """
SELECT 'relation ' || oid::regclass::text FROM pg_class WHERE relowner = %(role)s::regrole
  AND relnamespace = 'public'::regnamespace
UNION ALL SELECT 'routine ' || oid::regprocedure::text FROM pg_proc WHERE proowner = %(role)s::regrole
UNION ALL SELECT 'type ' || oid::regtype::text FROM pg_type WHERE typowner = %(role)s::regrole
  -- The row types of a live session's temporary tables (a load's stage, kept by a pooled connection) go with it.
  AND NOT typnamespace IN (SELECT oid FROM pg_namespace WHERE nspname ~ '^pg_(toast_)?temp_')
UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = %(role)s::regrole
UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datdba = %(role)s::regrole
UNION ALL SELECT 'default acl' FROM pg_default_acl WHERE defaclrole = %(role)s::regrole
"""


def test_the_app_logs_in_as_the_app_role_which_cannot_create_drop_or_alter_but_reads_and_writes_rows(pg_dsn):
    with connect() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == APP_ROLE
        for ddl in ("CREATE TABLE sneaky (a int)",
                    "DROP TABLE sync_runs",
                    "ALTER TABLE sync_runs ADD COLUMN sneaky int",
                    "CREATE INDEX sneaky ON sync_runs (run_id)",
                    "TRUNCATE sync_runs",
                    "ALTER TABLE connections OWNER TO bizmetrics_app",
                    "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                    "INSERT INTO schema_migrations (component, version, name, checksum) VALUES ('x', 1, 'x', 'x')",
                    "CREATE SCHEMA sneaky"):
            with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                conn.execute(ddl)
                pytest.fail(f"the app role may run {ddl}")
        with conn.transaction(force_rollback=True):
            conn.execute("INSERT INTO connections (connection_id, plugin, display_name) VALUES ('roles-t', 'x', 'x')")
            conn.execute("UPDATE connections SET display_name = 'y' WHERE connection_id = 'roles-t'")
            conn.execute("DELETE FROM connections WHERE connection_id = 'roles-t'")


def test_no_runtime_role_owns_any_object_and_the_owner_owns_every_table(pg_dsn):
    with psycopg.connect(pg_dsn) as conn:
        for role in RUNTIME_ROLES:
            assert conn.execute(OWNED, {"role": role}).fetchall() == [], role
        not_owner = conn.execute(
            """SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace
               AND relkind IN ('r', 'p', 'v', 'm', 'S') AND relowner <> %s::regrole""", (OWNER_ROLE,)).fetchall()
        assert not_owner == []
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] > 20


def test_a_full_sync_runs_under_the_app_role(host, simulator, connection, pg_dsn):
    state, _ = simulator
    streams = sync(host, "full")
    assert streams and all(s["status"] == "succeeded" for s in streams.values()), streams
    assert_database_equals_simulator(pg_dsn, state)
    with connect() as conn:  # the only DSN the app code had: BIZ_PG_DSN
        assert conn.execute("SELECT current_user").fetchone()[0] == APP_ROLE
        assert conn.execute("SELECT count(*) FROM qbo_invoice WHERE connection_id = %s",
                            (CONNECTION,)).fetchone()[0] == 1100


def test_each_role_has_its_statement_timeout_applied_at_login(pg_dsn):
    expected = {APP_ROLE: "15min", GRAFANA_ROLE: "30s", OWNER_ROLE: "2h"}
    for role, timeout in expected.items():
        with psycopg.connect(as_role(pg_dsn, role)) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone()[0] == timeout, role
    with psycopg.connect(pg_dsn) as conn:
        config = dict(conn.execute("SELECT rolname, rolconfig FROM pg_roles WHERE rolname = %s", (READER_ROLE,)))
    assert "statement_timeout=30s" in config[READER_ROLE]


def test_begin_sync_refuses_a_database_behind_its_code_and_says_what_to_run(new_db, monkeypatch):
    core_only = new_db()
    with psycopg.connect(core_only) as conn:
        migrate(conn)  # core's migrations, none of the plugins'
    monkeypatch.setenv("BIZ_PG_DSN", as_role(core_only, APP_ROLE))
    request = BeginSync(run_id="r-behind", scope="all", mode="full", trigger="manual", instance_id="i").to_json()
    with pytest.raises(SchemaNotCurrent, match=r"quickbooks/0002_quickbooks_raw.*python -m plugins\.migrate_cli"):
        begin_sync(request)
    with psycopg.connect(core_only) as conn:
        assert conn.execute("SELECT count(*) FROM sync_runs").fetchone()[0] == 0  # nothing recorded, nothing made
        check_schema(conn)  # core alone is current for core alone

    never = new_db()
    monkeypatch.setenv("BIZ_PG_DSN", never)
    with pytest.raises(SchemaNotCurrent, match="has not been migrated"):
        begin_sync(request)


def _deploy_step(dsn: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BIZ_PG_OWNER_DSN"}
    if dsn:
        env["BIZ_PG_OWNER_DSN"] = dsn
    return subprocess.run([sys.executable, "-m", "plugins.migrate_cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_deploy_step_migrates_as_the_owner_and_the_app_can_use_every_table(pg_dsn, new_db):
    dsn = new_db(owner=OWNER_ROLE)
    owner = as_role(dsn, OWNER_ROLE)
    missing = _deploy_step(None)
    assert missing.returncode == 2 and "BIZ_PG_OWNER_DSN is not set" in missing.stderr
    behind = _deploy_step(owner, "--check")
    assert behind.returncode == 1 and "not been migrated" in behind.stderr

    done = _deploy_step(owner)
    assert done.returncode == 0, done.stderr
    assert "0028_database_roles" in done.stdout
    assert _deploy_step(owner, "--check").returncode == 0
    with psycopg.connect(dsn) as conn:
        for role in RUNTIME_ROLES:
            assert conn.execute(OWNED, {"role": role}).fetchall() == [], role
        tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    with psycopg.connect(as_role(dsn, APP_ROLE)) as conn:
        for table in tables:
            writable = "schema_migrations" not in table
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                allowed = conn.execute("SELECT has_table_privilege(%s, %s)", (table, privilege)).fetchone()[0]
                assert allowed == (writable or privilege == "SELECT"), (table, privilege)
            assert not conn.execute("SELECT has_table_privilege(%s, 'TRUNCATE')", (table,)).fetchone()[0]
        assert not conn.execute("SELECT has_schema_privilege('public', 'CREATE')").fetchone()[0]


def test_an_administrator_who_is_not_superuser_migrates_and_the_owner_role_still_owns_everything(pg_dsn, new_db):
    """Azure's Entra-only server: nobody logs in as bizmetrics_owner; the Entra administrator group (CREATEROLE, not
    superuser, a member of azure_pg_admin) runs the deploy step. It makes itself a member of the owner role and
    hands it every object, so the next deploy, the app's grants and the ownership test hold as locally."""
    admin = f"bizm_test_admin_{os.getpid()}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{admin}" LOGIN CREATEROLE NOSUPERUSER')
    try:
        dsn = new_db(owner=admin)
        as_admin = as_role(dsn, admin)
        done = _deploy_step(as_admin)
        assert done.returncode == 0, done.stderr
        assert f"made {admin} a member of {OWNER_ROLE}" in done.stdout + done.stderr
        with psycopg.connect(dsn) as conn:
            owned = [what for (what,) in conn.execute(OWNED, {"role": admin})]
            assert [what for what in owned if not what.startswith("database ")] == []  # it keeps only the database
            owned_by_owner = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                          "AND tableowner = %s", (OWNER_ROLE,)).fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert owned_by_owner == tables > 20
        again = _deploy_step(as_admin)
        assert again.returncode == 0 and "The schema was current." in again.stdout, again.stderr
        with psycopg.connect(as_role(dsn, APP_ROLE)) as conn:
            check_schema(conn, registry.migration_folders())
            assert conn.execute("SELECT has_table_privilege('sync_runs', 'INSERT')").fetchone()[0]
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datdba = %s::regrole", (admin,)):
                conn.execute(f'ALTER DATABASE "{name}" OWNER TO CURRENT_USER')
            conn.execute(f'DROP ROLE "{admin}"')


def test_a_table_a_plugin_adds_later_is_granted_to_the_app_unless_its_migration_narrowed_it(pg_dsn, tmp_path):
    later = tmp_path / "later"
    later.mkdir()
    (later / "0001_later.sql").write_text(
        "CREATE TABLE later_things (id bigserial PRIMARY KEY, connection_id text NOT NULL);")
    # A migration may narrow what the app does to a table: an append-only log stays append-only.
    (later / "0002_later_log.sql").write_text(
        "CREATE TABLE later_log (n bigserial PRIMARY KEY, what text);"
        "REVOKE UPDATE, DELETE ON later_log FROM bizmetrics_app;")
    folders = [*registry.migration_folders(), ("later", later)]
    with psycopg.connect(as_role(pg_dsn, OWNER_ROLE)) as conn:
        assert migrate(conn, folders) == ["0001_later", "0002_later_log"]
        assert migrate(conn, folders) == []  # settles the privileges again
    try:
        with connect() as conn, conn.transaction(force_rollback=True):
            conn.execute("INSERT INTO later_things (connection_id) VALUES ('c')")  # the sequence too
            assert conn.execute("SELECT count(*) FROM later_things").fetchone()[0] == 1
            conn.execute("INSERT INTO later_log (what) VALUES ('x')")
            for narrowed in ("UPDATE later_log SET what = 'y'", "DELETE FROM later_log", "DROP TABLE later_things"):
                with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(narrowed)
    finally:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("DROP TABLE later_things, later_log")
            conn.execute("DELETE FROM schema_migrations WHERE component = 'later'")


def test_the_metric_reader_logs_in_with_its_own_role_and_falls_back_to_set_role_only_in_local_development(
        pg_dsn, monkeypatch):
    query = SeriesQuery("nobody", "qbo.revenue_invoiced")
    catalogs = registry.metric_catalogs()
    with MetricReader(catalogs=catalogs).session() as conn:  # BIZ_PG_READER_DSN: Grafana's login
        assert conn.execute("SELECT session_user, current_user").fetchone() == (GRAFANA_ROLE, READER_ROLE)
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "30s"
        with pytest.raises(errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM metric_points")
    assert MetricReader(catalogs=catalogs).frame(query).empty

    monkeypatch.delenv("BIZ_PG_READER_DSN")
    monkeypatch.delenv("BIZ_LOCAL_DEV", raising=False)
    with pytest.raises(ReaderNotConfigured, match=r"BIZ_PG_READER_DSN is not set.*BIZ_LOCAL_DEV=true"):
        MetricReader(catalogs=catalogs)
    monkeypatch.setenv("BIZ_LOCAL_DEV", "true")
    monkeypatch.setenv("BIZ_PG_DSN", pg_dsn)  # a development machine's app DSN: the cluster's superuser
    with MetricReader(catalogs=catalogs).session() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == READER_ROLE


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: what a half-dead server looks like."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_connection_to_a_server_that_never_answers_fails_after_the_connect_timeout(silent_server, monkeypatch):
    monkeypatch.setenv("BIZ_PG_CONNECT_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        connect(f"postgresql://{APP_ROLE}@127.0.0.1:{silent_server}/bizmetrics")
    assert time.monotonic() - started < 8


def test_the_api_pool_lends_checked_app_connections_and_is_sized_by_settings(pg_dsn, monkeypatch):
    monkeypatch.setenv("BIZ_PG_POOL_MIN_SIZE", "1")
    monkeypatch.setenv("BIZ_PG_POOL_MAX_SIZE", "3")
    close_pool()
    try:
        pool = get_pool()
        assert get_pool() is pool
        assert (pool.min_size, pool.max_size) == (1, 3)
        with pool.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] == APP_ROLE
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            options = conn.execute("SELECT current_setting('application_name')").fetchone()[0]
        assert options == "bizmetrics-api"
        with psycopg.connect(pg_dsn, autocommit=True) as admin:  # the server drops the idle connection
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        with pool.connection() as conn:  # checked on borrow: a live one is lent, not the dropped one
            assert conn.execute("SELECT 1").fetchone()[0] == 1
    finally:
        close_pool()
    assert get_pool() is not pool
    close_pool()
    assert pool.closed
