-- legacy: 0007_metrics
-- Business time series: buckets per calendar and fiscal period, dirty-bucket tracking, a read-only role.
-- shared/metrics/README.md explains the design; this file only holds what PostgreSQL must know.

-- metric_points gains years, fiscal periods and one-dimension breakdowns; the old minimal rows are
-- dropped (metric_state is empty, so the next refresh rebuilds every metric from the raw tables).
DELETE FROM metric_points;
ALTER TABLE metric_points DROP CONSTRAINT metric_points_grain_check;
ALTER TABLE metric_points ADD CONSTRAINT metric_points_grain_check
    CHECK (grain IN ('day', 'week', 'month', 'quarter', 'year', 'fiscal_quarter', 'fiscal_year'));
ALTER TABLE metric_points DROP CONSTRAINT metric_points_pkey;
-- '' / '' is the metric's total; otherwise the value of one member of one dimension (e.g. currency = EUR).
ALTER TABLE metric_points ADD COLUMN dimension text NOT NULL DEFAULT '';
ALTER TABLE metric_points ADD COLUMN member text NOT NULL DEFAULT '';
-- The first day after the bucket, so a panel can keep buckets that overlap its range.
ALTER TABLE metric_points ADD COLUMN bucket_end date;
-- The sum behind `value` (an average needs it to roll days up into months).
ALTER TABLE metric_points ADD COLUMN total numeric;
ALTER TABLE metric_points ADD PRIMARY KEY (connection_id, metric, grain, dimension, member, bucket);
-- Rolling days up into coarser buckets reads day rows by date across every dimension.
CREATE INDEX metric_points_by_bucket ON metric_points (connection_id, metric, grain, bucket);

-- What a load changed, as (table, business date) marks written by the triggers below in the load's
-- transaction; refresh_dirty consumes them in the same transaction. No key on purpose: two loads of one
-- connection may mark the same day concurrently, and a unique index would make the second one wait.
CREATE TABLE metric_dirty (
    connection_id text NOT NULL,
    source        text NOT NULL,
    day           date NOT NULL
);
CREATE INDEX metric_dirty_connection ON metric_dirty (connection_id);

-- Which definition and calendar each metric of a connection was last built with: a different one
-- (a changed catalog entry, a new fiscal year start) makes refresh_dirty rebuild that metric whole.
CREATE TABLE metric_state (
    connection_id text NOT NULL,
    metric        text NOT NULL,
    signature     text NOT NULL,
    built_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, metric)
);

-- The bucket (first day) of a business date; fiscal periods start on the 1st of fiscal_start (1-12).
-- Truncation works on timestamp (not timestamptz, which date_trunc(date) would pick): immutable, so the
-- planner inlines it, and independent of the session's time zone.
CREATE FUNCTION metric_bucket(grain text, d date, fiscal_start integer DEFAULT 1) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE grain
        WHEN 'day' THEN d
        WHEN 'week' THEN date_trunc('week', d::timestamp)::date
        WHEN 'month' THEN date_trunc('month', d::timestamp)::date
        WHEN 'quarter' THEN date_trunc('quarter', d::timestamp)::date
        WHEN 'year' THEN date_trunc('year', d::timestamp)::date
        WHEN 'fiscal_quarter' THEN (date_trunc('quarter', d - make_interval(months => fiscal_start - 1))
                                    + make_interval(months => fiscal_start - 1))::date
        WHEN 'fiscal_year' THEN (date_trunc('year', d - make_interval(months => fiscal_start - 1))
                                 + make_interval(months => fiscal_start - 1))::date
    END
$$;

