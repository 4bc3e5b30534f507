-- Grafana's login role, a member of the SELECT-only role bizmetrics_reader that migration 0007 grants.
-- docker-compose runs this once when it creates the database (docker-entrypoint-initdb.d); elsewhere run it
-- by hand as an admin, with a real password (the compose default is for a loopback-only local stack).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_reader') THEN
        CREATE ROLE bizmetrics_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_grafana') THEN
        CREATE ROLE bizmetrics_grafana LOGIN PASSWORD 'grafana-local' IN ROLE bizmetrics_reader;
    END IF;
END
$$;
-- Sessions of Grafana's role cannot write even where a grant would allow it.
ALTER ROLE bizmetrics_grafana SET default_transaction_read_only = on;
