-- The database roles. Nobody the app runs as owns anything:
--   bizmetrics_owner    owns the schema's objects and runs the migrations (python -m plugins.migrate_cli, a deploy step)
--   bizmetrics_app      the Functions app and the API: DML on the app's tables only, no DDL, owns nothing
--   bizmetrics_reader   NOLOGIN, SELECT on the metric and audit tables (migration 0007)
--   bizmetrics_grafana  Grafana's login, a member of bizmetrics_reader, read-only sessions
-- Roles are cluster-wide: they are created here only when the migrating role may create roles (a superuser, or
-- CREATEROLE), without a password (set one as an administrator; the local cluster's come from
-- scripts/services.sh). Where the migrating role may not create them, an administrator must have made them first.
-- Privileges on the tables are granted after every migration run (shared/db/migrate.py: settle_privileges), so
-- tables a plugin adds later are covered too; the default privileges below cover what the owner creates by hand.
DO $$
DECLARE
    may_manage_roles boolean := (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user);
    missing text := (SELECT string_agg(r, ', ') FROM unnest(ARRAY['bizmetrics_owner', 'bizmetrics_app',
                         'bizmetrics_reader', 'bizmetrics_grafana']) AS r
                     WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r));
BEGIN
    IF missing IS NOT NULL AND NOT may_manage_roles THEN
        RAISE EXCEPTION 'database roles missing: %', missing
            USING HINT = 'Create them as an administrator (see shared/db/migrations/0028_database_roles.sql), '
                         'or run this migration once as a role with CREATEROLE.';
    END IF;
    IF NOT may_manage_roles THEN
        RAISE NOTICE 'roles exist; their settings (timeouts) are left to an administrator';
        RETURN;
    END IF;
    -- Roles are shared by every database of the cluster, and two databases may be migrated at once (test
    -- sessions): serialize the role changes cluster-wide (logins only read pg_authid, which this lock allows).
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_owner') THEN
        CREATE ROLE bizmetrics_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_app') THEN
        CREATE ROLE bizmetrics_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_reader') THEN
        CREATE ROLE bizmetrics_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_grafana') THEN
        CREATE ROLE bizmetrics_grafana LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE bizmetrics_reader;
    END IF;
    -- Statement timeouts, applied when each role logs in. The app's loads (COPY, upserts, metric refreshes)
    -- take minutes at most; readers answer dashboards and API calls, where 30 s already means a broken query.
    -- The owner has none: a migration may rewrite a large table, runs in one transaction watched by whoever
    -- deploys, and being cut off halfway only rolls it back to be run again. Its lock_timeout instead keeps
    -- a migration from queueing the app's queries behind it for long while a sync holds a table.
    ALTER ROLE bizmetrics_app SET statement_timeout = '15min';
    ALTER ROLE bizmetrics_reader SET statement_timeout = '30s';
    ALTER ROLE bizmetrics_grafana SET statement_timeout = '30s';
    ALTER ROLE bizmetrics_grafana SET default_transaction_read_only = on;
    ALTER ROLE bizmetrics_owner SET statement_timeout = 0;
    ALTER ROLE bizmetrics_owner SET lock_timeout = '1min';
END
$$;

-- Nobody but the schema's owner creates objects in it (PostgreSQL 15's default; explicit for older servers).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO bizmetrics_app;

DO $$
BEGIN
    IF pg_has_role(current_user, 'bizmetrics_owner', 'MEMBER') THEN
        ALTER DEFAULT PRIVILEGES FOR ROLE bizmetrics_owner IN SCHEMA public
            GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO bizmetrics_app;
        ALTER DEFAULT PRIVILEGES FOR ROLE bizmetrics_owner IN SCHEMA public
            GRANT USAGE ON SEQUENCES TO bizmetrics_app;
    END IF;
END
$$;