-- The first day after a bucket.
CREATE FUNCTION metric_bucket_end(grain text, bucket date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE grain
        WHEN 'day' THEN bucket + 1
        WHEN 'week' THEN bucket + 7
        WHEN 'month' THEN (bucket + interval '1 month')::date
        WHEN 'quarter' THEN (bucket + interval '3 months')::date
        WHEN 'fiscal_quarter' THEN (bucket + interval '3 months')::date
        WHEN 'year' THEN (bucket + interval '1 year')::date
        WHEN 'fiscal_year' THEN (bucket + interval '1 year')::date
    END
$$;

-- Statement-level trigger (transition tables, so a 5,000-row upsert batch costs one statement, not 5,000).
-- TG_ARGV[0]: business-date expressions over the row alias r, separated by '|'; a trailing "@ts" marks a
--   timestamptz whose local date depends on the company zone: the UTC day and both neighbours are marked.
-- TG_ARGV[1]: the expressions metrics read; an UPDATE marks old and new dates only when one of them changed,
--   so a touch that metrics ignore (an invoice's Balance after a payment) restates nothing.
CREATE FUNCTION metric_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    dates text[] := string_to_array(TG_ARGV[0], '|');
    watched text := TG_ARGV[1];
    expr text;
    days text := '';
    rows_sql text;
BEGIN
    FOREACH expr IN ARRAY dates LOOP
        IF days <> '' THEN days := days || ', '; END IF;
        IF expr LIKE '%@ts' THEN
            expr := format('((%s) AT TIME ZONE ''UTC'')::date', left(expr, -3));
            days := days || format('(%1$s - 1), (%1$s), (%1$s + 1)', expr);
        ELSE
            days := days || format('((%s)::date)', expr);
        END IF;
    END LOOP;
    IF TG_OP = 'INSERT' THEN
        rows_sql := 'SELECT r.* FROM new_rows r';
    ELSIF TG_OP = 'DELETE' THEN
        rows_sql := 'SELECT r.* FROM old_rows r';
    ELSE
        -- Both images of every row whose watched expressions changed.
        rows_sql := format(
            'SELECT o.* FROM old_rows o JOIN new_rows n USING (connection_id, id) WHERE (%1$s) IS DISTINCT FROM (%2$s)
             UNION ALL
             SELECT n.* FROM old_rows o JOIN new_rows n USING (connection_id, id) WHERE (%1$s) IS DISTINCT FROM (%2$s)',
            regexp_replace(watched, '\mr\.', 'o.', 'g'), regexp_replace(watched, '\mr\.', 'n.', 'g'));
    END IF;
    EXECUTE format(
        'INSERT INTO metric_dirty (connection_id, source, day)
         SELECT DISTINCT r.connection_id, %L, v.day FROM (%s) r, LATERAL (VALUES %s) v(day)
         WHERE v.day IS NOT NULL', TG_TABLE_NAME, rows_sql, days);
    RETURN NULL;
END
$$;

-- Lines are rewritten with their transaction: a changed line marks its parent's business date under the
-- parent's table (TG_ARGV: txn_type, parent table, parent date column). Only the line's own parent is
-- joined, which the same transaction writes: marks never depend on another load's uncommitted rows.
CREATE FUNCTION metric_mark_dirty_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text := CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END;
BEGIN
    EXECUTE format(
        'INSERT INTO metric_dirty (connection_id, source, day)
         SELECT DISTINCT p.connection_id, %2$L, p.%3$I FROM (SELECT DISTINCT connection_id, txn_id FROM %4$I
                                                               WHERE txn_type = %1$L) l
         JOIN %2$I p ON p.connection_id = l.connection_id AND p.id = l.txn_id
         WHERE p.%3$I IS NOT NULL', TG_ARGV[0], TG_ARGV[1], TG_ARGV[2], changed);
    RETURN NULL;
END
$$;

-- Installs (or replaces) the dirty-marking triggers of a raw table. A new plugin's migration calls it
-- for each table its catalog entries read (tests/metrics/test_catalog.py prints the exact call).
CREATE FUNCTION metric_watch(tbl regclass, dates text[], watched text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    op text;
BEGIN
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', 'metric_dirty_' || op, tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT
                        EXECUTE FUNCTION metric_mark_dirty(%L, %L)',
                       'metric_dirty_' || op, upper(op), tbl,
                       CASE op WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                               WHEN 'delete' THEN 'OLD TABLE AS old_rows'
                               ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END,
                       array_to_string(dates, '|'), array_to_string(watched, ', '));
    END LOOP;
END
$$;

-- Token expiry for the sync-health dashboard without exposing the sealed tokens themselves.
CREATE VIEW sync_token_expiry AS
SELECT connection_id, access_expires_at, refresh_expires_at, consented_at, last_refreshed_at FROM oauth_tokens;

-- SELECT-only role for Grafana and the metric data layer. NOLOGIN: deployments create a login role that
-- is a member of it (grafana/provisioning/postgres-init.sql), tests use SET ROLE.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bizmetrics_reader') THEN
        CREATE ROLE bizmetrics_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO bizmetrics_reader;
GRANT SELECT ON metric_points, metric_state, stream_state, sync_runs, sync_run_streams, api_usage, sync_token_expiry
    TO bizmetrics_reader;
-- Connections without their settings.
GRANT SELECT (connection_id, plugin, display_name, enabled, status) ON connections TO bizmetrics_reader;
