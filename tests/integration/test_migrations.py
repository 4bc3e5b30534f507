"""The migration runner: core's migrations first, then each installed plugin's in registry order, each once; and a
database migrated by the single-folder runner (bare versions 0001 ... 0025 in one schema_migrations table)
upgrades without anything running again, ending with the same schema as a fresh database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from plugins import registry
from shared.db.migrate import MIGRATIONS_DIR, Migration, migrate, plan

pytestmark = pytest.mark.integration
BOOKKEEPING = ("schema_migrations", "schema_migrations_legacy")
LAST_SINGLE_FOLDER = 25  # the single-folder runner's last migration; later ones only ever ran under components


def _after_single_folder(*components: str) -> list[str]:
    """The migrations (of `components`, default all) a database the single-folder runner left at its last version
    still lacks, in the order they apply."""
    return [m.name for m in plan(registry.migration_folders())
            if m.version > LAST_SINGLE_FOLDER and (not components or m.component in components)]


def _legacy_migrate(dsn: str, up_to: int = LAST_SINGLE_FOLDER) -> list[str]:
    """What the single-folder runner did: every file of the one folder by version, recorded by bare version.

    That folder held today's core and plugin files, with QuickBooks' 0007 part inside core's 0007_metrics;
    applying the parts in (version, core first) order runs the same SQL in the same order.
    """
    migrations = [m for m in plan(registry.migration_folders()) if m.version <= up_to]
    migrations.sort(key=lambda m: (m.version, m.component != "core"))
    recorded: dict[int, str] = {}
    with psycopg.connect(dsn) as conn:
        conn.execute("""CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                            checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())""")
        for migration in migrations:
            conn.execute(migration.sql)
            recorded[migration.version] = migration.legacy or migration.name
        for version, name in recorded.items():
            conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, 'old')",
                         (version, name))
    return list(recorded.values())


def _schema(dsn: str) -> dict[str, list[tuple]]:
    """Everything migrations define, bookkeeping tables aside: columns in order, constraints, indexes, views,
    functions, triggers, and what the read-only role may read."""
    queries = {
        "columns": """SELECT table_name, ordinal_position, column_name, data_type, column_default, is_nullable
                      FROM information_schema.columns WHERE table_schema = 'public'""",
        "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                          WHERE connamespace = 'public'::regnamespace""",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "views": """SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'""",
        "functions": """SELECT proname, pg_get_functiondef(oid) FROM pg_proc
                        WHERE pronamespace = 'public'::regnamespace""",
        "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
                       WHERE NOT tgisinternal""",
        "table_grants": """SELECT table_name, privilege_type FROM information_schema.role_table_grants
                           WHERE grantee = 'bizmetrics_reader'""",
        "column_grants": """SELECT table_name, column_name, privilege_type FROM information_schema.column_privileges
                            WHERE grantee = 'bizmetrics_reader'""",
    }
    with psycopg.connect(dsn) as conn:
        found = {kind: sorted(conn.execute(sql).fetchall(), key=repr) for kind, sql in queries.items()}
    return {kind: [r for r in rows if not any(str(v).startswith(BOOKKEEPING) for v in r[:2])]
            for kind, rows in found.items()}


def _recorded(dsn: str) -> list[tuple[str, int, str | None]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT component, version, adopted_from FROM schema_migrations "
                            "ORDER BY component, version").fetchall()


def test_core_migrations_run_first_then_each_plugins_in_registry_order(new_db):
    folders = registry.migration_folders()
    assert [name for name, _ in folders] == [n for n in registry.names() if registry.get(n).migrations]
    assert [name for name, _ in folders][:2] == ["quickbooks", "monday"]
    expected: list[Migration] = plan(folders)
    components = [m.component for m in expected]
    assert components == sorted(components, key=["core", *dict(folders)].index)  # grouped, core first

    dsn = new_db()
    with psycopg.connect(dsn) as conn:
        assert migrate(conn, folders) == [m.name for m in expected]
        assert migrate(conn, folders) == []  # each once
    assert [(c, v) for c, v, _ in _recorded(dsn)] == sorted((m.component, m.version) for m in expected)


def test_a_plugin_migration_relies_on_core_and_versions_count_per_component(new_db, tmp_path: Path):
    core, alpha, beta = (tmp_path / n for n in ("core", "alpha", "beta"))
    for folder in (core, alpha, beta):
        folder.mkdir()
    (core / "0001_log.sql").write_text("CREATE TABLE log (n serial, who text);")
    (alpha / "0001_alpha.sql").write_text("INSERT INTO log (who) VALUES ('alpha');")
    (beta / "0001_beta.sql").write_text("INSERT INTO log (who) VALUES ('beta');")
    (core / "0002_more.sql").write_text("INSERT INTO log (who) VALUES ('core');")
    dsn = new_db()
    with psycopg.connect(dsn) as conn:
        applied = migrate(conn, [("beta", beta), ("alpha", alpha)], core=core)
        log = conn.execute("SELECT who FROM log ORDER BY n").fetchall()
    assert applied == ["0001_log", "0002_more", "0001_beta", "0001_alpha"]
    assert [who for (who,) in log] == ["core", "beta", "alpha"]  # every core migration before any plugin's
    assert [(c, v) for c, v, _ in _recorded(dsn)] == [("alpha", 1), ("beta", 1), ("core", 1), ("core", 2)]


def test_an_edited_plugin_migration_is_refused_and_names_its_component(new_db, tmp_path: Path):
    core, alpha = tmp_path / "core", tmp_path / "alpha"
    core.mkdir()
    alpha.mkdir()
    (alpha / "0001_t.sql").write_text("CREATE TABLE t (a int);")
    dsn = new_db()
    with psycopg.connect(dsn) as conn:
        migrate(conn, [("alpha", alpha)], core=core)
    (alpha / "0001_t.sql").write_text("CREATE TABLE t (a int, b int);")
    with psycopg.connect(dsn) as conn, pytest.raises(RuntimeError, match="alpha/0001_t was changed after it was"):
        migrate(conn, [("alpha", alpha)], core=core)


@pytest.mark.parametrize("components", [[("core", Path("x"))], [("a", Path("x")), ("a", Path("y"))],
                                        [("Bad-Name", Path("x"))]])
def test_plugin_components_must_be_distinct_identifiers_other_than_core(components):
    with pytest.raises(ValueError, match="component"):
        plan(components, core=MIGRATIONS_DIR)


def test_a_database_the_single_folder_runner_migrated_upgrades_without_running_anything_again(new_db):
    fresh, old = new_db(), new_db()
    with psycopg.connect(fresh) as conn:
        migrate(conn, registry.migration_folders())
    legacy_names = _legacy_migrate(old)
    assert "0007_metrics" in legacy_names and "0025_connection_leases" in legacy_names

    with psycopg.connect(old) as conn:
        assert migrate(conn, registry.migration_folders()) == _after_single_folder()
        assert migrate(conn, registry.migration_folders()) == []
        kept = {name for (name,) in conn.execute("SELECT name FROM schema_migrations_legacy")}
    assert kept == set(legacy_names)
    recorded = _recorded(old)
    assert all(adopted for _, version, adopted in recorded if version <= LAST_SINGLE_FOLDER)
    assert {(c, v) for c, v, _ in recorded} == {(c, v) for c, v, _ in _recorded(fresh)}
    # QuickBooks' part of the split 0007 is adopted from the same single-folder migration as core's.
    assert ("quickbooks", 7, "0007_metrics") in recorded and ("core", 7, "0007_metrics") in recorded
    schema = _schema(fresh)
    assert {"qbo_invoice", "monday_item", "connection_leases"} <= {r[0] for r in schema["columns"]}
    assert ("metric_reconciliation", "SELECT") in schema["table_grants"]
    assert _schema(old) == schema


def test_an_older_single_folder_database_gets_only_what_it_lacks_and_the_same_schema(new_db):
    fresh, old = new_db(), new_db()
    with psycopg.connect(fresh) as conn:
        migrate(conn, registry.migration_folders())
    _legacy_migrate(old, up_to=7)  # before monday, run notes and leases existed
    with psycopg.connect(old) as conn:
        applied = migrate(conn, registry.migration_folders())
    assert applied == ["0021_run_notes", "0025_connection_leases", *_after_single_folder("core"),
                       "0020_monday_raw", "0022_monday_metrics", "0023_monday_users_2026_10",
                       *_after_single_folder("quickbooks", "monday")]
    assert _schema(old) == _schema(fresh)


def test_a_plugin_folder_first_passed_on_a_later_run_is_adopted_not_run_again(new_db):
    old = new_db()
    _legacy_migrate(old)
    with psycopg.connect(old) as conn:
        assert migrate(conn) == _after_single_folder("core")  # core only: the plugins' legacy rows wait
        assert migrate(conn, registry.migration_folders()) == []
    assert {c for c, _, _ in _recorded(old)} == {"core", "quickbooks", "monday"}
