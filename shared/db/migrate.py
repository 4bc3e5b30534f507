"""Versioned SQL migrations of core and of each installed plugin, applied in order, each once, under an advisory lock.

Order: core's folder first (the tables every source relies on), then each plugin's folder in the order the caller
gives (the registry's), each folder by version. A plugin's migration may rely on core's, never on another
plugin's. Versions count per component: `schema_migrations` records (component, version).

Databases migrated before components existed recorded bare versions (0001 ... 0025) from a single folder. The
first run of this runner renames that table to `schema_migrations_legacy` and keeps it: a migration carried over
from that layout names the file it came from on a line `-- legacy: NNNN_name`, and where that file was applied it
is recorded as applied instead of running again (a file split between core and a plugin is named by both parts,
as 0007_metrics is). Adoption is lazy, so a plugin folder passed only on a later run is still adopted, never re-run.

Migrating is a deploy step run as the owner role (python -m plugins.migrate_cli), never by the app: the app's role
may not change the schema, and checks at the start of a sync that the database is at the version it expects
(check_schema). After every run the runtime role's privileges are settled (settle_privileges), so the tables a
plugin adds are covered the moment they exist.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from shared.db.roles import APP_ROLE, OWNER_ROLE

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
CORE = "core"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEGACY = re.compile(r"^-- legacy: (\d{4}_[a-z0-9_]+)$", re.MULTILINE)
_COMPONENT = re.compile(r"^[a-z][a-z0-9_]*$")
# Any constant works; it only has to be the same for every process that migrates this database.
_LOCK_KEY = 0x62697A6D
# The owner role's DSN, read by the deploy step (python -m plugins.migrate_cli) only; the app never has it.
OWNER_DSN_SETTING = "BIZ_PG_OWNER_DSN"


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def legacy(self) -> str | None:
        """The single-folder layout's migration this one carries over, if any."""
        match = _LEGACY.search(self.sql)
        return match.group(1) if match else None


def discover(directory: Path = MIGRATIONS_DIR, component: str = CORE) -> list[Migration]:
    """Every migration file of one folder, sorted by version; a malformed name or a duplicate version is an error."""
    if not directory.is_dir():
        raise ValueError(f"Migrations folder of {component!r} not found: {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"Migration file {path} must be named NNNN_snake_case.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"Two migrations of {component!r} share version {version}: "
                             f"{found[version].name} and {path.name}")
        found[version] = Migration(component, version, path.stem, path.read_text())
    return [found[v] for v in sorted(found)]


def plan(plugins: Sequence[tuple[str, Path]] = (), core: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration in the order they apply: core's, then each plugin's folder in the order given."""
    components = [(CORE, core), *plugins]
    names = [name for name, _ in components]
    for name in names:
        if not _COMPONENT.match(name):
            raise ValueError(f"Migration component {name!r} must be a lower-case identifier")
    if len(set(names)) != len(names):
        raise ValueError(f"Migration components must be distinct (core is reserved): {', '.join(names)}")
    return [m for name, folder in components for m in discover(folder, name)]


def migrate(conn: psycopg.Connection, plugins: Sequence[tuple[str, Path]] = (),
            core: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing of core and of `plugins` ((name, folder) in registry order); returns the names applied.

    Refuses if an applied file was edited since.
    """
    migrations = plan(plugins, core)
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        legacy = _legacy_names(conn)
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component  text NOT NULL,
                   version    integer NOT NULL,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   -- The single-folder migration this row was adopted from (recorded applied, not run).
                   adopted_from text,
                   PRIMARY KEY (component, version))"""
        )
        done = {(c, v): (n, s) for c, v, n, s in
                conn.execute("SELECT component, version, name, checksum FROM schema_migrations")}
        for migration in migrations:
            key = (migration.component, migration.version)
            if key in done:
                name, checksum = done[key]
                if checksum != migration.checksum:
                    raise RuntimeError(f"Migration {migration.component}/{name} was changed after it was applied; "
                                       "add a new migration instead")
                continue
            adopted = migration.legacy if migration.legacy in legacy else None
            if adopted:
                log.info("recording %s/%s as applied (legacy %s)", migration.component, migration.name, adopted)
            else:
                log.info("applying migration %s/%s", migration.component, migration.name)
                conn.execute(migration.sql)
                applied.append(migration.name)
            conn.execute(
                """INSERT INTO schema_migrations (component, version, name, checksum, adopted_from)
                   VALUES (%s, %s, %s, %s, %s)""",
                (migration.component, migration.version, migration.name, migration.checksum, adopted),
            )
        settle_privileges(conn)
    return applied


class SchemaNotCurrent(RuntimeError):
    """The database is not at the schema version this code expects: the deploy step has not been run."""


MIGRATE_HINT = ("run the deploy step as the owner role: BIZ_PG_OWNER_DSN=<owner DSN> python -m plugins.migrate_cli "
                "(locally: scripts/services.sh start does it)")


def check_schema(conn: psycopg.Connection, plugins: Sequence[tuple[str, Path]] = (),
                 core: Path = MIGRATIONS_DIR) -> None:
    """Raise SchemaNotCurrent naming what is missing (or was changed) unless every migration of this code is applied.

    Read-only: the app's role runs it at the start of a sync. Migrations the database has beyond these are
    fine (a newer deployment migrated first)."""
    expected = plan(plugins, core)
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    has_components = exists and conn.execute(
        """SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
             AND table_name = 'schema_migrations' AND column_name = 'component'""").fetchone()
    if not has_components:
        raise SchemaNotCurrent(f"The database has not been migrated by this version of Bizmetrics; {MIGRATE_HINT}")
    done = {(c, v): s for c, v, s in conn.execute("SELECT component, version, checksum FROM schema_migrations")}
    missing = [f"{m.component}/{m.name}" for m in expected if (m.component, m.version) not in done]
    changed = [f"{m.component}/{m.name}" for m in expected
               if (m.component, m.version) in done and done[(m.component, m.version)] != m.checksum]
    if missing:
        raise SchemaNotCurrent(f"The database schema is behind this code: {len(missing)} migration(s) not applied "
                               f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); {MIGRATE_HINT}")
    if changed:
        raise SchemaNotCurrent(f"Migrations applied to the database differ from this code's: {', '.join(changed)}; "
                               "deploy the code those were applied with, or add a new migration instead of editing")


def settle_privileges(conn: psycopg.Connection) -> None:
    """Hand every object of the schema to the owner role (when migrating as a superuser or as a member of the owner
    role, e.g. a managed server's Entra administrator group) and grant the app role
    DML on each table it has no privilege on yet, USAGE on every sequence, and read-only on the bookkeeping.

    A table the app already has some privilege on is left as its migrations set it, so a migration may narrow
    what the app does to a table (e.g. REVOKE UPDATE, DELETE on an append-only audit table) and it stays so.
    Idempotent and cheap; run at the end of every migration run. Skipped (with a warning) where migration 0028's
    roles do not exist, e.g. a database migrated from another set of folders."""
    have = {name for (name,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)",
                                             (OWNER_ROLE, APP_ROLE))}
    if have != {OWNER_ROLE, APP_ROLE}:
        log.warning("roles %s and %s not found: privileges not settled", OWNER_ROLE, APP_ROLE)
        return
    if _acts_for_owner(conn):
        _adopt_objects(conn)
    app = sql.Identifier(APP_ROLE)
    schema = sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0])
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, app))
    conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, app))
    ungranted = conn.execute(
        """SELECT c.oid::regclass::text FROM pg_class c
           WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND NOT has_table_privilege(%s, c.oid, 'SELECT, INSERT, UPDATE, DELETE')""", (APP_ROLE,)).fetchall()
    for (table,) in ungranted:
        # `table` is a regclass rendering: quoted and schema-qualified as needed.
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(sql.SQL(table), app))
    bookkeeping = conn.execute("""SELECT table_name FROM information_schema.tables
                                  WHERE table_schema = current_schema()
                                    AND table_name IN ('schema_migrations', 'schema_migrations_legacy')""").fetchall()
    for (table,) in bookkeeping:
        conn.execute(sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(table), app))


# Hands every object of the schema to the owner role; scripts/services.sh runs the same file on the local database.
ADOPT_OBJECTS = Path(__file__).with_name("adopt_objects.sql")


def _adopt_objects(conn: psycopg.Connection) -> None:
    """Make the owner role the owner of every object of the schema (idempotent); needs a superuser, or a member of
    the owner role that owns the objects (ALTER ... OWNER TO asks both)."""
    conn.execute(ADOPT_OBJECTS.read_text())


def _acts_for_owner(conn: psycopg.Connection) -> bool:
    """Whether this migration run may hand what it created to the owner role.

    On a managed server (Azure's Entra-only PostgreSQL) nobody can log in as bizmetrics_owner: the Entra
    administrator migrates, and its objects would stay its own. It created the roles (migration 0028, with
    CREATEROLE), so it may make itself a member of the owner role; then the objects are handed over like a
    superuser's, and the schema is owned by bizmetrics_owner wherever the migrations ran. Without that right the
    objects stay the migrating role's, with a warning saying what to grant."""
    me = conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if me[1] or me[0] == OWNER_ROLE:
        return bool(me[1])  # the owner itself owns what it created
    if not conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (OWNER_ROLE,)).fetchone()[0]:
        try:
            with conn.transaction():  # a savepoint: a refused grant leaves the migration's transaction usable
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(OWNER_ROLE), sql.Identifier(me[0])))
        except psycopg.errors.InsufficientPrivilege:
            log.warning("%s is not a member of %s and may not make itself one: the objects it created stay its own "
                        "(an administrator runs: GRANT %s TO \"%s\"; then migrate again)", me[0], OWNER_ROLE,
                        OWNER_ROLE, me[0])
            return False
        log.info("made %s a member of %s, to hand it the objects this migration created", me[0], OWNER_ROLE)
    # A new owner needs CREATE on the schema (ALTER ... OWNER TO checks it); here the schema is the database
    # owner's (the administrator's), not bizmetrics_owner's as on a database created for it.
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
        sql.Identifier(conn.execute("SELECT current_schema()").fetchone()[0]), sql.Identifier(OWNER_ROLE)))
    return True


def _legacy_names(conn: psycopg.Connection) -> set[str]:
    """The single-folder layout's applied migrations; its table is set aside (once) as schema_migrations_legacy."""
    has = {name for (name,) in conn.execute(
        """SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
             AND table_name IN ('schema_migrations', 'schema_migrations_legacy')""")}
    if "schema_migrations" in has:
        columns = {c for (c,) in conn.execute(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'schema_migrations'""")}
        if "component" not in columns:
            conn.execute("ALTER TABLE schema_migrations RENAME TO schema_migrations_legacy")
            conn.execute("ALTER INDEX schema_migrations_pkey RENAME TO schema_migrations_legacy_pkey")
            has.add("schema_migrations_legacy")
    if "schema_migrations_legacy" not in has:
        return set()
    return {name for (name,) in conn.execute("SELECT name FROM schema_migrations_legacy")}
